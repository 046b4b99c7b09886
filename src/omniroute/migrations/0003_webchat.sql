-- Web chat transcripts: what a visitor's widget restores on reload.
-- Written by every ingress replica (visitor messages once Kafka acknowledged them, agent
-- replies as they are pushed), idempotent on (workspace, event_id). Keyed by the visitor's
-- channel address (a hash of the browser's token, or the verified identifier).
CREATE TABLE webchat_messages (
    workspace   text NOT NULL,
    event_id    text NOT NULL,
    address     text NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('visitor', 'agent')),
    client_message_id text,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (workspace, event_id)
);
CREATE INDEX webchat_messages_address ON webchat_messages (workspace, address, created_at);
