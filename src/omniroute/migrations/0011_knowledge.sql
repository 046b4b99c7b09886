-- Knowledge base (articles per language, versioned, n-gram searchable) and the
-- self-service funnel events the sink writes from omniroute.selfservice.v1.

CREATE TABLE kb_categories (
    workspace   text NOT NULL,
    category_id text NOT NULL,
    names       jsonb NOT NULL DEFAULT '{}',
    position    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, category_id)
);

-- The current version of every language variant. Search tokens come from
-- omniroute.knowledge.tokens (Hangul bigrams, stemmed Latin words): the
-- tsvector holds them verbatim (title weight A, keywords B, body D).
CREATE TABLE kb_articles (
    workspace      text NOT NULL,
    article_id     text NOT NULL,
    language       text NOT NULL,
    category_id    text,
    title          text NOT NULL,
    body           text NOT NULL,
    keywords       text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'published',
    version        integer NOT NULL,
    updated_at     timestamptz NOT NULL,
    updated_by     text,
    title_tokens   text[] NOT NULL,
    keyword_tokens text[] NOT NULL,
    body_tokens    text[] NOT NULL,
    search_vector  tsvector NOT NULL,
    PRIMARY KEY (workspace, article_id, language)
);
CREATE INDEX kb_articles_search ON kb_articles USING gin (search_vector);

-- Every version ever saved (the current one included).
CREATE TABLE kb_article_versions (
    workspace   text NOT NULL,
    article_id  text NOT NULL,
    language    text NOT NULL,
    version     integer NOT NULL,
    category_id text,
    title       text NOT NULL,
    body        text NOT NULL,
    keywords    text[] NOT NULL DEFAULT '{}',
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text,
    PRIMARY KEY (workspace, article_id, language, version)
);

-- omniroute.selfservice.v1 (proactive sent/opened, self-serve tried, article
-- viewed) and the article a bot answer carried.
CREATE TABLE selfservice_events (
    event_id        text PRIMARY KEY,
    workspace       text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    kind            text NOT NULL,
    visitor_id      text,
    customer_id     text,
    conversation_id text,
    channel         text,
    article_id      text,
    language        text,
    query           text,
    results         integer
);
CREATE INDEX selfservice_events_by_kind ON selfservice_events (workspace, kind, occurred_at);
