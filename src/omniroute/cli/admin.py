"""``omniroute admin show|export|import|agent|remove-agent|bot|restore|audit``: live
configuration.

Every change goes through the same path as the gateway's admin API: validated
by the router's parser, published as a new version (applied by every router
without restart) and audited in PostgreSQL with a diff.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.cli.db import with_database
from omniroute.errors import ConfigurationError
from omniroute.gateway.administration import apply, current, restore_version
from omniroute.gateway.configuration import (
    AgentSpec,
    BotSpec,
    ChannelLimit,
    Document,
    delete_agent,
    from_toml,
    put_agent,
    set_bot,
    to_toml,
)


@cli.group("admin")
def admin_group() -> None:
    """Live administration: agents, pools, rules, default pool and the answer bot
    (versioned, audited)."""


def _actor(actor: str | None) -> str:
    return f"cli:{actor or getpass.getuser()}"


def _change(change: Callable[[Document], Document], actor: str, reason: str,
            expected: int | None = None) -> dict[str, Any]:
    settings = settings_from_env()
    outcome: dict[str, Any] = with_database(
        lambda conn: apply(settings, conn, actor, reason, expected, change))
    return outcome


def _report(outcome: dict[str, Any]) -> None:
    if not outcome["published"]:
        say(f"no change: the configuration stays at version {outcome['version']}")
    else:
        say(f"published configuration version {outcome['version']} "
            f"({len(outcome['changes'])} change(s)):")
        for change in outcome["changes"]:
            say(f"  {change['path']}: {json.dumps(change['before'])} -> "
                f"{json.dumps(change['after'])}")
    for warning in outcome["warnings"]:
        say(f"warning: {warning}")


ACTOR = click.option("--actor", default=None, help="Who makes the change (audit log); "
                     "default: your user name.")
REASON = click.option("--reason", default="", help="Why (audit log and the event).")


@admin_group.command()
@fails_cleanly
def show() -> None:
    """Print the live configuration (version and document) as JSON."""
    version, document = asyncio.run(current(settings_from_env()))
    click.echo(json.dumps({"version": version, **document}, indent=2))


@admin_group.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@fails_cleanly
def export(file: Path | None) -> None:
    """Write the live configuration as TOML to FILE (default: stdout)."""
    version, document = asyncio.run(current(settings_from_env()))
    text = f"# omniroute routing configuration, version {version}\n" + to_toml(document)
    if file is None:
        click.echo(text, nl=False)
    else:
        file.write_text(text)
        say(f"wrote version {version} to {file}")


@admin_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--if-version", type=int, default=None,
              help="Apply only if the live configuration is still at this version.")
@ACTOR
@REASON
@fails_cleanly
def import_(file: Path, if_version: int | None, actor: str | None, reason: str) -> None:
    """Replace the live configuration with a TOML FILE (validated first; diff printed)."""
    document = from_toml(file.read_text(), str(file))
    _report(_change(lambda _: document, _actor(actor), reason or f"import {file.name}",
                    if_version))


def _pairs(values: tuple[str, ...], what: str) -> dict[str, int]:
    found = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or not number.strip().isdigit():
            raise ConfigurationError(f"{what} {value!r} must look like name=NUMBER")
        found[name.strip()] = int(number)
    return found


@admin_group.command()
@click.argument("agent_id")
@click.option("--pool", required=True, help="The pool the agent works in.")
@click.option("--capacity", type=click.IntRange(0, 1000), default=1, show_default=True)
@click.option("--skill", "skills", multiple=True, metavar="NAME=LEVEL",
              help="A skill and its level 0-10 (repeat).")
@click.option("--cap", "caps", multiple=True, metavar="CHANNEL=N",
              help="At most N conversations on CHANNEL (repeat), e.g. email=1.")
@click.option("--auto-accept/--no-auto-accept", default=False, show_default=True)
@click.option("--name", default=None, help="The name customers see on the agent's replies.")
@ACTOR
@REASON
@fails_cleanly
def agent(agent_id: str, pool: str, capacity: int, skills: tuple[str, ...],
          caps: tuple[str, ...], auto_accept: bool, name: str | None, actor: str | None,
          reason: str) -> None:
    """Create or replace AGENT_ID's routing profile."""
    try:
        spec = AgentSpec(pool=pool, capacity=capacity, skills=_pairs(skills, "--skill"),
                         channels={ch: ChannelLimit(cap=n)
                                   for ch, n in _pairs(caps, "--cap").items()},
                         auto_accept=auto_accept, name=name)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    _report(_change(lambda d: put_agent(d, agent_id, spec), _actor(actor),
                    reason or f"agent {agent_id} saved"))


