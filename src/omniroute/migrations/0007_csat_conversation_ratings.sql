-- One CSAT rating per conversation: a survey answer is a `rated` event, and a comment sent
-- after it is a second `rated` event (same score, with the comment), so csat_ratings can
-- hold two rows for one conversation. Reports count this view: the latest row wins.
CREATE VIEW csat_conversation_ratings AS
SELECT DISTINCT ON (conversation_id)
       conversation_id, workspace, customer_id, score, comment, rated_at, event_id
FROM csat_ratings
ORDER BY conversation_id, rated_at DESC, event_id DESC;
