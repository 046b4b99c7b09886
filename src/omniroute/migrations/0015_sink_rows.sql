-- The history sink's conversation merge receives its patches as one array of rows of this
-- type instead of fifteen typed arrays (docs/history.md, Benchmark): asyncpg inspects every
-- element of an array in Python, so rows cost far less client CPU than columns.
-- Field order: omniroute.history.conversation_merge.
CREATE TYPE conversation_patch AS (
    conversation_id text,
    workspace       text,
    customer_id     text,
    status          text,
    channel         text,
    pool            text,
    agent_id        text,
    opened_at       timestamptz,
    resolved_at     timestamptz,
    last_message_at timestamptz,
    merged_into     text,
    tags            text,
    triage          text,
    updated_at      timestamptz,
    agent_set       boolean
);