@admin_group.command("remove-agent")
@click.argument("agent_id")
@ACTOR
@REASON
@fails_cleanly
def remove_agent(agent_id: str, actor: str | None, reason: str) -> None:
    """Remove AGENT_ID from the configuration."""
    def change(document: Document) -> Document:
        if agent_id not in document.get("agents", {}):
            raise ConfigurationError(f"no agent {agent_id!r} in the configuration")
        return delete_agent(document, agent_id)
    _report(_change(change, _actor(actor), reason or f"agent {agent_id} removed"))


@admin_group.command()
@click.option("--on/--off", "enabled", required=True, help="Switch the answer bot on or off.")
@click.option("--channel", "channels", multiple=True,
              help="A channel it answers on (repeat; none: every channel).")
@click.option("--pool", "pools", multiple=True,
              help="A pool it answers for (repeat; none: every pool).")
@click.option("--hours", type=click.Choice(["always", "closed", "open"]), default="always",
              show_default=True, help="When, against the pool's business hours.")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True),
              default=BotSpec.model_fields["threshold"].default,
              show_default=True, help="Search score an answer needs.")
@ACTOR
@REASON
@fails_cleanly
def bot(enabled: bool, channels: tuple[str, ...], pools: tuple[str, ...], hours: str,
        threshold: float, actor: str | None, reason: str) -> None:
    """Switch the answer bot on or off and say where it answers (the workers that run the
    bot apply it without restart; the other [bot] settings keep their defaults)."""
    try:
        spec = BotSpec.model_validate({
            "enabled": enabled, "channels": list(channels) or None,
            "pools": list(pools) or None, "hours": hours, "threshold": threshold})
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    _report(_change(lambda d: set_bot(d, spec), _actor(actor),
                    reason or f"answer bot {'on' if enabled else 'off'}"))


@admin_group.command()
@click.argument("version", type=int)
@click.option("--if-version", type=int, default=None,
              help="Restore only if the live configuration is still at this version.")
@ACTOR
@REASON
@fails_cleanly
def restore(version: int, if_version: int | None, actor: str | None, reason: str) -> None:
    """Publish configuration VERSION again as the new live version (a rollback; audited,
    like the console's Restore; ``omniroute router history`` lists the versions)."""
    settings = settings_from_env()
    outcome: dict[str, Any] = with_database(lambda conn: restore_version(
        settings, conn, _actor(actor), version, reason, if_version))
    _report(outcome)


@admin_group.command()
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--action", default=None, help="Only actions starting with this (config, token…).")
@fails_cleanly
def audit(limit: int, action: str | None) -> None:
    """Print the audit log, newest first (one JSON object a line)."""
    async def read(conn: asyncpg.Connection) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT at, actor, action, subject, detail FROM audit_log "
            "WHERE $1::text IS NULL OR action LIKE $1 || '%' ORDER BY id DESC LIMIT $2",
            action, limit)
        return rows
    for row in with_database(read):
        click.echo(json.dumps({"at": row["at"].isoformat(), "actor": row["actor"],
                               "action": row["action"], "subject": row["subject"],
                               "detail": json.loads(row["detail"])}))
