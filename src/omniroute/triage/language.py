"""Language identification: script fast paths, then lingua restricted to a small set.

Hangul means Korean, kana means Japanese (cheap code-point checks, reliable on
chat-length text); everything else goes to ``lingua`` (Apache-2.0; its models
are compiled into its wheel, so nothing is downloaded at run time), restricted
to the languages a workspace supports. Han characters without kana are left to
lingua, which tells Chinese from Japanese kanji-only text.
"""

from __future__ import annotations

from functools import lru_cache

SUPPORTED = ("ko", "en", "ja", "zh", "es")
"""Languages detected out of the box (ISO 639-1)."""

MIN_LETTERS = 3
"""Fewer letters than this: no guess (``ok``, ``5``, an emoji)."""


def _hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e"


def _kana(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff"


def script_language(text: str) -> str | None:
    """``ko`` or ``ja`` when the script alone says so (a third of the letters), else None."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    hangul = sum(1 for ch in letters if _hangul(ch))
    if hangul * 3 >= len(letters):
        return "ko"
    if sum(1 for ch in letters if _kana(ch)) * 5 >= len(letters):
        return "ja"
    return None


@lru_cache(maxsize=8)
def _detector(languages: tuple[str, ...]) -> object:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in languages]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def detect_language(text: str, languages: tuple[str, ...] = SUPPORTED) -> str | None:
    """The ISO 639-1 code of ``text``'s language among ``languages``, or None if unsure."""
    fast = script_language(text)
    if fast is not None and fast in languages:
        return fast
    if sum(1 for ch in text if ch.isalpha()) < MIN_LETTERS:
        return None
    if len(languages) == 1:
        return languages[0]
    detector = _detector(tuple(sorted(languages)))
    found = detector.detect_language_of(text)  # type: ignore[attr-defined]
    return str(found.iso_code_639_1.name).lower() if found is not None else None
