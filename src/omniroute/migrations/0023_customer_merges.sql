-- Which customer each customer id is part of (omniroute.customers.v1, since 2026-12-07): the
-- worker announces every id an identity link merged into another customer, and every id an
-- unlink made a customer of its own again. Export and erase of a customer cover the ids
-- merged into it (history.privacy.known_as) with every conversation they had before the
-- merge; until this table, only the one conversation the merge handed over was found.
-- Merges before this migration were never announced, and stay found only through the
-- conversations they handed over. `changed_at` keeps the latest announcement per id.
CREATE TABLE customer_merges (
    customer_id  text PRIMARY KEY,
    workspace    text NOT NULL,
    merged_into  text,
    changed_at   timestamptz NOT NULL,
    event_id     text NOT NULL
);
CREATE INDEX customer_merges_by_survivor ON customer_merges (merged_into)
    WHERE merged_into IS NOT NULL;
