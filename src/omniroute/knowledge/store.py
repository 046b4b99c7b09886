"""The knowledge base in PostgreSQL: versioned articles, categories and n-gram search.

Writes keep the current version of each language variant in ``kb_articles``
and every version in ``kb_article_versions``; saving unchanged content is a
no-op (the version stays). Search finds candidates through the GIN-indexed
tsvector of :mod:`.tokens` tokens, then :mod:`.ranking` scores them with
document frequencies read in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, TypeAlias

import asyncpg

from omniroute.contract import utcnow
from omniroute.knowledge.articles import ArticleDraft, ArticleStatus, Category, summary
from omniroute.knowledge.ranking import Candidate, rank
from omniroute.knowledge.tokens import NEGATED, tokens, unique_tokens

Db: TypeAlias = "asyncpg.Pool | asyncpg.Connection"
CANDIDATES = 50
_LIVE = "workspace = $1 AND status = 'published' AND ($3::text IS NULL OR language = $3)"


@dataclass(frozen=True)
class Hit:
    """One search result."""

    article_id: str
    language: str
    title: str
    category: str | None
    score: float
    version: int
    snippet: str

    def as_json(self) -> dict[str, Any]:
        """The result as the HTTP routes answer it."""
        return asdict(self)


def _tsquery(words: list[str]) -> str:
    """An OR query of lexemes, quoted so PostgreSQL takes them verbatim."""
    return " | ".join("'" + w.replace("'", "''").replace("\\", "\\\\") + "'" for w in words)


def _content(draft: ArticleDraft) -> tuple[Any, ...]:
    return (draft.category, draft.title, draft.body, list(draft.keywords), draft.status.value)


_VECTOR = ("setweight(array_to_tsvector(${title}), 'A') || "
           "setweight(array_to_tsvector(${keywords}), 'B') || "
           "setweight(array_to_tsvector(${body}), 'D')")
"""The article's search vector from its title, keyword and body tokens (parameter numbers)."""


async def save_article(db: Db, workspace: str, draft: ArticleDraft,
                       author: str | None = None) -> tuple[int, bool]:
    """Store ``draft`` as the article's next version; ``(version, changed)``.

    Unchanged content keeps the current version (imports are idempotent).
    """
    current = await db.fetchrow(
        "SELECT category_id, title, body, keywords, status, version, title_tokens, "
        "keyword_tokens, body_tokens FROM kb_articles "
        "WHERE workspace = $1 AND article_id = $2 AND language = $3",
        workspace, draft.article_id, draft.language)
    title, keys = unique_tokens(draft.title), unique_tokens(", ".join(draft.keywords))
    body = list(dict.fromkeys(tokens(draft.body)))
    if current is not None and tuple(current)[:5] == _content(draft):
        if (current["title_tokens"], current["keyword_tokens"], current["body_tokens"]) != (
                title, keys, body):  # stored by an older tokenizer: searched as it is now
            await db.execute(
                f"""UPDATE kb_articles SET title_tokens = $4, keyword_tokens = $5,
                      body_tokens = $6,
                      search_vector = {_VECTOR.format(title=4, keywords=5, body=6)}
                    WHERE workspace = $1 AND article_id = $2 AND language = $3""",
                workspace, draft.article_id, draft.language, title, keys, body)
        return int(current["version"]), False
    version = 1 if current is None else int(current["version"]) + 1
    now = utcnow()
    await db.execute(
        f"""INSERT INTO kb_articles (workspace, article_id, language, category_id, title, body,
               keywords, status, version, updated_at, updated_by, title_tokens, keyword_tokens,
               body_tokens, search_vector)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                   {_VECTOR.format(title=12, keywords=13, body=14)})
           ON CONFLICT (workspace, article_id, language) DO UPDATE SET
               category_id = EXCLUDED.category_id, title = EXCLUDED.title, body = EXCLUDED.body,
               keywords = EXCLUDED.keywords, status = EXCLUDED.status, version = EXCLUDED.version,
               updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by,
               title_tokens = EXCLUDED.title_tokens, keyword_tokens = EXCLUDED.keyword_tokens,
               body_tokens = EXCLUDED.body_tokens, search_vector = EXCLUDED.search_vector""",
        workspace, draft.article_id, draft.language, *_content(draft), version, now, author,
        title, keys, body)
    await db.execute(
        """INSERT INTO kb_article_versions (workspace, article_id, language, version, category_id,
               title, body, keywords, status, created_at, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT DO NOTHING""",
        workspace, draft.article_id, draft.language, version, *_content(draft), now, author)
    return version, True


async def save_category(db: Db, workspace: str, category: Category) -> None:
    """Create or replace a category."""
    await db.execute(
        """INSERT INTO kb_categories (workspace, category_id, names, position)
           VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT (workspace, category_id)
           DO UPDATE SET names = EXCLUDED.names, position = EXCLUDED.position""",
        workspace, category.category_id, json.dumps(category.names), category.position)


