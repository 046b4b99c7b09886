"""``omniroute kb import DIR`` / ``export DIR``: the knowledge base as a folder of Markdown.

Layout: ``DIR/categories.toml`` and one file per language variant,
``DIR/<language>/<article id>.md`` (any ``*.md`` below DIR is read on import,
whatever its folder: the front matter says what it is). Import is
idempotent: unchanged articles keep their version.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from omniroute.knowledge import store
from omniroute.knowledge.articles import (
    ArticleDraft,
    ArticleStatus,
    Category,
    InvalidArticle,
    parse_markdown,
    render_markdown,
)

CATEGORIES = "categories.toml"


@dataclass
class ImportReport:
    """What an import did."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    categories: int = 0


def read_categories(directory: Path) -> list[Category]:
    """The categories of ``DIR/categories.toml`` (none when the file is absent)."""
    path = directory / CATEGORIES
    if not path.exists():
        return []
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArticle(f"{path}: {exc}") from exc
    return [Category(category_id=cid, position=int(table.pop("position", i)),
                     names={k: str(v) for k, v in table.items()})
            for i, (cid, table) in enumerate(raw.items())]


def read_articles(directory: Path) -> list[ArticleDraft]:
    """Every article file below ``directory``, validated (the first bad file fails all)."""
    if not directory.is_dir():
        raise InvalidArticle(f"{directory} is not a directory")
    drafts = [parse_markdown(p.read_text(encoding="utf-8"), str(p))
              for p in sorted(directory.rglob("*.md"))]
    seen: set[tuple[str, str]] = set()
    for draft in drafts:
        key = (draft.article_id, draft.language)
        if key in seen:
            raise InvalidArticle(f"two files hold article {key[0]!r} in {key[1]!r}")
        seen.add(key)
    return drafts


def read_directory(directory: Path) -> tuple[list[Category], list[ArticleDraft]]:
    """The categories and articles of ``directory`` (see the module's layout)."""
    return read_categories(directory), read_articles(directory)


async def import_directory(conn: asyncpg.Connection, workspace: str, directory: Path,
                           author: str | None = "kb import") -> ImportReport:
    """Store every category and article of ``directory`` in one transaction."""
    return await store_all(conn, workspace, *read_directory(directory), author=author)


async def store_all(conn: asyncpg.Connection, workspace: str, categories: list[Category],
                    drafts: list[ArticleDraft], author: str | None = "kb import") -> ImportReport:
    """Store categories and articles in one transaction; what changed."""
    report = ImportReport(categories=len(categories))
    async with conn.transaction():
        for category in categories:
            await store.save_category(conn, workspace, category)
        for draft in drafts:
            known = await store.article(conn, workspace, draft.article_id, draft.language)
            existed = known is not None and known["language"] == draft.language
            version, changed = await store.save_article(conn, workspace, draft, author)
            name = f"{draft.language}/{draft.article_id} v{version}"
            (report.unchanged if not changed else
             report.updated if existed else report.created).append(name)
    return report


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def snapshot(conn: asyncpg.Connection,
                   workspace: str) -> tuple[list[Category], list[ArticleDraft]]:
    """The categories and the current version of every article variant."""
    drafts = [ArticleDraft(article_id=row["article_id"], language=row["language"],
                           category=row["category"], title=row["title"], body=row["body"],
                           keywords=row["keywords"], status=ArticleStatus(row["status"]))
              for row in await store.articles(conn, workspace)]
    return await store.categories(conn, workspace), drafts


def write_directory(directory: Path, categories: list[Category],
                    drafts: list[ArticleDraft]) -> int:
    """Write categories.toml and one file per article variant; the count of articles."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for category in categories:
        lines.append(f"[{category.category_id}]")
        lines.append(f"position = {category.position}")
        lines += [f"{lang} = {_toml_string(name)}" for lang, name in sorted(category.names.items())]
        lines.append("")
    (directory / CATEGORIES).write_text("\n".join(lines), encoding="utf-8")
    for draft in drafts:
        path = directory / draft.language / f"{draft.article_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_markdown(draft), encoding="utf-8")
    return len(drafts)
