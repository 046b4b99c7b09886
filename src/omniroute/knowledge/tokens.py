"""Search tokens for Korean and English text, without a morphological analyser.

PostgreSQL's built-in text search configurations do not stem Korean, and
Korean glues particles and endings to words (``환불은``, ``환불을``,
``환불하려면``). The tokens here are:

- Hangul: the word with a known particle or verb ending stripped, then its
  syllable bigrams (``비밀번호를`` → ``비밀``, ``밀번``, ``번호``); a one-syllable
  stem is kept whole. Bigrams match compounds and spacing variants
  (``배송 조회`` and ``배송조회``) that whole words would miss.
- Latin letters and digits: lower-cased words with a light suffix stemmer
  (``refunds`` → ``refund``, ``shipped``/``shipping`` → ``ship``).
- Other CJK (kana, Han): character bigrams.

Stop words in both languages are dropped, and so are identifiers (a word with
four or more digits: order and phone numbers). An English negation (``not``,
``never``, ``didn't``, ``hasn't``...) adds a second token for the word it negates
(``has not arrived`` → ``arriv`` and ``not_arriv``): "my order has not arrived"
matched the article "My item arrived damaged" on ``arriv`` and the bot answered
with it (user run 58), where "not arrived" is what the tracking article's
keywords say. The negated token counts only where an article has it
(:func:`omniroute.knowledge.store.search`); the word itself still counts ("still
no refund" is about refunds). The same function tokenizes articles (when stored) and queries,
so both sides always agree; articles stored before a change of the tokens are
tokenized again by the next ``omniroute kb import``.
"""

from __future__ import annotations

import re
import unicodedata

_RUN = re.compile(r"[\uac00-\ud7a3]+|[a-z0-9]+|[\u3040-\u30ff\u4e00-\u9fff]+")
_HANGUL = re.compile(r"^[\uac00-\ud7a3]+$")
_LATIN = re.compile(r"^[a-z0-9]+$")

KO_ENDINGS = tuple(sorted((
    "하려면", "하려고", "했는데", "하는데", "해주세요", "해줘요", "하나요", "할까요", "합니까",
    "했어요", "하고", "하는", "하면", "하기", "해요", "해서", "인가요", "인데", "이에요",
    "예요", "되나요", "됐어요", "되었어요", "돼요", "되요", "되는", "된", "에서", "으로",
    "에게", "까지", "부터", "이랑", "랑", "은", "는", "이", "가", "을", "를", "에", "로", "와",
    "과", "도", "만", "의", "요", "나요", "죠", "받고", "받는", "받을", "받았어요", "받았",
    "한", "할", "으로도", "로도", "라고", "는데", "되고", "되나", "어요", "아요", "았어요",
    "었어요", "였어요", "가요", "까요", "려면", "려고", "습니다", "니다", "서",
), key=len, reverse=True))
"""Particles and verb endings stripped from the end of a Hangul word (longest first)."""

KO_STOP = frozenset((
    "어떻게", "어떻", "언제", "왜", "무엇", "뭐", "뭔가", "어디", "어디서", "제", "저", "저는",
    "제가", "좀", "있나요", "있어요", "없어요", "없나", "있나", "싶어요", "싶어", "싶은데",
    "싶습니다", "알려주세요", "알려", "주세요", "문의", "궁금", "궁금해요", "어떤", "그리고",
    "이거", "너무", "아직", "수", "것", "거", "안녕하세요", "안녕", "혹시", "지금", "그냥",
    "하나", "해야", "할", "하", "해", "되", "있", "없", "받을", "있을까요", "안", "돼", "돼요",
    "됐", "왔", "못", "이", "그", "가능", "가능한가요", "방법", "알고", "어떡해요", "어떡하죠",
))
"""Korean words (and stems) too common in questions to tell articles apart."""

EN_STOP = frozenset((
    "a", "an", "the", "i", "me", "my", "we", "our", "you", "your", "it", "its", "is", "are", "was",
    "were", "be", "been", "am", "do", "does", "did", "done", "to", "of", "in", "on", "at", "for",
    "with", "and", "or", "but", "if", "so", "can", "could", "would", "should", "will", "how",
    "what", "when", "where", "why", "which", "who", "this", "that", "there", "here", "have",
    "has", "had", "get", "got", "please", "hi", "hello", "thanks", "thank", "want", "need",
    "not", "no", "yes", "any", "some", "from", "about", "by", "as", "just", "still", "yet",
    "know", "tell", "help", "up", "out", "im", "dont", "cant", "isnt", "hasnt", "havent", "s",
    "t", "m", "ve", "ll", "d", "re", "anyone", "someone", "way", "be", "like",
))
"""English stop words."""

