"""Issue 17's goal table in one run: each stage beside its same-run baseline, and the goal.

    .venv/bin/python bench/speed.py [--quick] [--only worker,sink,router,ingress]

Runs the four stage harnesses one after the other (each prints its own figures,
shown here as progress, prefixed by the stage), then prints one table:

- identity + threading (worker), ``identity/bench_identity.py --engine batch``:
  >= 0.5 of a raw aiokafka consume + produce passthrough;
- history sink, ``sink/bench_sink.py``: >= 0.5 of a raw asyncpg COPY of the same rows;
- routing request -> assignment readable, ``routing/bench_e2e.py --commit-intervals
  0.02`` (requests written into their pool as the worker writes them: one hop):
  p99 <= 3 times a raw produce -> consume p99;
- signed webhooks through the ingress, ``ingress/bench_ingress.py``: >= 0.8 of an
  unsigned publish-only endpoint.

Every harness measures its baseline in the same process on the same machine, so
the ratio is the figure to compare; the load average is printed with the table.
``--quick`` runs smaller workloads (a smoke run, not figures to publish).
Uses ``OMNIROUTE_KAFKA_BOOTSTRAP`` / ``OMNIROUTE_DATABASE_URL`` when they answer,
else each harness starts its own throwaway broker or PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    """One stage of the table, read from its harness's output."""

    ours: str
    baseline: str
    ratio: float
    goal: str
    met: bool


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:
        raise ValueError(f"the harness printed no line matching {pattern!r}")
    return float(found.group(1).replace(",", ""))


def worker(text: str) -> Row:
    base = _number(r"^baseline aiokafka consume\+produce passthrough:\s+([\d.]+)", text)
    ours = _number(r"^omniroute worker --engine batch:\s+([\d.]+)", text)
    return Row(f"{ours:,.0f} msg/s", f"raw aiokafka consume + produce {base:,.0f} msg/s",
               ours / base, "≥ 0.5", ours / base >= 0.5)


def sink(text: str) -> Row:
    ours = _number(r"^sink write path :\s+([\d.]+)", text)
    base = _number(r"^raw asyncpg COPY:\s+([\d.]+)", text)
    cpu = _number(r"^ratio in CPU time.*?: ([\d.]+)", text)
    return Row(f"{ours:,.0f} message rows/s (ratio in CPU time {cpu:.3f})",
               f"raw COPY {base:,.0f} rows/s", ours / base, "≥ 0.5", ours / base >= 0.5)


def router(text: str) -> Row:
    raw = re.search(r"^raw Kafka produce -> consume \(baseline\)\s+([\d.]+)\s+([\d.]+)", text,
                    re.MULTILINE)
    ours = re.search(r"^routing request -> assignment readable\s+([\d.]+)\s+([\d.]+)", text,
                     re.MULTILINE)
    if raw is None or ours is None:
        raise ValueError("the harness printed no latency lines")
    base50, base99 = float(raw.group(1)), float(raw.group(2))
    p50, p99 = float(ours.group(1)), float(ours.group(2))
    return Row(f"p50 {p50:.0f} ms, p99 {p99:.0f} ms",
               f"raw produce → consume p50 {base50:.1f} ms, p99 {base99:.1f} ms",
               p99 / base99, "p99 ≤ x3", p99 / base99 <= 3)


def ingress(text: str) -> Row:
    base = _number(r"^baseline\s+unsigned publish-only:\s+([\d.]+)", text)
    ours = _number(r"^connector signed Twilio webhook:\s+([\d.]+)", text)
    cpu = _number(r"ratio in CPU ([\d.]+)", text)
    return Row(f"{ours:,.0f} req/s (ratio in CPU time {cpu:.2f})",
               f"unsigned publish-only {base:,.0f} req/s", ours / base, "≥ 0.8",
               ours / base >= 0.8)


STAGES: dict[str, tuple[str, list[str], list[str], Callable[[str], Row]]] = {
    # name: (what, argv, argv with --quick, reader)
    "worker": ("identity + threading (worker)",
               ["identity/bench_identity.py", "--engine", "batch"],
               ["identity/bench_identity.py", "--engine", "batch", "--messages", "1000",
                "--senders", "100"], worker),
    "sink": ("history sink", ["sink/bench_sink.py"],
             ["sink/bench_sink.py", "--messages", "4000", "--rounds", "1"], sink),
    "router": ("routing request → assignment readable (written into its pool as the worker "
               "does: one hop; 20 ms commit interval, 200 req/s)",
               ["routing/bench_e2e.py", "--commit-intervals", "0.02"],
               ["routing/bench_e2e.py", "--commit-intervals", "0.02", "--count", "400"],
               router),
    "ingress": ("signed webhooks through the ingress", ["ingress/bench_ingress.py"],
                ["ingress/bench_ingress.py", "--requests", "900"], ingress),
}


def run(name: str, argv: list[str]) -> str:
    """Run one harness, echoing its lines (not its JSON logs) as progress; its stdout."""
    started = time.monotonic()
    print(f"[{name}] running {' '.join(argv)}", flush=True)
    process = subprocess.Popen([sys.executable, str(BENCH / argv[0]), *argv[1:]],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if not line.startswith("{"):
            print(f"[{name}] {line}", end="", flush=True)
    if process.wait() != 0:
        raise SystemExit(f"[{name}] the harness failed (exit {process.returncode})")
    print(f"[{name}] done in {time.monotonic() - started:.0f} s", flush=True)
    return "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads: a smoke run")
    parser.add_argument("--only", default=",".join(STAGES),
                        help="comma-separated stages: " + ", ".join(STAGES))
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(unknown)}")
    rows = []
    for name in chosen:
        what, full, quick, read = STAGES[name]
        rows.append((what, read(run(name, quick if args.quick else full))))
    print()
    print(f"issue 17 goals, {time.strftime('%Y-%m-%d %H:%M %Z')}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}{' (quick: smoke run)' * args.quick}")
    print("| stage | omniroute | baseline in the same run | ratio | goal | met |")
    print("|---|---|---|---|---|---|")
    for what, row in rows:
        print(f"| {what} | {row.ours} | {row.baseline} | {row.ratio:.3f} | {row.goal} | "
              f"{'yes' if row.met else 'no'} |")


if __name__ == "__main__":
    main()
