"""Sentiment in [-1, 1]: VADER for English, a packaged lexicon for Korean.

- English: ``vaderSentiment`` (MIT; ``vader_lexicon.txt`` ships in its wheel):
  the compound score.
- Korean: ``data/ko_sentiment.tsv``, a support-domain lexicon written for this
  project (Apache-2.0 like the rest of omniroute; KNU SentiLex has no licence
  file, so it is not vendored). Matched stems add their polarity (-2..+2); a
  negation right after a positive stem (``좋지 않``, ``만족 못``) flips it;
  the sum is squashed like VADER's compound: ``s / sqrt(s^2 + 15)``.
- Other languages: None (unknown), never a guess.
"""

from __future__ import annotations

import math
import re
from functools import cache
from importlib import resources

NEGATION = re.compile(r"^\S{0,3}\s*(?:지\s*않|지\s*않|지\s*못|지\s*마|진\s*않|못\s)")
ALPHA = 15.0
VADER_SUPPORT_DOMAIN = {
    "cancel": 0.0, "cancelled": 0.0, "stop": 0.0, "mistake": -0.5, "like": 0.0, "accept": 0.0,
    "credit": 0.0, "gift": 0.0, "ready": 0.0, "well": 0.0, "free": 0.0, "recommend": 0.0,
    "please": 0.0, "share": 0.0, "late": -1.5, "hacked": -2.0, "joke": -1.5,
    "bullshit": -2.5, "unacceptable": -2.5, "nothing": -0.5,
}
"""VADER words whose general-English polarity misleads in support messages ("cancel",
"credit card", "gift"), and support complaints it lacks ("late", "hacked")."""
POSITIVE_AT = 0.2
NEGATIVE_AT = -0.2


@cache
def korean_lexicon() -> tuple[tuple[str, float], ...]:
    """The Korean stems and polarities, longest first (so phrases win over their parts)."""
    text = resources.files("omniroute.triage").joinpath("data/ko_sentiment.tsv").read_text("utf-8")
    entries: list[tuple[str, float]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        stem, _, value = line.partition("\t")
        entries.append((stem, float(value)))
    return tuple(sorted(entries, key=lambda entry: -len(entry[0])))


@cache
def _vader() -> object:
    from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
        SentimentIntensityAnalyzer,
    )

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(VADER_SUPPORT_DOMAIN)
    return analyzer


def korean_sentiment(text: str) -> float:
    """Lexicon score of Korean ``text`` in [-1, 1] (0 when nothing matched)."""
    total = 0.0
    taken = [False] * len(text)
    for stem, polarity in korean_lexicon():
        start = text.find(stem)
        while start != -1:
            end = start + len(stem)
            if not any(taken[start:end]):
                for i in range(start, end):
                    taken[i] = True
                value = polarity
                if polarity > 0 and NEGATION.match(text[end:end + 8]):
                    value = -polarity
                total += value
            start = text.find(stem, end)
    return total / math.sqrt(total * total + ALPHA) if total else 0.0


def english_sentiment(text: str) -> float:
    """VADER's compound score of ``text``."""
    scores = _vader().polarity_scores(text)  # type: ignore[attr-defined]
    return float(scores["compound"])


def sentiment(text: str, language: str | None) -> float | None:
    """Sentiment of ``text`` in ``language``, or None for a language without a lexicon."""
    if language == "ko":
        return round(korean_sentiment(text), 4)
    if language == "en":
        return round(english_sentiment(text), 4)
    return None


def label(score: float | None) -> str:
    """``negative``, ``neutral`` or ``positive`` (None counts as neutral)."""
    if score is None:
        return "neutral"
    if score <= NEGATIVE_AT:
        return "negative"
    if score >= POSITIVE_AT:
        return "positive"
    return "neutral"
