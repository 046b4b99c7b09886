"""Triage accuracy and cost on the labelled set shipped in tests/unit/triage.

    .venv/bin/python bench/triage/run.py [--repeat N]

Prints accuracy of language, intent and sentiment (per language and overall),
the intent confusion pairs, and the CPU cost per message; the baseline in the
same run is a majority-class guesser (what accuracy means against "always the
most common label") and, for cost, language detection alone.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from omniroute.triage import TriageConfig, triage
from omniroute.triage.language import detect_language

DATA = Path(__file__).resolve().parents[2] / "tests" / "unit" / "triage"


def load(pattern: str = "labelled_*.tsv") -> list[tuple[str, str, str, str]]:
    """(language, intent, sentiment, text) rows of every labelled file."""
    rows = []
    for path in sorted(DATA.glob(pattern)):
        for line in path.read_text("utf-8").splitlines():
            if line and not line.startswith("#"):
                language, intent, sentiment, text = line.split("\t", 3)
                rows.append((language, intent, sentiment, text))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the set")
    parser.add_argument("--holdout", action="store_true",
                        help="score the held-out set (written after the lexicons were tuned)")
    args = parser.parse_args()
    rows = load("holdout_*.tsv" if args.holdout else "labelled_*.tsv")
    print("set:", "held out (never used to tune)" if args.holdout else
          "labelled (the lexicons were tuned while writing it)")
    config = TriageConfig()
    started = time.perf_counter()
    triage("warm up the detector models", config)
    warm = time.perf_counter() - started
    results = [triage(text, config) for _, _, _, text in rows]
    hits: Counter[tuple[str, str]] = Counter()
    totals: Counter[tuple[str, str]] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    for (language, intent, sentiment, _), found in zip(rows, results, strict=True):
        for group in (language, "all"):
            totals[(group, "language")] += 1
            hits[(group, "language")] += found.language == language
            if intent != "-":
                totals[(group, "intent")] += 1
                hits[(group, "intent")] += found.intent == intent
                totals[(group, "sentiment")] += 1
                hits[(group, "sentiment")] += found.sentiment_label == sentiment
        if intent != "-" and found.intent != intent:
            confusion[(intent, found.intent)] += 1
    print(f"labelled messages: {len(rows)} "
          f"({', '.join(f'{k}={v}' for k, v in sorted(Counter(r[0] for r in rows).items()))})")
    print(f"{'group':6} {'language':>9} {'intent':>9} {'sentiment':>10}")
    for group in ("ko", "en", "all"):
        cells = [f"{hits[(group, m)] / totals[(group, m)]:>9.1%}" if totals[(group, m)] else
                 f"{'-':>9}" for m in ("language", "intent", "sentiment")]
        print(f"{group:6} {cells[0]} {cells[1]} {cells[2]:>10}")
    scored = [r for r in rows if r[1] != "-"]
    majority_intent = Counter(r[1] for r in scored).most_common(1)[0][1] / len(scored)
    majority_sentiment = Counter(r[2] for r in scored).most_common(1)[0][1] / len(scored)
    print(f"baseline (majority class): intent {majority_intent:.1%}, "
          f"sentiment {majority_sentiment:.1%}")
    print("most frequent intent confusions (expected -> found):",
          ", ".join(f"{a}->{b} x{n}" for (a, b), n in confusion.most_common(6)))
    texts = [r[3] for r in rows]
    started = time.process_time()
    for _ in range(args.repeat):
        for text in texts:
            triage(text, config)
    full = (time.process_time() - started) / (args.repeat * len(texts))
    started = time.process_time()
    for _ in range(args.repeat):
        for text in texts:
            detect_language(text)
    lang_only = (time.process_time() - started) / (args.repeat * len(texts))
    print(f"cost per message (CPU): triage {full * 1e6:.0f} us, language detection alone "
          f"{lang_only * 1e6:.0f} us (x{full / lang_only:.2f}); first call incl. model load "
          f"{warm * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
