-- A conversation's channel is the channel its customer last wrote on (where a reply goes by
-- default), whatever order the events that name a channel arrive in. Before, any event with a
-- channel set it: the router's `assigned` (the channel the work was first routed on) could
-- relabel a conversation the customer had moved from WhatsApp to SMS back to WhatsApp, or not,
-- depending on whether the agent accepted before or after the SMS. The sink's patches now carry
-- the other events' channel apart, used only while a conversation has none: a new type, not an
-- ALTER TYPE of conversation_patch, which a sink of the previous version still running during
-- a rolling upgrade keeps using (its connection caches the type's columns; altered, every batch
-- it wrote would fail with "wrong number of columns" and its events be dead-lettered).
CREATE TYPE conversation_patch_v2 AS (
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
    agent_set       boolean,
    channel_hint    text
);

-- Stored conversations take the channel of their latest inbound message. The analytics trigger
-- marks the ones that change, so reports by channel count them again at the next refresh.
UPDATE conversations c SET channel = latest.channel
FROM (SELECT DISTINCT ON (conversation_id) conversation_id, channel
      FROM messages
      WHERE direction = 'inbound' AND conversation_id IS NOT NULL
      ORDER BY conversation_id, created_at DESC, message_id DESC) AS latest
WHERE c.conversation_id = latest.conversation_id AND c.channel IS DISTINCT FROM latest.channel;
