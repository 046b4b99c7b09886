-- Agents' replies sent with a client_id (the gateway's idempotency key): one row per key,
-- claimed before the reply is published and marked once Kafka has it, so a retried reply
-- reaches the customer once (omniroute.gateway.idempotency, docs/gateway.md).
CREATE TABLE gateway_reply_keys (
    event_id     text PRIMARY KEY,
    digest       text NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX gateway_reply_keys_claimed ON gateway_reply_keys (claimed_at);
