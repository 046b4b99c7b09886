-- Analytics no longer counts a conversation the answer bot closed because its only message
-- thanked ("the customer only said thanks") as a bot resolution. Conversations computed
-- before are marked for the next refresh, which computes them again with the new rule.
INSERT INTO analytics_dirty (subject, id, at)
SELECT 'conversation', conversation_id, now()
FROM conversation_events
WHERE kind = 'bot_resolved' AND reason = 'the customer only said thanks'
GROUP BY conversation_id;
