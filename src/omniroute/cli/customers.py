"""``omniroute customers export|erase ID``: a customer's data, for access and erasure requests."""

from __future__ import annotations

import getpass
import json

import click

from omniroute.cli.app import cli, fails_cleanly, say
from omniroute.cli.db import with_database
from omniroute.errors import RejectedInput
from omniroute.history.privacy import erase_customer, export_customer


@cli.group()
def customers() -> None:
    """A customer's data in history: export it, erase it."""


@customers.command()
@click.argument("customer_id")
@fails_cleanly
def export(customer_id: str) -> None:
    """Print everything held about CUSTOMER_ID as JSON."""
    data = with_database(lambda conn: export_customer(conn, customer_id))
    if data is None:
        raise RejectedInput(f"no customer {customer_id!r} in history")
    click.echo(json.dumps(data, default=str, indent=2, ensure_ascii=False))


@customers.command()
@click.argument("customer_id")
@click.option("--actor", default=None, help="Who asked for it (recorded in the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@fails_cleanly
def erase(customer_id: str, actor: str | None, yes: bool) -> None:
    """Erase CUSTOMER_ID's messages, addresses and notes; keep anonymous metrics."""
    if not yes:
        click.confirm(f"erase every message and address of {customer_id}?", abort=True)
    who = actor or getpass.getuser()
    detail = with_database(lambda conn: erase_customer(conn, customer_id, actor=who))
    if detail is None:
        raise RejectedInput(f"no customer {customer_id!r} in history")
    counts = ", ".join(f"{n} {what}" for what, n in detail["counts"].items())
    say(f"erased {customer_id}: {counts}; metrics kept as {detail['anonymous_id']}")
    topics = detail["compacted_topics"]
    say("compacted topics needing tombstones: " + (", ".join(topics) if topics else
        "none (no omniroute topic is compacted; raw events age out with topic retention)"))
