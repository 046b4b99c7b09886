"""How well an article answers a query: idf-weighted, field-boosted coverage in [0, 1].

A help-centre question is short and an article either covers what it asks or
not, so the score is the share of the query's information an article covers:
each query token weighs its inverse document frequency (rare tokens tell
more), and counts fully when the article's title has it, less in its keywords,
less again in its body. A small share of the score goes to focus (how much of
the article's title the query covers), so a general article beats a narrow
one that merely shares the words. A query token no article has still weighs in (at the
highest idf): a question about something the knowledge base does not cover
scores low, which is what the answer bot's threshold needs.

Pure: the store fetches candidates and document frequencies; this ranks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TITLE_WEIGHT = 1.0
KEYWORD_WEIGHT = 0.9
BODY_WEIGHT = 0.6
FOCUS_SHARE = 0.15
"""Part of the score given to focus: the share of the article's title the query covers
(of two articles covering a query alike, the one about just that ranks first)."""


@dataclass(frozen=True)
class Candidate:
    """An article the index matched, with its distinct tokens per field."""

    article_id: str
    language: str
    title: str
    title_tokens: frozenset[str]
    keyword_tokens: frozenset[str]
    body_tokens: frozenset[str]


@dataclass(frozen=True)
class Scored:
    """A candidate with its score (0: nothing in common; 1: every token in the title)."""

    candidate: Candidate
    score: float


def idf(documents: int, frequency: int) -> float:
    """BM25's inverse document frequency (always positive)."""
    return math.log(1.0 + (documents - frequency + 0.5) / (frequency + 0.5))


def field_weight(candidate: Candidate, token: str) -> float:
    """How much one query token counts for an article: by the best field holding it."""
    if token in candidate.title_tokens:
        return TITLE_WEIGHT
    if token in candidate.keyword_tokens:
        return KEYWORD_WEIGHT
    if token in candidate.body_tokens:
        return BODY_WEIGHT
    return 0.0


def rank(query: Iterable[str], candidates: Iterable[Candidate],
         frequencies: Mapping[str, int], documents: int) -> list[Scored]:
    """Candidates by score, best first (ties: article id, so the order is stable)."""
    distinct = list(dict.fromkeys(query))
    weights = {t: idf(max(documents, 1), frequencies.get(t, 0)) for t in distinct}
    total = sum(weights.values())
    if total <= 0:
        return []
    scored = []
    for c in candidates:
        coverage = sum(w * field_weight(c, t) for t, w in weights.items()) / total
        focus = len(c.title_tokens & weights.keys()) / len(c.title_tokens) if c.title_tokens \
            else 0.0
        scored.append(Scored(c, round((1 - FOCUS_SHARE) * coverage + FOCUS_SHARE * focus, 4)))
    scored = [s for s in scored if s.score > 0]
    scored.sort(key=lambda s: (-s.score, s.candidate.article_id, s.candidate.language))
    return scored
