-- History: what the sink projects from every public topic, and what the gateway reads.
-- Writes come only from the sink (events) and admin commands (tokens, canned responses,
-- retention policies, erase). `messages` is range-partitioned by day on created_at so
-- retention drops whole partitions; the sink and the retention job create partitions ahead.

-- Idempotency ledger: one row per (topic, event_id) the sink has applied.
CREATE TABLE processed_events (
    topic        text NOT NULL,
    event_id     text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, event_id)
);
CREATE INDEX processed_events_occurred ON processed_events (occurred_at);

CREATE TABLE customers (
    customer_id   text PRIMARY KEY,
    workspace     text NOT NULL,
    display_name  text,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    merged_into   text,
    erased_at     timestamptz
);

CREATE TABLE customer_addresses (
    customer_id   text NOT NULL REFERENCES customers (customer_id) ON DELETE CASCADE,
    channel       text NOT NULL,
    address       text NOT NULL,
    display_name  text,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (customer_id, channel, address)
);
CREATE INDEX customer_addresses_by_address ON customer_addresses (channel, address);

CREATE TABLE identity_links (
    event_id      text PRIMARY KEY,
    workspace     text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    action        text NOT NULL,
    customer_hint text NOT NULL,
    addresses     jsonb NOT NULL,
    source        text NOT NULL,
    evidence      text NOT NULL,
    reason        text
);

CREATE TABLE conversations (
    conversation_id text PRIMARY KEY,
    workspace       text NOT NULL,
    customer_id     text NOT NULL,
    status          text NOT NULL DEFAULT 'open',
    channel         text,
    pool            text,
    agent_id        text,
    opened_at       timestamptz NOT NULL,
    resolved_at     timestamptz,
    last_message_at timestamptz,
    merged_into     text,
    tags            text[] NOT NULL DEFAULT '{}',
    triage          jsonb NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL
);
CREATE INDEX conversations_by_customer ON conversations (customer_id, opened_at DESC);

-- Anonymous log of conversation events (no text): kept after erase for metrics.
CREATE TABLE conversation_events (
    event_id        text PRIMARY KEY,
    workspace       text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    conversation_id text NOT NULL,
    customer_id     text NOT NULL,
    kind            text NOT NULL,
    channel         text,
    agent_id        text,
    pool            text
);
CREATE INDEX conversation_events_by_conversation ON conversation_events (conversation_id);

CREATE TABLE conversation_notes (
    event_id        text PRIMARY KEY,
    conversation_id text NOT NULL,
    agent_id        text,
    note            text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX conversation_notes_by_conversation ON conversation_notes (conversation_id);

CREATE TABLE csat_ratings (
    event_id        text PRIMARY KEY,
    workspace       text NOT NULL,
    conversation_id text NOT NULL,
    customer_id     text NOT NULL,
    score           smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment         text,
    rated_at        timestamptz NOT NULL
);

CREATE TABLE messages (
    message_id          text NOT NULL,
    created_at          timestamptz NOT NULL,
    workspace           text NOT NULL,
    conversation_id     text,
    customer_id         text,
    direction           text NOT NULL,
    channel             text NOT NULL,
    provider            text,
    channel_account     text,
    sender              text,
    sender_name         text,
    recipient           text,
    text                text,
    author_id           text,
    provider_message_id text,
    content             jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (message_id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at);
CREATE INDEX messages_by_customer ON messages (customer_id);
CREATE INDEX messages_by_provider_id ON messages (provider_message_id);

CREATE TABLE attachments (
    message_id   text NOT NULL,
    position     smallint NOT NULL,
    created_at   timestamptz NOT NULL,
    kind         text NOT NULL,
    url          text,
    media_id     text,
    content_type text,
    filename     text,
    size_bytes   bigint,
    caption      text,
    PRIMARY KEY (message_id, position)
);

-- Every provider status as reported; a message's state is the highest rank seen,
-- so statuses apply in any order.
CREATE TABLE delivery_statuses (
    event_id            text PRIMARY KEY,
    workspace           text NOT NULL,
    conversation_id     text,
    outbound_event_id   text,
    channel             text NOT NULL,
    provider            text NOT NULL,
    provider_message_id text,
    state               text NOT NULL,
    rank                smallint NOT NULL,
    status_at           timestamptz NOT NULL,
    error_code          text,
    error_message       text
);
CREATE INDEX delivery_by_outbound ON delivery_statuses (outbound_event_id);
CREATE INDEX delivery_by_provider_id ON delivery_statuses (provider_message_id);

CREATE TABLE assignments (
    event_id        text PRIMARY KEY,
    workspace       text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    agent_id        text NOT NULL,
    kind            text NOT NULL,
    conversation_id text,
    work_id         text,
    offer_id        text,
    pool            text,
    channel         text,
    priority        integer,
    expires_at      timestamptz,
    reason          text,
    decision        jsonb
);
CREATE INDEX assignments_by_agent ON assignments (agent_id, occurred_at);
CREATE INDEX assignments_by_offer ON assignments (offer_id);

-- Who holds each conversation now (the gateway authorizes on it).
CREATE TABLE conversation_assignments (
    conversation_id text PRIMARY KEY,
    agent_id        text,
    state           text NOT NULL,
    offer_id        text,
    changed_at      timestamptz NOT NULL
);
CREATE INDEX conversation_assignments_by_agent ON conversation_assignments (agent_id);

CREATE TABLE agent_events (
    event_id        text PRIMARY KEY,
    workspace       text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    agent_id        text NOT NULL,
    kind            text NOT NULL,
    presence        text,
    conversation_id text,
    offer_id        text,
    reason          text
);
CREATE INDEX agent_events_by_agent ON agent_events (agent_id, occurred_at);

CREATE TABLE agent_presence (
    event_id    text PRIMARY KEY,
    agent_id    text NOT NULL,
    presence    text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX agent_presence_by_agent ON agent_presence (agent_id, occurred_at);

CREATE TABLE dead_letters (
    event_id         text PRIMARY KEY,
    occurred_at      timestamptz NOT NULL,
    processor        text NOT NULL,
    source_topic     text NOT NULL,
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    error_type       text NOT NULL,
    error            text NOT NULL
);

CREATE TABLE retention_policies (
    workspace text NOT NULL,
    channel   text NOT NULL DEFAULT '*',
    days      integer NOT NULL CHECK (days >= 1),
    PRIMARY KEY (workspace, channel)
);

CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL,
    subject  text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE agent_tokens (
    token_hash text PRIMARY KEY,
    agent_id   text NOT NULL,
    role       text NOT NULL CHECK (role IN ('agent', 'supervisor')),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE canned_responses (
    workspace text NOT NULL,
    shortcut  text NOT NULL,
    text      text NOT NULL,
    PRIMARY KEY (workspace, shortcut)
);
