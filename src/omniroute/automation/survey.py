"""The CSAT survey: its buttons, and reading a rating out of the customer's reply.

Ratings are 1-5 (CSAT = share of 4-5 among rated, support-metrics.md 1.5).
A reply counts as a rating when it is short and says one score: a digit
(``5``, ``5점``, ``4/5``, ``5点``, ``5分``, ``5 de 5``; full-width digits as Japanese
and Chinese keyboards type it), stars, a face or thumb emoji, or a word in one of
the survey's languages (``매우 만족``, ``great``, ``大変満足``, ``非常满意``,
``excelente``). A score followed by words in the same message (``5, very quick, thank
you!``, ``1 - nobody answered my question``, ``4점 빨랐어요``) is the score and a comment
(:func:`split_rating`). Anything else longer is a comment, when a rating came first.
A reply that asks a question is neither (:func:`asks`): it is for an agent.
"""

from __future__ import annotations

import re
import unicodedata

from omniroute.automation.templates import RATING_LABELS

MAX_RATING_CHARS = 24
PAYLOAD_PREFIX = "csat:"
UNIT = r"(?:점|点|分|/\s*5|out of 5|de 5|stars?|estrellas?)"
DIGIT = re.compile(rf"^\s*([1-5])\s*(?:{UNIT}|개|)\s*(?:です)?\s*[.!。]*\s*$", re.IGNORECASE)
PUNCTUATION = r"[,.!。、:;)\-\u2013\u2014]"  # and the en and em dashes
LEADING = re.compile(  # a score, then a separator, then the comment
    rf"^\s*([1-5])(?:\s*{UNIT}\s*{PUNCTUATION}*|\s*{PUNCTUATION}+)\s*([^\d\s].*)$",
    re.IGNORECASE | re.DOTALL)
"""After a bare digit the separator must hold punctuation (``5, great``): ``2 items are
missing`` is a message, not a 2. After a unit (``5점``, ``4/5``, ``5 stars``) a space will do.
The comment starts with no digit: ``5,000 won`` and ``3.5 stars`` are no scores."""
QUESTION_MARKS = ("?", "\uff1f", "\u00bf")  # and the full-width one and Spanish's opening one
EMOJI = {"😡": 1, "😠": 1, "😞": 2, "🙁": 2, "☹": 2, "😐": 3, "😶": 3, "🙂": 4, "😊": 4,
         "😀": 5, "😃": 5, "😄": 5, "😍": 5, "🤩": 5, "👎": 1, "👍": 5, "❤": 5, "💯": 5}
WORDS = (  # in this order: "不満" inside "非常に不満" is 1, "満足" inside "不満足" is 2
    (re.compile(r"매우\s*불만족|아주\s*불만족|최악|매우\s*나쁨|very\s+(?:bad|poor|dissatisfied)"
                r"|terrible|awful|horrible|worst|最悪|非常に不満|とても不満|非常不满意?|很不满意?"
                r"|很差|muy\s+mal[oa]?|p[ée]sim[oa]", re.IGNORECASE), 1),
    (re.compile(r"불만족|별로|나쁨|나빠요|\bbad\b|\bpoor\b|dissatisfied|unhappy|不満|不满|较差|不好"
                r"|\bmal[oa]?\b|\bregular\b", re.IGNORECASE), 2),
    (re.compile(r"보통|그저\s*그래|그냥\s*그래|\bok(?:ay)?\b|average|so-so|\bfine\b|neutral"
                r"|普通|まあまあ|一般|差不多|\baceptable\b|\bnormal\b", re.IGNORECASE), 3),
    (re.compile(r"매우\s*만족|아주\s*만족|최고|완벽|excellent|great|amazing|perfect|awesome"
                r"|very\s+(?:good|satisfied)|fantastic|大変満足|とても満足|非常に満足|最高|非常满意"
                r"|很满意|excelente|muy\s+bien|muy\s+buen[oa]|genial|perfect[oa]",
                re.IGNORECASE), 5),
    (re.compile(r"만족|좋아요|좋았|좋음|괜찮|\bgood\b|satisfied|happy|nice|満足|满意|良い|よかった"
                r"|\bbuen[oa]\b", re.IGNORECASE), 4),
)


def parse_rating(text: str | None, payload: str | None = None) -> int | None:
    """The 1-5 score a survey reply gives, or None when it is not a rating."""
    if payload and payload.startswith(PAYLOAD_PREFIX):
        value = payload[len(PAYLOAD_PREFIX):]
        return int(value) if value in {"1", "2", "3", "4", "5"} else None
    if not text or len(text.strip()) > MAX_RATING_CHARS:
        return None
    stripped = unicodedata.normalize("NFKC", text).strip()  # full-width digits are digits
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


def asks(text: str | None) -> bool:
    """Whether ``text`` asks a question: ``1. Where is my refund?`` after a survey is a
    customer wanting an answer (read as a score of 1 with a comment, it was answered by
    nobody), and so is ``Thanks! When will it arrive?`` after a rating."""
    return text is not None and any(mark in text for mark in QUESTION_MARKS)


def rating_choices(language: str) -> list[tuple[str, str]]:
    """``(payload, title)`` for the five rating buttons, in ``language`` (English if unknown)."""
    labels = RATING_LABELS.get(language, RATING_LABELS["en"])
    return [(f"{PAYLOAD_PREFIX}{i + 1}", label) for i, label in enumerate(labels)]


def split_rating(text: str | None) -> tuple[int, str] | None:
    """The score and the comment of a reply that gives both, ``5, very quick, thank you!``
    (a user run's visitor answered so; the conversation reopened and the score was lost)."""
    if not text:
        return None
    leading = LEADING.match(unicodedata.normalize("NFKC", text))
    if leading is None:
        return None
    return int(leading.group(1)), leading.group(2).strip()
