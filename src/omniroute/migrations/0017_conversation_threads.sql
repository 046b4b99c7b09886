-- A conversation and every conversation merged into it (customers merged: identity folds
-- the later of two open conversations into the other, docs/identity-and-conversations.md).
-- History is not rewritten: the folded conversation's messages keep its id, so whoever
-- reads a conversation (the agent gateway) reads them through this.
CREATE INDEX conversations_by_merged_into ON conversations (merged_into)
    WHERE merged_into IS NOT NULL;

CREATE FUNCTION conversation_thread(conversation text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE thread(id) AS (
        SELECT conversation
        UNION
        SELECT c.conversation_id FROM conversations c JOIN thread t ON c.merged_into = t.id)
    SELECT array_agg(id) FROM thread
$$;
