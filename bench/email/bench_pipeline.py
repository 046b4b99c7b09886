"""Benchmark: the email pipeline on every shared fixture, against bare stdlib parsing.

Run: ``.venv/bin/python bench/email/bench_pipeline.py [rounds]``. Prints messages per
second for the baseline (``email.message_from_bytes`` + walking the parts) and for
``normalize_email`` (parse, decode, HTML to text, classify, split the reply, build
the contract model), and their ratio: the cost of everything omniroute adds.
"""

from __future__ import annotations

import contextlib
import email
import sys
import time
from pathlib import Path

from omniroute.errors import RejectedInput
from omniroute_connectors.email.normalize import EmailContext, normalize_email

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "email"


def baseline(raw: bytes) -> None:
    for part in email.message_from_bytes(raw).walk():
        part.get_payload(decode=True)


def pipeline(raw: bytes) -> None:
    with contextlib.suppress(RejectedInput):
        normalize_email(raw, EmailContext())


def rate(fn, mails: list[bytes], rounds: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(rounds):
        for raw in mails:
            fn(raw)
    return rounds * len(mails) / (time.perf_counter() - started)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    mails = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.eml"))]
    size = sum(len(m) for m in mails) / len(mails)
    base = rate(baseline, mails, rounds)
    full = rate(pipeline, mails, rounds)
    print(f"fixtures: {len(mails)} emails, mean {size / 1024:.1f} KiB, {rounds} rounds")
    print(f"baseline stdlib parse+decode: {base:,.0f} emails/s")
    print(f"omniroute normalize_email:    {full:,.0f} emails/s")
    print(f"ratio pipeline/baseline: {full / base:.2f} (cost x{base / full:.2f})")


if __name__ == "__main__":
    main()
