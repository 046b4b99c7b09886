"""What a customer's message means to the bot, and what the bot says, in Korean and English."""

from __future__ import annotations

import re
from enum import StrEnum

from omniroute.knowledge.tokens import is_korean


class Meaning(StrEnum):
    """The bot's reading of a customer message."""

    HUMAN = "human"
    """Asks for a person: always honoured, from any state."""
    YES = "yes"
    NO = "no"
    QUESTION = "question"


_HUMAN = re.compile(
    r"\b(human|agent|person|people|representative|operator|staff|someone|somebody|"
    r"live chat|real person)\b|"
    r"상담원|상담사|사람|직원|매니저|연결해|연결 해|통화",
    re.IGNORECASE)
_NO = re.compile(
    r"^\s*(no|nope|nah|not really|n)\b|\b(didn'?t|doesn'?t|did not|does not|not) (help|work)|"
    r"not helpful|useless|^\s*(아니요|아니|아뇨|아님|노)\b|"
    r"도움이? ?안|해결이? ?안|안 ?됐|별로|모르겠",
    re.IGNORECASE)
_YES = re.compile(
    r"^\s*(yes|yeah|yep|yup|y|ok|okay|sure|thanks|thank you|thx|great|perfect|solved|"
    r"that helped|it helped|helped|got it)\b|"
    r"^\s*(네|예|응|넵|넹|오케이)\b|감사|고마워|고맙|해결됐|해결 됐|도움이? ?됐|도움 ?돼|알겠",
    re.IGNORECASE)


def meaning(text: str | None) -> Meaning:
    """How the bot reads ``text`` (a person first, then no before yes: 도움이 안 됐어요 is no)."""
    if not text or not text.strip():
        return Meaning.QUESTION
    if _HUMAN.search(text):
        return Meaning.HUMAN
    if _NO.search(text):
        return Meaning.NO
    if _YES.search(text):
        return Meaning.YES
    return Meaning.QUESTION


_CLOSING_WORDS = frozenset({
    "thanks", "thank", "thx", "ty", "cheers", "ok", "okay", "great", "perfect", "cool", "bye",
    "goodbye", "yes", "yeah", "yep", "네", "넵", "예", "감사합니다", "감사해요", "감사",
    "고맙습니다", "고마워요", "고마워", "알겠습니다", "알겠어요", "좋아요"})
_FILLER_WORDS = frozenset({"you", "u", "so", "much", "very", "a", "lot", "all", "good", "got",
                           "it", "again", "정말", "너무", "많이"})
_WORD = re.compile(r"[^\W_]+")


def closing(text: str | None) -> bool:
    """Whether ``text`` only thanks or signs off ("yes, thanks!", "ok 감사합니다 🙏"): words
    of thanks and assent and nothing else, so there is no question in it to answer."""
    words = [word.lower() for word in _WORD.findall(text or "")]
    return (any(word in _CLOSING_WORDS for word in words)
            and all(word in _CLOSING_WORDS or word in _FILLER_WORDS for word in words))


def language_of(text: str | None, fallback: str = "en") -> str:
    """``ko`` for Korean text, ``en`` for other text, ``fallback`` for none."""
    if not text:
        return fallback
    return "ko" if is_korean(text) else "en"


_SAY = {
    "answer": {
        "en": "Here is what our help centre says about “{title}”:\n\n{body}{link}\n\n"
              "Did this answer your question? Reply yes or no (or “agent” to talk to a person).",
        "ko": "도움말 센터의 “{title}” 안내입니다.\n\n{body}{link}\n\n"
              "궁금한 점이 해결되셨나요? 네 / 아니요로 답해 주세요"
              "(상담원 연결을 원하시면 “상담원”).",
    },
    "rephrase": {
        "en": "I could not find an article about that. Could you say it in other words? "
              "Or reply “agent” and a person will take over.",
        "ko": "관련 도움말을 찾지 못했어요. 다른 말로 다시 설명해 주시겠어요? "
              "“상담원”이라고 보내시면 바로 상담원이 이어받습니다.",
    },
    "suggest": {
        "en": "This article may answer it: “{title}”. Reply yes to read it, or say it in "
              "other words. Or reply “agent” and a person will take over.",
        "ko": "이 도움말이 도움이 될 수 있어요: “{title}”. 보시려면 “네”라고 답해 주세요. "
              "다른 말로 설명해 주셔도 되고, “상담원”이라고 보내시면 바로 상담원이 "
              "이어받습니다.",
    },
    "ambiguous": {
        "en": "A couple of articles could answer that: “{first}” and “{second}”. Which is "
              "closer to your question? A few more words help. Or reply “agent” and a "
              "person will take over.",
        "ko": "관련된 도움말이 두 가지 있어요: “{first}”, “{second}”. 어느 쪽이 궁금하신지 "
              "조금 더 자세히 알려 주시겠어요? “상담원”이라고 보내시면 바로 상담원이 "
              "이어받습니다.",
    },
    "resolved": {
        "en": "Glad that helped! Write again any time.",
        "ko": "도움이 되어 기뻐요! 언제든 다시 문의해 주세요.",
    },
    "closed": {  # no reply to "did this help?": not "glad that helped", which nobody said
        "en": "I'll close this conversation for now. If you still need help, just write here "
              "and we'll pick it up.",
        "ko": "이 상담은 일단 종료할게요. 도움이 더 필요하시면 여기에 다시 메시지를 보내 "
              "주세요. 이어서 도와드리겠습니다.",
    },
    "handoff": {
        "en": "I'm connecting you with a person now. They will see this conversation, "
              "so you won't need to repeat anything.",
        "ko": "지금 상담원에게 연결해 드릴게요. 상담원이 지금까지의 대화를 함께 보니 "
              "같은 내용을 다시 말씀하지 않으셔도 됩니다.",
    },
}


def say(what: str, language: str, **fields: str) -> str:
    """The bot's line ``what`` in ``language`` (English when not translated)."""
    lines = _SAY[what]
    return lines.get(language, lines["en"]).format(**fields)