async def categories(db: Db, workspace: str) -> list[Category]:
    """Every category of the workspace, in position order."""
    rows = await db.fetch("SELECT category_id, names, position FROM kb_categories "
                          "WHERE workspace = $1 ORDER BY position, category_id", workspace)
    return [Category(category_id=r["category_id"], names=json.loads(r["names"]),
                     position=r["position"]) for r in rows]


def _article(row: asyncpg.Record) -> dict[str, Any]:
    return {"article_id": row["article_id"], "language": row["language"],
            "category": row["category_id"], "title": row["title"], "body": row["body"],
            "keywords": list(row["keywords"]), "status": row["status"],
            "version": row["version"], "updated_at": row["updated_at"].isoformat(),
            "updated_by": row["updated_by"]}


async def article(db: Db, workspace: str, article_id: str, language: str | None = None,
                  *, published_only: bool = False) -> dict[str, Any] | None:
    """The current version of an article in ``language`` (else its first variant)."""
    row = await db.fetchrow(
        """SELECT * FROM kb_articles WHERE workspace = $1 AND article_id = $2
             AND (NOT $4 OR status = 'published')
           ORDER BY (language = $3) DESC NULLS LAST, language LIMIT 1""",
        workspace, article_id, language, published_only)
    if row is None:
        return None
    found = _article(row)
    found["languages"] = [r["language"] for r in await db.fetch(
        "SELECT language FROM kb_articles WHERE workspace = $1 AND article_id = $2 "
        "ORDER BY language", workspace, article_id)]
    return found


async def articles(db: Db, workspace: str, language: str | None = None,
                   status: ArticleStatus | None = None) -> list[dict[str, Any]]:
    """Every article variant (current versions), by article id then language."""
    rows = await db.fetch(
        """SELECT * FROM kb_articles WHERE workspace = $1 AND ($2::text IS NULL OR language = $2)
             AND ($3::text IS NULL OR status = $3) ORDER BY article_id, language""",
        workspace, language, status.value if status else None)
    return [_article(r) for r in rows]


async def versions(db: Db, workspace: str, article_id: str,
                   language: str) -> list[dict[str, Any]]:
    """Every saved version of one variant, newest first."""
    rows = await db.fetch(
        """SELECT version, title, body, keywords, status, category_id, created_at, created_by
           FROM kb_article_versions WHERE workspace = $1 AND article_id = $2 AND language = $3
           ORDER BY version DESC""", workspace, article_id, language)
    return [{**dict(r), "keywords": list(r["keywords"]), "created_at": r["created_at"].isoformat()}
            for r in rows]


async def search(db: Db, workspace: str, query: str, language: str | None = None,
                 limit: int = 5) -> list[Hit]:
    """Published articles answering ``query``, best first, each scored in [0, 1]."""
    words = unique_tokens(query)
    if not words:
        return []
    tsq = _tsquery(words)
    rows = await db.fetch(
        f"""SELECT article_id, language, title, category_id, body, version, title_tokens,
                   keyword_tokens, body_tokens
            FROM kb_articles WHERE {_LIVE} AND search_vector @@ $2::tsquery
            ORDER BY ts_rank(search_vector, $2::tsquery) DESC, article_id LIMIT {CANDIDATES}""",
        workspace, tsq, language)
    if not rows:
        return []
    stats = await db.fetchrow(
        f"""SELECT (SELECT count(*) FROM kb_articles WHERE {_LIVE}) AS documents,
                   (SELECT jsonb_object_agg(w, (SELECT count(*) FROM kb_articles
                        WHERE {_LIVE} AND search_vector @@ quote_literal(w)::tsquery))
                    FROM unnest($2::text[]) AS w) AS frequencies""",
        workspace, words, language)
    frequencies = json.loads(stats["frequencies"])
    # a negated word ("not arrived") counts where an article says it, and never against one
    words = [w for w in words if not w.startswith(NEGATED) or frequencies.get(w)]
    by_key = {(r["article_id"], r["language"]): r for r in rows}
    candidates = [Candidate(r["article_id"], r["language"], r["title"],
                            frozenset(r["title_tokens"]), frozenset(r["keyword_tokens"]),
                            frozenset(r["body_tokens"])) for r in rows]
    ranked = rank(words, candidates, frequencies, stats["documents"])
    hits = []
    for scored in ranked[:limit]:
        row = by_key[(scored.candidate.article_id, scored.candidate.language)]
        hits.append(Hit(row["article_id"], row["language"], row["title"], row["category_id"],
                        scored.score, row["version"], summary(row["body"], 160)))
    return hits
