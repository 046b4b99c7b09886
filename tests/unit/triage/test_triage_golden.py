"""Triage output is unchanged, field for field, on every text we have (a golden file).

``golden_triage.jsonl`` holds, for every labelled and held-out text, the text of
every fixture email (``../shared/fixtures/email``: parsed body, visible reply
part, subject, raw ``.txt`` files) and a few edge cases, the full
:class:`~omniroute.triage.Triage` and its ``as_fields()`` under three
configurations (the default; the default with a previous language; a
workspace's own lexicon, skills, weights and languages). It was written by
the code before the triage speed-up (main at 6f25a07); a speed-up must keep
every value, floats included, bit for bit. Regenerate only for a deliberate
change of triage's behaviour:

    .venv/bin/python tests/unit/triage/test_triage_golden.py --write
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from omniroute.triage import TriageConfig, triage
from omniroute.triage.core import SeverityWeights
from omniroute.triage.intents import IntentLexicon

HERE = Path(__file__).parent
GOLDEN = HERE / "golden_triage.jsonl"
EMAILS = HERE.parents[2].parent / "shared" / "fixtures" / "email"

EDGE_CASES = [
    "", " ", "5", "ok", "👍", "message 1", "message 4999", "!!!", "HELP ME NOW PLEASE!!!",
    "a" * 30, "ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ", "ORD-12345", "#123456", "order: AB-99812 please",
    "주문번호 20261130-5521 환불 진행 상황 알려주세요", "Email me at jane@example.com or +1 555 010 1234",
    "bit.ly/abc click here you won", "talk to a human", "상담원 연결해주세요", "I will sue you, lawyer",
    "Where is my ORDER #5512345?? THIS IS UNACCEPTABLE", "¿Dónde está mi pedido?", "我的订单在哪里",
    "注文はどこですか", "Mixed 환불 refund please 주문 123456", "카드 결제 두 번 결제됐어요",
    "좋지 않아요 정말 만족 못해요", "cancel my subscription, stop my subscription now",
    "Ich möchte eine Rückerstattung", "Привет, где мой заказ?", "\u00a0\t\n",
]


def _configs() -> dict[str, tuple[TriageConfig, str | None]]:
    workspace = TriageConfig(
        languages=("ko", "en"), default_language="ko",
        lexicon=IntentLexicon({
            "warranty": {"ko": {"보증": 3, "무상 수리": 2}, "en": {"warranty": 3, "repair": 2}},
            "refund": {"ko": {"환불": 4}, "en": {"refund": 4, "money back": 3}},
            "other_words": {"ja": {"返金": 2}, "en": {"c++": 1, "e-mail": 1}},
        }),
        skills={"warranty": "repairs", "refund": "billing"}, skill_level=3,
        weights=SeverityWeights(negative=30, threat=40, intents={"warranty": 5.0}),
        priority_per_severity=0.9, human_boost=10, spam_at=0.3)
    return {"default": (TriageConfig(), None), "previous-ko": (TriageConfig(), "ko"),
            "workspace": (workspace, "en")}


def _email_texts() -> list[str]:
    from omniroute_connectors.email.mime import parse_email
    from omniroute_connectors.email.replies import split_reply

    texts: list[str] = []
    for path in sorted(EMAILS.rglob("*")):
        if not path.is_file() or path.suffix == ".md":
            continue
        raw = path.read_bytes()
        if path.suffix == ".eml":
            parsed = parse_email(raw)
            texts += [parsed.text, split_reply(parsed.text).visible, parsed.subject]
        else:
            texts.append(raw.decode("utf-8", "replace"))
    return texts


def corpus() -> list[str]:
    """Every text the golden file covers, in a stable order, without repeats."""
    texts: list[str] = []
    for path in sorted(HERE.glob("*.tsv")):
        for line in path.read_text("utf-8").splitlines():
            if line and not line.startswith("#"):
                texts.append(line.split("\t", 3)[3])
    texts += _email_texts() + EDGE_CASES
    return list(dict.fromkeys(texts))


def outputs(text: str) -> dict[str, Any]:
    """Every configuration's Triage of ``text`` and its ``as_fields()``, as JSON values."""
    found = {}
    for name, (config, previous) in _configs().items():
        result = triage(text, config, previous)
        found[name] = {"triage": asdict(result), "fields": result.as_fields()}
    return found


def _golden() -> list[dict[str, Any]]:
    if not GOLDEN.exists():  # being written
        return []
    return [json.loads(line) for line in GOLDEN.read_text("utf-8").splitlines()]


def test_the_golden_file_covers_the_whole_corpus() -> None:
    """Every labelled text and fixture email's text has its recorded output."""
    assert EMAILS.is_dir(), f"{EMAILS} is missing (clone beside shared/)"
    assert [row["text"] for row in _golden()] == corpus()


@pytest.mark.parametrize("row", _golden(), ids=lambda row: str(row["i"]))
def test_triage_matches_the_golden_file(row: dict[str, Any]) -> None:
    """Language, intent, confidence, sentiment, slots, spam, severity, priority and skills
    are what the code before the speed-up found (JSON round trip keeps floats exact)."""
    assert json.loads(json.dumps(outputs(row["text"]))) == row["out"]


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    with GOLDEN.open("w", encoding="utf-8") as out:
        for i, text in enumerate(corpus()):
            out.write(json.dumps({"i": i, "text": text, "out": outputs(text)},
                                 ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN}")
