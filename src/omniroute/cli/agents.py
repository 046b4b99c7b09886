"""``omniroute agents token|revoke|canned``: agent credentials and canned responses."""

from __future__ import annotations

import click

from omniroute.cli.app import cli, fails_cleanly, say
from omniroute.cli.db import with_database
from omniroute.gateway.admin import create_token, revoke_tokens, set_canned_response
from omniroute.gateway.auth import Role


@cli.group()
def agents() -> None:
    """Agent credentials for the gateway, and canned responses."""


@agents.command()
@click.argument("agent_id")
@click.option("--supervisor", is_flag=True, help="Issue a supervisor token (sees everything).")
@fails_cleanly
def token(agent_id: str, supervisor: bool) -> None:
    """Issue a bearer token for AGENT_ID (printed once; stored hashed)."""
    role = Role.SUPERVISOR if supervisor else Role.AGENT
    issued = with_database(lambda conn: create_token(conn, agent_id, role))
    say(f"token for {agent_id} ({role.value}); it is shown only now:")
    click.echo(issued)


@agents.command()
@click.argument("agent_id")
@fails_cleanly
def revoke(agent_id: str) -> None:
    """Revoke every token of AGENT_ID."""
    count = with_database(lambda conn: revoke_tokens(conn, agent_id))
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
