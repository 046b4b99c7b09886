-- Support analytics, computed incrementally from history (docs/analytics.md).
--
-- Triggers on the history tables append what changed to analytics_dirty (one row per
-- conversation or agent and statement, set-based); `omniroute analytics refresh` takes
-- everything past its watermark, recomputes those conversations' and agents' metric
-- samples, and re-aggregates only the 15-minute intervals whose samples changed.

CREATE TABLE analytics_dirty (
    seq     bigserial PRIMARY KEY,
    subject text NOT NULL CHECK (subject IN ('conversation', 'agent')),
    id      text NOT NULL,
    at      timestamptz NOT NULL
);

CREATE TABLE analytics_watermark (
    name        text PRIMARY KEY,
    seq         bigint NOT NULL DEFAULT 0,
    computed_at timestamptz
);
INSERT INTO analytics_watermark (name) VALUES ('samples');

-- One observation of one metric (a first response time, a 0/1 FCR outcome, an agent's
-- online seconds in an interval). subject: a conversation id or 'agent:<id>'.
CREATE TABLE analytics_samples (
    subject        text NOT NULL,
    metric         text NOT NULL,
    at             timestamptz NOT NULL,
    interval_start timestamptz NOT NULL,
    workspace      text NOT NULL DEFAULT '',
    pool           text NOT NULL DEFAULT '',
    channel        text NOT NULL DEFAULT '',
    agent          text NOT NULL DEFAULT '',
    language       text NOT NULL DEFAULT '',
    intent         text NOT NULL DEFAULT '',
    detail         text NOT NULL DEFAULT '',
    value          double precision NOT NULL
);
CREATE INDEX analytics_samples_subject ON analytics_samples (subject);
CREATE INDEX analytics_samples_interval ON analytics_samples (interval_start);

-- Per 15-minute interval and workspace, pool, channel, agent, language, intent: count and
-- sum of every metric, plus the values of durations (exact medians and p90 on any roll-up).
CREATE TABLE analytics_intervals (
    interval_start timestamptz NOT NULL,
    workspace      text NOT NULL,
    pool           text NOT NULL,
    channel        text NOT NULL,
    agent          text NOT NULL,
    language       text NOT NULL,
    intent         text NOT NULL,
    metric         text NOT NULL,
    detail         text NOT NULL,
    count          bigint NOT NULL,
    sum            double precision NOT NULL,
    vals           double precision[],
    PRIMARY KEY (interval_start, workspace, pool, channel, agent, language, intent, metric, detail)
);
CREATE INDEX analytics_intervals_metric ON analytics_intervals (metric, interval_start);

-- The refresh reads a batch of conversations' assignments and ratings at once.
CREATE INDEX assignments_by_conversation ON assignments (conversation_id);
CREATE INDEX csat_ratings_by_conversation ON csat_ratings (conversation_id);

CREATE FUNCTION analytics_mark_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty (subject, id, at)
    SELECT 'conversation', conversation_id, now() FROM changed
    WHERE conversation_id IS NOT NULL GROUP BY conversation_id;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_mark_agents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty (subject, id, at)
    SELECT 'agent', agent_id, min(occurred_at) FROM changed GROUP BY agent_id;
    RETURN NULL;
END $$;

CREATE TRIGGER analytics_conversation_events AFTER INSERT ON conversation_events
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_conversations();
CREATE TRIGGER analytics_conversations_insert AFTER INSERT ON conversations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_conversations();
-- Only changes analytics reads: erasing a customer rewrites customer_id and must not make
-- the (now message-less) conversation recompute and lose its figures.
CREATE FUNCTION analytics_mark_changed_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty (subject, id, at)
    SELECT 'conversation', n.conversation_id, now()
    FROM changed n JOIN before o USING (conversation_id)
    WHERE (n.workspace, n.status, n.channel, n.pool, n.agent_id, n.opened_at, n.resolved_at,
           n.triage) IS DISTINCT FROM
          (o.workspace, o.status, o.channel, o.pool, o.agent_id, o.opened_at, o.resolved_at,
           o.triage);
    RETURN NULL;
END $$;

CREATE TRIGGER analytics_conversations_update AFTER UPDATE ON conversations
    REFERENCING OLD TABLE AS before NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_changed_conversations();
CREATE TRIGGER analytics_messages_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_conversations();
CREATE TRIGGER analytics_messages_update AFTER UPDATE ON messages
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_conversations();
CREATE TRIGGER analytics_ratings AFTER INSERT ON csat_ratings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_conversations();
CREATE TRIGGER analytics_assignments_conversations AFTER INSERT ON assignments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_conversations();
CREATE TRIGGER analytics_assignments_agents AFTER INSERT ON assignments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_agents();
CREATE TRIGGER analytics_presence AFTER INSERT ON agent_presence
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_mark_agents();
