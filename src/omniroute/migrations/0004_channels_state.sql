-- State the email and web chat connectors share across replicas.

-- Web chat: the conversation an agent reply belongs to (delivery statuses and typing
-- indicators are keyed by it; visitors never see it).
ALTER TABLE webchat_messages ADD COLUMN conversation_id text;
CREATE INDEX webchat_messages_conversation ON webchat_messages (conversation_id)
    WHERE conversation_id IS NOT NULL;

-- Mailgun signature tokens already used (replay protection across ingress replicas).
-- A row is written only after Kafka acknowledged the webhook's events; rows older than
-- the timestamp window are deleted (a request that old is refused as stale anyway).
CREATE TABLE mailgun_tokens (
    token   text PRIMARY KEY,
    used_at timestamptz NOT NULL
);
CREATE INDEX mailgun_tokens_used_at ON mailgun_tokens (used_at);

-- Outbound email: the Message-ID we sent for each reply, so a bounce (which quotes
-- that Message-ID) is attributed to its conversation and outbound event.
CREATE TABLE email_sent_messages (
    provider_message_id text PRIMARY KEY,
    workspace           text NOT NULL,
    conversation_id     text NOT NULL,
    outbound_event_id   text NOT NULL,
    recipient           text NOT NULL,
    sent_at             timestamptz NOT NULL
);
