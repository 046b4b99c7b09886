"""Articles and categories, and their Markdown file format.

One article is one language variant of a help topic: the topic's
``article_id`` (a slug shared by every language) plus ``language``. A file
holds one variant, front matter first::

    ---
    id: refund-policy
    language: ko
    category: refunds
    title: 환불은 어떻게 받나요?
    keywords: 환불, 돈, 반품
    status: published
    ---
    Markdown body...

Categories live in ``categories.toml`` beside the articles
(``[refunds] en = "Refunds"  ko = "환불"  position = 3``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omniroute.errors import RejectedInput

Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Language = Annotated[str, Field(min_length=2, max_length=16,
                                pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)?$")]
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.DOTALL)


class ArticleStatus(StrEnum):
    """Only published articles are searched, suggested and answered with."""

    PUBLISHED = "published"
    DRAFT = "draft"
    ARCHIVED = "archived"


class ArticleDraft(BaseModel):
    """What an author writes: one language variant of an article."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    article_id: Slug
    language: Language
    category: Slug | None = None
    title: Annotated[str, Field(min_length=1, max_length=300)]
    body: Annotated[str, Field(max_length=100_000)] = ""
    keywords: list[Annotated[str, Field(min_length=1, max_length=100)]] = []
    status: ArticleStatus = ArticleStatus.PUBLISHED


class Category(BaseModel):
    """A category: its names per language and its place in lists."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category_id: Slug
    names: dict[Language, Annotated[str, Field(min_length=1, max_length=200)]] = {}
    position: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] = 0  # PostgreSQL's integer


class InvalidArticle(RejectedInput):
    """An article file or request that is not a valid article."""


def parse_markdown(text: str, source: str = "article") -> ArticleDraft:
    """An article from its Markdown file (front matter + body)."""
    match = _FRONT.match(text.lstrip("\ufeff"))
    if not match:
        raise InvalidArticle(f"{source}: no front matter (a '---' block with id, language, title)")
    meta: dict[str, object] = {}
    for number, line in enumerate(match[1].splitlines(), start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise InvalidArticle(f"{source}:{number}: expected 'key: value', got {line!r}")
        meta[key.strip()] = value.strip()
    if "keywords" in meta:
        meta["keywords"] = [k.strip() for k in str(meta["keywords"]).split(",") if k.strip()]
    meta["article_id"] = meta.pop("id", None)
    meta["body"] = match[2].strip() + "\n" if match[2].strip() else ""
    try:
        return ArticleDraft.model_validate(meta)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise InvalidArticle(f"{source}: {problems}") from exc


def render_markdown(article: ArticleDraft) -> str:
    """The Markdown file of an article (``parse_markdown`` reads it back unchanged)."""
    lines = ["---", f"id: {article.article_id}", f"language: {article.language}"]
    if article.category:
        lines.append(f"category: {article.category}")
    lines.append(f"title: {article.title}")
    if article.keywords:
        lines.append(f"keywords: {', '.join(article.keywords)}")
    lines += [f"status: {article.status.value}", "---", article.body.rstrip("\n")]
    return "\n".join(lines) + "\n"


def summary(body: str, limit: int = 600) -> str:
    """The body as plain-ish text for a chat message: Markdown marks dropped, cut at ``limit``."""
    text = re.sub(r"^#{1,6}\s*", "", body, flags=re.MULTILINE)
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m[1] or m[2], text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",.;: ") + "…"
