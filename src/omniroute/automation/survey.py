"""The CSAT survey: its buttons, and reading a rating out of the customer's reply.

Ratings are 1-5 (CSAT = share of 4-5 among rated, support-metrics.md 1.5).
A reply counts as a rating when it is short and says one score: a digit
(``5``, ``5점``, ``4/5``), stars, a face or thumb emoji, or a word in Korean
or English (``매우 만족``, ``great``). Anything longer is a comment.
"""

from __future__ import annotations

import re

from omniroute.automation.templates import RATING_LABELS

MAX_RATING_CHARS = 24
PAYLOAD_PREFIX = "csat:"
DIGIT = re.compile(r"^\s*([1-5])\s*(?:점|/\s*5|out of 5|stars?|개|)\s*[.!]*\s*$", re.IGNORECASE)
EMOJI = {"😡": 1, "😠": 1, "😞": 2, "🙁": 2, "☹": 2, "😐": 3, "😶": 3, "🙂": 4, "😊": 4,
         "😀": 5, "😃": 5, "😄": 5, "😍": 5, "🤩": 5, "👎": 1, "👍": 5, "❤": 5, "💯": 5}
WORDS = (
    (re.compile(r"매우\s*불만족|아주\s*불만족|최악|매우\s*나쁨|very\s+(?:bad|poor|dissatisfied)"
                r"|terrible|awful|horrible|worst", re.IGNORECASE), 1),
    (re.compile(r"불만족|별로|나쁨|나빠요|\bbad\b|\bpoor\b|dissatisfied|unhappy",
                re.IGNORECASE), 2),
    (re.compile(r"보통|그저\s*그래|그냥\s*그래|\bok(?:ay)?\b|average|so-so|\bfine\b|neutral",
                re.IGNORECASE), 3),
    (re.compile(r"매우\s*만족|아주\s*만족|최고|완벽|excellent|great|amazing|perfect|awesome"
                r"|very\s+(?:good|satisfied)|fantastic", re.IGNORECASE), 5),
    (re.compile(r"만족|좋아요|좋았|좋음|괜찮|\bgood\b|satisfied|happy|nice", re.IGNORECASE), 4),
)


def parse_rating(text: str | None, payload: str | None = None) -> int | None:
    """The 1-5 score a survey reply gives, or None when it is not a rating."""
    if payload and payload.startswith(PAYLOAD_PREFIX):
        value = payload[len(PAYLOAD_PREFIX):]
        return int(value) if value in {"1", "2", "3", "4", "5"} else None
    if not text or len(text.strip()) > MAX_RATING_CHARS:
        return None
    stripped = text.strip()
    digit = DIGIT.match(stripped)
    if digit:
        return int(digit.group(1))
    stars = stripped.count("★") + stripped.count("⭐")
    if 1 <= stars <= 5 and not stripped.replace("★", "").replace("⭐", "").strip():
        return stars
    faces = {score for emoji, score in EMOJI.items() if emoji in stripped}
    if len(faces) == 1:
        return faces.pop()
    for pattern, score in WORDS:
        if pattern.search(stripped):
            return score
    return None


def rating_choices(language: str) -> list[tuple[str, str]]:
    """``(payload, title)`` for the five rating buttons, in ``language`` (English if unknown)."""
    labels = RATING_LABELS.get(language, RATING_LABELS["en"])
    return [(f"{PAYLOAD_PREFIX}{i + 1}", label) for i, label in enumerate(labels)]
