-- Analytics no longer counts automatic messages (acknowledgement, out-of-office, survey:
-- author kind 'bot' without an author id) as the answer bot's: they put every conversation
-- on the bot's funnel path and into the bot resolution rate's denominator. Conversations
-- computed before are marked for the next refresh, which computes them again.
INSERT INTO analytics_dirty (subject, id, at)
SELECT 'conversation', conversation_id, now()
FROM messages
WHERE direction = 'outbound' AND conversation_id IS NOT NULL
  AND content -> 'author' ->> 'kind' = 'bot' AND author_id IS NULL
GROUP BY conversation_id;
