"""Language identification: script fast paths, then lingua restricted to a small set.

Hangul means Korean, kana means Japanese (cheap code-point checks, reliable on
chat-length text); everything else goes to ``lingua`` (Apache-2.0; its models
are compiled into its wheel, so nothing is downloaded at run time), restricted
to the languages a workspace supports. Han characters without kana are left to
lingua, which tells Chinese from Japanese kanji-only text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

SUPPORTED = ("ko", "en", "ja", "zh", "es")
"""Languages detected out of the box (ISO 639-1)."""

Detect = Callable[[str, tuple[str, ...]], "str | None"]
"""What :func:`~omniroute.triage.core.triage` calls to detect a language."""

MIN_LETTERS = 3
"""Fewer letters than this: no guess (``ok``, ``5``, an emoji)."""

MIN_CONFIDENCE = 0.7
"""lingua's confidence in its best language below this: no guess. A word or two often
fits several languages about equally: ``Hello`` scores es 0.62 against en 0.38, and a
user run's English customer got a Spanish acknowledgement for it; ``Cancel``, ``urgent``,
``Yes`` and ``No`` are as ambiguous. None of the 266 labelled messages scores below it
(one sits at 0.70), so sentences keep their guess; a whole-message greeting is told by
:data:`GREETINGS` first."""


def _letters_of(*spans: tuple[str, str]) -> re.Pattern[str]:
    """One character class of the letters (``str.isalpha``) in the code-point ``spans``."""
    runs: list[list[int]] = []
    for first, last in spans:
        for code in range(ord(first), ord(last) + 1):
            if not chr(code).isalpha():
                continue
            if runs and runs[-1][1] == code - 1:
                runs[-1][1] = code
            else:
                runs.append([code, code])
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                                    for a, b in runs) + "]")


HANGUL = _letters_of(("\uac00", "\ud7a3"), ("\u3131", "\u318e"))
KANA = _letters_of(("\u3040", "\u30ff"))
ASCII_LETTER = re.compile(r"[A-Za-z]")


def _script(text: str) -> tuple[int, str | None]:
    """How many letters ``text`` has, and ``ko``/``ja`` when the script alone says so."""
    if text.isascii():  # no Hangul, no kana; the letters are [A-Za-z]
        return len(ASCII_LETTER.findall(text)), None
    letters = sum(1 for ch in text if ch.isalpha())
    if not letters:
        return 0, None
    if len(HANGUL.findall(text)) * 3 >= letters:
        return letters, "ko"
    if len(KANA.findall(text)) * 5 >= letters:
        return letters, "ja"
    return letters, None


GREETINGS = {
    "en": ("hello", "hello there", "hi", "hi there", "hey", "hey there", "good morning",
           "good afternoon", "good evening", "thanks", "thank you", "thank you so much"),
    "es": ("hola", "buenas", "buenos dias", "buenos días", "buenas tardes", "buenas noches",
           "gracias", "muchas gracias"),
}
"""Whole messages that are a greeting or a thanks, told without lingua: the first message is
often just that, and as a word it fits several languages (``Hola``: es 0.66 only)."""
_GREETING_OF = {phrase: code for code, phrases in GREETINGS.items() for phrase in phrases}
_NOT_WORDS = re.compile(r"[^\w\s]+")


def greeting_language(text: str) -> str | None:
    """``en`` or ``es`` when the whole text is one of :data:`GREETINGS`, else None."""
    if len(text) > 40:
        return None
    return _GREETING_OF.get(" ".join(_NOT_WORDS.sub(" ", text.lower()).split()))


def script_language(text: str) -> str | None:
    """``ko`` or ``ja`` when the script alone says so (a third of the letters), else None."""
    return _script(text)[1]


@lru_cache(maxsize=8)
def _detector(languages: tuple[str, ...]) -> object:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in languages]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def detect_language(text: str, languages: tuple[str, ...] = SUPPORTED) -> str | None:
    """The ISO 639-1 code of ``text``'s language among ``languages``, or None if unsure."""
    letters, fast = _script(text)
    if fast is not None and fast in languages:
        return fast
    greeting = greeting_language(text)
    if greeting is not None and greeting in languages:
        return greeting
    if letters < MIN_LETTERS:
        return None
    if len(languages) == 1:
        return languages[0]
    detector = _detector(tuple(sorted(languages)))
    best = detector.compute_language_confidence_values(text)[0]  # type: ignore[attr-defined]
    if best.value < MIN_CONFIDENCE:
        return None
    return str(best.language.iso_code_639_1.name).lower()


class Prefetched:
    """Languages of a batch's texts, detected back to back before the batch is handled.

    lingua's models are large: detected one by one between other work, a text
    costs about six times what it costs while they are in the CPU caches
    (measured 186 against 29 us on short texts). A worker fills this with
    the texts of the records it is about to handle and triage asks it first;
    a text it was not filled with is detected as usual. Each fill replaces
    the previous batch's results, so it never grows beyond a batch.
    """

    def __init__(self) -> None:
        self.found: dict[tuple[str, tuple[str, ...]], str | None] = {}

    def fill(self, texts: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        """Detect the language of every (text, languages) pair; forget the last batch's."""
        found: dict[tuple[str, tuple[str, ...]], str | None] = {}
        for key in texts:
            if key not in found:
                found[key] = detect_language(*key)
        self.found = found

    def __call__(self, text: str, languages: tuple[str, ...] = SUPPORTED) -> str | None:
        """``detect_language(text, languages)``, from the batch's results when filled with it."""
        key = (text, languages)
        if key in self.found:
            return self.found[key]
        return detect_language(text, languages)
