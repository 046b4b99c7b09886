"""The soak-and-fault run, long form: more customers and messages, and what it measured.

The same scenario as ``tests/e2e/soak`` (signed webhooks on SMS, WhatsApp,
Telegram and LINE; SIGKILL of worker, router, sink and ingress mid-run; one
pass with one process of each, one with two), at the size you choose, and a
baseline in the same run: the same webhooks through the same stack with no
process killed. Prints the audit of each pass and the delivery figures.

    .venv/bin/python bench/soak/soak.py [--customers 1000] [--messages 3000] [--rate 40]

Uses the broker at OMNIROUTE_KAFKA_BOOTSTRAP when it answers, else starts a
throwaway local one; a throwaway embedded PostgreSQL holds the history.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from harness import soak
from omniroute.infra.broker import answering_broker
from omniroute.infra.migrations import migrate
from omniroute.infra.postgres import start_embedded
from omniroute.settings import Settings


async def fresh_database(server: str) -> str:
    """A new migrated database on ``server``."""
    name = f"soak_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    base, sep, query = server.partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}{sep}{query}"
    conn = await asyncpg.connect(url)
    await migrate(conn)
    await conn.close()
    return url


async def one_pass(label: str, scenario: soak.Scenario, bootstrap: str, server: str,
                   home: Path) -> bool:
    outcome = await soak.run(scenario, kafka_bootstrap=bootstrap,
                             namespace=f"soak{uuid.uuid4().hex[:8]}.",
                             database_url=await fresh_database(server), state=home / label,
                             say=lambda line: print(f"[{label}] {line}", flush=True))
    d = outcome.delivery
    print(f"[{label}] {len(d.acknowledged)} acknowledged in {d.seconds:.1f}s "
          f"({len(d.acknowledged) / d.seconds:.1f} req/s, {d.retries} retries); killed "
          f"{', '.join(outcome.killed) or 'nothing'}; settled in {outcome.settle_seconds:.1f}s; "
          f"gateway problems {len(outcome.gateway_problems)}", flush=True)
    print(f"[{label}] {outcome.findings.summary()} -> {'OK' if outcome.findings.ok else 'FAIL'}",
          flush=True)
    return outcome.findings.ok and not outcome.gateway_problems


async def main_async(args: argparse.Namespace, bootstrap: str, server: str, home: Path) -> int:
    base = dict(customers=args.customers, messages=args.messages, rate=args.rate,
                senders=args.senders, settle_seconds=args.settle)
    passes = [
        ("baseline", soak.Scenario(**base, kills=())),
        ("one-of-each", soak.Scenario(**base)),
        ("two-of-each", soak.Scenario(**base, replicas=2,
                                      kills=("worker-2", "router-1", "sink-2", "ingress"))),
    ]
    results = [await one_pass(label, scenario, bootstrap, server, home)
               for label, scenario in passes]
    return 0 if all(results) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=40.0, help="webhooks per second")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--settle", type=float, default=600.0, help="seconds to wait at the end")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="omniroute-soak-") as tmp:
        home = Path(tmp)
        server = start_embedded(home / "pg")
        with answering_broker(settings.kafka_bootstrap, settings.cache_dir, home / "kafka") as b:
            sys.exit(asyncio.run(main_async(args, b, server, home)))


if __name__ == "__main__":
    main()
