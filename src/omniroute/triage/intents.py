"""Intent from keyword lexicons (Korean and English), configurable per workspace.

A lexicon maps an intent to weighted keywords per language. Korean keywords
are stems matched as substrings (Korean attaches particles and endings to the
stem: 환불 matches 환불해주세요, 환불은); English keywords match at word starts
(``refund`` matches ``refunded``, ``refunds``). The intent with the highest
total weight wins; ties go to the earlier intent in :data:`INTENTS` order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

NO_INTENT = "other"
"""The intent of a message no lexicon matches: it names no topic."""

INTENTS = ("refund", "cancellation", "billing", "delivery", "order_status", "account",
           "complaint", NO_INTENT)
"""Intents in tie-break order; ``other`` when nothing matches."""

Lexicon = Mapping[str, Mapping[str, Mapping[str, float]]]
"""intent -> language -> keyword -> weight."""

DEFAULT_LEXICON: dict[str, dict[str, dict[str, float]]] = {
    "refund": {
        "ko": {"환불": 4, "환급": 3, "돈 돌려": 3, "돈돌려": 3, "반환": 2, "취소 환불": 1,
               "입금": 1},
        "en": {"refund": 4, "money back": 3, "reimburse": 3, "chargeback": 3, "return": 1.5},
    },
    "cancellation": {
        "ko": {"취소": 2.5, "해지": 3, "탈퇴": 2.5, "구독 해지": 2, "반품": 2, "철회": 2},
        "en": {"cancel": 2.5, "unsubscribe": 2.5, "terminate": 2, "close my account": 2,
               "stop my subscription": 3, "end my subscription": 3},
    },
    "billing": {
        "ko": {"결제": 2.5, "청구": 2.5, "요금": 2.5, "영수증": 2, "카드": 1.5, "이중": 1.5,
               "두 번 결제": 2, "두번 결제": 2, "세금계산서": 3, "인보이스": 2, "할부": 2,
               "과금": 3, "빠져나": 2, "출금": 2},
        "en": {"charge": 2.5, "billing": 3, "bill": 2, "invoice": 3, "payment": 2.5,
               "receipt": 2, "credit card": 2, "card": 1, "overcharg": 3, "paid twice": 3,
               "subscription fee": 2, "pricing": 1.5, "vat": 2},
    },
    "delivery": {
        "ko": {"배송": 2.5, "택배": 3, "도착": 2, "운송장": 3, "송장": 3, "배달": 2.5,
               "기사": 1.5, "출고": 2.5, "파손": 2, "안 왔": 2, "안왔": 2, "오배송": 3,
               "분실": 2, "주소 변경": 2},
        "en": {"deliver": 2.5, "shipping": 2.5, "shipment": 2.5, "courier": 3,
               "tracking": 3, "package": 2, "parcel": 2.5, "arrive": 2, "shipped": 2.5,
               "damaged": 2, "lost": 1, "wrong address": 2, "dispatch": 2, "ship": 2},
    },
    "order_status": {
        "ko": {"주문": 1.5, "주문 상태": 3, "조회": 2, "언제": 1, "확인": 1,
               "처리 상태": 2, "진행 상황": 2, "진행상황": 2},
        "en": {"order": 2, "order status": 3, "where is my": 2, "status": 1.5, "when will": 1,
               "processing": 1.5, "processed": 1.5, "confirm": 1, "purchase": 1},
    },
    "account": {
        "ko": {"비밀번호": 3, "로그인": 3, "계정": 3, "아이디": 2.5, "인증": 2, "회원": 2,
               "이메일 변경": 2, "번호가 바뀌": 2.5, "번호 변경": 2, "본인확인": 2, "잠금": 2,
               "잠겼": 2},
        "en": {"password": 3, "hacked": 3, "verification code": 3, "log in": 3, "login": 3,
               "sign in": 3, "account": 2,
               "username": 2.5, "verification": 2, "locked": 2, "2fa": 3, "email address": 1.5,
               "profile": 1.5, "reset": 1.5},
    },
    "complaint": {
        "ko": {"불만": 3, "항의": 3, "최악": 3, "불친절": 3, "실망": 2.5, "화가": 2, "짜증": 2,
               "어이없": 2.5, "소비자원": 3, "신고": 2, "책임자": 2.5, "사과": 2, "엉망": 2.5,
               "고소": 2, "답답": 2, "무례": 3, "뭐하는 회사": 3, "법적": 3, "변호사": 3,
               "다시는": 2.5, "후회": 2, "개선 요청": 2.5, "씨발": 2, "장난하": 2},
        "en": {"complain": 3, "complaint": 3, "unacceptable": 3, "terrible": 2.5,
               "worst": 2.5, "rude": 3, "disappointed": 2.5, "ridiculous": 2.5,
               "manager": 2, "supervisor": 2, "disgusting": 2.5, "awful": 2,
               "horrible": 2.5, "apolog": 1.5, "lawyer": 3, "never buying": 3,
               "joke": 2.5, "nobody answer": 3, "feedback": 2.5, "treated": 2.5,
               "bullshit": 2.5},
    },
}


@dataclass(frozen=True)
class IntentLexicon:
    """Weighted keywords per intent and language (built once per workspace)."""

    keywords: Lexicon = field(default_factory=lambda: DEFAULT_LEXICON)

    @cached_property
    def _matchers(self) -> tuple[tuple[str, tuple[tuple[str, str | None, float], ...],
                                       tuple[tuple[str, re.Pattern[str], float], ...]], ...]:
        """Per intent, in the lexicon's order: its stems of every language but English
        (with their space-free form when they hold a space) and its English words (with
        their word-start pattern), each in the order :meth:`scores` adds their weights."""
        found = []
        for intent, by_language in self.keywords.items():
            stems = tuple((word, word.replace(" ", "") if " " in word else None, weight)
                          for language, words in by_language.items() if language != "en"
                          for word, weight in words.items())
            english = tuple((word.lower(), re.compile(r"(?<![a-z])" + re.escape(word.lower())),
                             weight) for word, weight in by_language.get("en", {}).items())
            found.append((intent, stems, english))
        return tuple(found)

    def scores(self, text: str) -> dict[str, float]:
        """Total keyword weight per intent (intents with no match left out).

        An English word is looked for as a substring first (a C scan), and only a text
        holding it runs its word-start pattern: most texts hold few of the words.
        """
        lowered = text.lower()
        compact = lowered.replace(" ", "")
        totals: dict[str, float] = {}
        for intent, stems, english in self._matchers:
            total = 0.0
            for word, spaceless, weight in stems:
                if word in lowered or (spaceless is not None and spaceless in compact):
                    total += weight
            for word, pattern, weight in english:
                if word in lowered and pattern.search(lowered):
                    total += weight
            if total:
                totals[intent] = total
        return totals

    def classify(self, text: str) -> tuple[str, float]:
        """The best intent and its share of all matched weight (0 for ``other``)."""
        scores = self.scores(text)
        if not scores:
            return NO_INTENT, 0.0
        order = {name: i for i, name in enumerate(INTENTS)}
        best = max(scores, key=lambda name: (scores[name], -order.get(name, len(order))))
        return best, scores[best] / sum(scores.values())
