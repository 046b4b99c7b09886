-- The history sink's batches (docs/history.md, Benchmark).
--
-- analytics_mark_changed_conversations (0008) joins a statement's OLD and NEW transition
-- tables on conversation_id. Transition tables have no statistics, so the planner chose a
-- nested loop: a sink batch updating 1,000 conversations spent ~100 ms in this trigger
-- (1,000 x 1,000 comparisons), two thirds of the batch's conversation merge. A hash join
-- does the same in ~2 ms; what the trigger marks is unchanged.
ALTER FUNCTION analytics_mark_changed_conversations() SET enable_nestloop = off;
