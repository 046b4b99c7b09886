-- A proactive message (automation's `send`, the API's /automation/proactive) starts no
-- conversation in history: it is stored under its own `prc_…` id, and the customer's answer
-- opens a conversation of its own. The agent who takes that conversation reads the proactive
-- messages sent to the customer's addresses with it (gateway `conversation_view`), found by
-- recipient; only proactive messages are in this index, so the sink's other rows pay nothing.
CREATE INDEX messages_proactive_by_recipient ON messages (channel, recipient, created_at)
    WHERE conversation_id LIKE 'prc\_%';