EN_NEGATIONS = frozenset((
    "not", "no", "never", "nothing", "cannot", "dont", "didnt", "doesnt", "hasnt", "havent",
    "hadnt", "isnt", "wasnt", "arent", "werent", "wont", "cant", "couldnt", "shouldnt", "wouldnt",
))
"""Words that negate the next one (``didn't`` is read as ``did not``: :data:`_CONTRACTED`)."""
_CONTRACTED = ((re.compile(r"\bcan['\u2019]t\b"), "can not"),
               (re.compile(r"\bwon['\u2019]t\b"), "will not"),
               (re.compile(r"n['\u2019]t\b"), " not"))
NEGATED = "not_"
"""The prefix of a negated word's second token (:func:`tokens`)."""
_IDENTIFIER = re.compile(r"\b[a-z]{1,4}[-#]?\d{4,}\b")
"""An order or ticket number with its letters (``ORD-1234``, ``A-123456``): before 2026-12-07
``ord`` stayed a search word that no article has, and halved the score of the right one."""
_NUMBER_LABEL = re.compile(
    r"(주문|order)\s*(?:번호|number|no\.?)\s*(?:는|은|:)?\s*(?=[a-z]{1,4}[-#]?\d{4,}\b|#\d)")
""""Order number" naming the number after it: only "order" is kept (``주문번호 ORD-5151``
left 번호, which *비밀번호 재설정* has, above the damaged item it was about: user run 60)."""
_CLAUSE_END = re.compile(r"[,.;:!?\u3001\u3002]")
NEGATION_REACH = 3
"""How many words a negation reaches over to the word it negates (``not yet been shipped``)."""

_EN_SUFFIXES = ("ations", "ation", "ings", "ing", "edly", "ed", "ies", "es", "s")


def stem_en(word: str) -> str:
    """A light English stemmer: plural and -ing/-ed/-ation forms fold onto one stem;
    ``-ss`` is no plural (``address``, ``addresses``). A final silent ``e`` stays
    (``arrive`` / ``arriv``): dropping it made "when will it arrive" find *My item arrived
    damaged* (bench/knowledge, 2026-12-07)."""
    for suffix in _EN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word
            stem = word[: -len(suffix)]
            if suffix == "ies":
                stem += "y"
            elif suffix in ("es",) and not stem.endswith(("s", "x", "z", "ch", "sh")):
                stem = word[:-1]
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]
            return stem
    return word


def stem_ko(word: str) -> str:
    """The word without one trailing particle or ending (a stem keeps at least 1 syllable)."""
    for ending in KO_ENDINGS:
        if word.endswith(ending) and len(word) > len(ending):
            return word[: -len(ending)]
    return word


def _bigrams(text: str) -> list[str]:
    if len(text) < 2:
        return [text]
    return [text[i:i + 2] for i in range(len(text) - 1)]


def tokens(text: str) -> list[str]:
    """Search tokens of ``text`` in order (repeats kept, for term counts)."""
    normalized = unicodedata.normalize("NFKC", text).lower()
    normalized = _IDENTIFIER.sub(" ", _NUMBER_LABEL.sub(r"\1 ", normalized))
    for contracted, spelled in _CONTRACTED:
        normalized = contracted.sub(spelled, normalized)
    found: list[str] = []
    negated = 0  # words left in a negation's reach
    end = 0
    for match in _RUN.finditer(normalized):
        run, gap, end = match.group(), normalized[end:match.start()], match.end()
        if _CLAUSE_END.search(gap):  # "delivered but not, stolen": the negation ends
            negated = 0
        if _LATIN.match(run):
            if sum(ch.isdigit() for ch in run) >= 4:
                continue  # order and phone numbers: never what an article is about
            if run in EN_NEGATIONS:
                negated = NEGATION_REACH
            elif run not in EN_STOP:
                stem = stem_en(run)
                found.extend((stem, f"{NEGATED}{stem}") if negated else (stem,))
                negated = 0
            elif negated:
                negated -= 1
            continue
        negated = 0
        if _HANGUL.match(run):
            if run in KO_STOP:
                continue
            stem = stem_ko(run)
            if stem not in KO_STOP:
                found.extend(_bigrams(stem))
        else:
            found.extend(_bigrams(run))
    return found


def unique_tokens(text: str) -> list[str]:
    """Distinct search tokens of ``text``, first occurrence first."""
    return list(dict.fromkeys(tokens(text)))


def is_korean(text: str) -> bool:
    """Whether ``text`` is mostly Hangul (the language the bot answers in)."""
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return hangul > 0 and hangul >= latin / 3
