"""``omniroute agents token|tokens|revoke|canned``: agent credentials and canned responses."""

from __future__ import annotations

import getpass
import json
from datetime import timedelta

import click

from omniroute.cli.app import cli, fails_cleanly, say
from omniroute.cli.db import with_database
from omniroute.errors import ConfigurationError
from omniroute.gateway.admin import (
    create_token,
    list_tokens,
    revoke_token,
    revoke_tokens,
    set_canned_response,
)
from omniroute.gateway.auth import Role, parse_duration


@cli.group()
def agents() -> None:
    """Agent credentials for the gateway, and canned responses."""


def _actor() -> str:
    """Who runs the command, for the audit log."""
    return f"cli:{getpass.getuser()}"


def _duration(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigurationError(f"--expires: {exc}") from exc


@agents.command()
@click.argument("agent_id")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=None,
              help="agent (own conversations), supervisor (all conversations and agent "
                   "statuses) or admin (also configuration and tokens). Default: agent.")
@click.option("--supervisor", is_flag=True, help="Same as --role supervisor.")
@click.option("--expires", default=None, metavar="DURATION",
              help="Lifetime like 30d, 12h, 90m, 2w (default: until revoked).")
@click.option("--label", default=None, help="A note shown in token listings (e.g. 'laptop').")
@fails_cleanly
def token(agent_id: str, role: str | None, supervisor: bool, expires: str | None,
          label: str | None) -> None:
    """Issue a bearer token for AGENT_ID (printed once; stored hashed)."""
    chosen = Role(role) if role else (Role.SUPERVISOR if supervisor else Role.AGENT)
    lifetime = _duration(expires)
    issued = with_database(lambda conn: create_token(conn, agent_id, chosen, expires_in=lifetime,
                                                     label=label, issued_by=_actor()))
    until = f", expires in {expires}" if expires else ""
    say(f"token for {agent_id} ({chosen.value}{until}); it is shown only now:")
    click.echo(issued)


@agents.command()
@click.argument("agent_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@fails_cleanly
def tokens(agent_id: str | None, as_json: bool) -> None:
    """List tokens (of AGENT_ID): id, role, state, expiry; never the token itself."""
    rows = with_database(lambda conn: list_tokens(conn, agent_id))
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{row['token_id']}  {row['agent_id']:<20} {row['role']:<10} "
                       f"{row['state']:<8} expires {row['expires_at'] or 'never'}"
                       f"{'  ' + row['label'] if row['label'] else ''}")
    if not rows:
        say("no tokens")


@agents.command()
@click.argument("agent_id", required=False)
@click.option("--token", "token_id", default=None, metavar="TOKEN_ID",
              help="Revoke only this token (its id from 'omniroute agents tokens').")
@fails_cleanly
def revoke(agent_id: str | None, token_id: str | None) -> None:
    """Revoke every token of AGENT_ID, or one token with --token."""
    if token_id:
        owner = with_database(lambda conn: revoke_token(conn, token_id, by=_actor()))
        say(f"revoked token {token_id} of {owner}")
        return
    if not agent_id:
        raise ConfigurationError("give AGENT_ID or --token TOKEN_ID")
    count = with_database(lambda conn: revoke_tokens(conn, agent_id, by=_actor()))
    say(f"revoked {count} token(s) of {agent_id}")


@agents.command()
@click.argument("shortcut")
@click.argument("text")
@click.option("--workspace", default="default", show_default=True)
@fails_cleanly
def canned(shortcut: str, text: str, workspace: str) -> None:
    """Create or replace the canned response SHORTCUT."""
    with_database(lambda conn: set_canned_response(conn, workspace, shortcut, text))
    say(f"canned response /{shortcut} saved")
