-- Administration: three roles, expiring and individually revocable tokens, dead letters
-- kept with their original bytes, and a ledger of replays (a dead letter is replayed once).

-- Roles: agent (own conversations), supervisor (every conversation and agent status),
-- admin (supervisor + live configuration and tokens).
ALTER TABLE agent_tokens DROP CONSTRAINT IF EXISTS agent_tokens_role_check;
ALTER TABLE agent_tokens ADD CONSTRAINT agent_tokens_role_check
    CHECK (role IN ('agent', 'supervisor', 'admin'));
ALTER TABLE agent_tokens ADD COLUMN expires_at timestamptz;
ALTER TABLE agent_tokens ADD COLUMN issued_by text;
ALTER TABLE agent_tokens ADD COLUMN revoked_by text;
ALTER TABLE agent_tokens ADD COLUMN label text;
CREATE INDEX agent_tokens_by_agent ON agent_tokens (agent_id);

-- The original record of a dead letter (base64, exactly as it was on the source topic),
-- so it can be replayed from PostgreSQL without reading the dead-letter topic.
ALTER TABLE dead_letters ADD COLUMN source_key_b64 text;
ALTER TABLE dead_letters ADD COLUMN original_b64 text;
CREATE INDEX dead_letters_occurred ON dead_letters (occurred_at DESC);

-- One row per replayed dead letter: written before the record is re-published (the
-- primary key refuses a second replay), completed with where it went once Kafka has it.
CREATE TABLE dead_letter_replays (
    event_id         text PRIMARY KEY,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    actor            text NOT NULL,
    target_topic     text NOT NULL,
    target_partition integer,
    target_offset    bigint,
    replayed_at      timestamptz
);

CREATE INDEX audit_log_by_action ON audit_log (action, at DESC);

-- Why a conversation event happened (the router's reason for parking, transferring,
-- unassigning): the supervisor board shows parked conversations with it.
ALTER TABLE conversation_events ADD COLUMN reason text;
CREATE INDEX conversation_events_by_kind ON conversation_events (kind, occurred_at DESC);
