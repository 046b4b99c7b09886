"""``omniroute automation``: live rules, dry runs and proactive messages."""

from __future__ import annotations

import asyncio
import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from omniroute.cli.app import cli, fails_cleanly, say, settings_from_env
from omniroute.cli.db import with_database
from omniroute.errors import BrokerError, ConfigurationError

if TYPE_CHECKING:
    import asyncpg

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _rules_file(path: Path) -> list[dict[str, Any]]:
    """``[[rules]]`` tables of a TOML file, or a JSON list / ``{"rules": [...]}``."""
    try:
        text = path.read_text()
        raw: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read rules from {path}: {exc}") from exc
    rules = raw.get("rules", []) if isinstance(raw, dict) else raw
    if not isinstance(rules, list):
        raise ConfigurationError(f"{path}: expected a list of rules")
    return rules


@cli.group()
def automation() -> None:
    """Automation rules (live), dry runs, proactive messages — see docs/automation.md."""


@automation.group()
def rules() -> None:
    """The live rules every worker applies (they override the automation file's)."""


@rules.command("set")
@click.argument("workspace")
@click.argument("path", type=FILE)
@fails_cleanly
def set_rules(workspace: str, path: Path) -> None:
    """Validate PATH's rules and make them WORKSPACE's live rules."""
    from omniroute.automation.rules import RuleError
    from omniroute.automation.store import publish_rules

    settings = settings_from_env()
    found = _rules_file(path)
    try:
        asyncio.run(publish_rules(settings, workspace, found))
    except RuleError as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
    say(f"{len(found)} rule(s) live for workspace {workspace}")


@rules.command("clear")
@click.argument("workspace")
@fails_cleanly
def clear_rules(workspace: str) -> None:
    """Drop WORKSPACE's live rules (the automation file's apply again)."""
    from omniroute.automation.store import publish_rules

    asyncio.run(publish_rules(settings_from_env(), workspace, []))
    say(f"live rules of {workspace} cleared")


@rules.command("show")
@fails_cleanly
def show_rules() -> None:
    """Print every workspace's live rules as JSON."""
    from omniroute.automation.store import read_rules

    click.echo(json.dumps(asyncio.run(read_rules(settings_from_env())), ensure_ascii=False,
                          indent=2))


@automation.command("dry-run")
@click.option("--workspace", default="default", show_default=True)
@click.option("--channel", default="sms", show_default=True)
@click.option("--event", default="message_received", show_default=True)
@click.option("--text", required=True, help="The customer's message.")
@click.option("--rules", "rules_path", type=FILE, default=None,
              help="Draft rules to try instead of the workspace's (TOML or JSON).")
@click.option("--closed", is_flag=True, help="Evaluate as outside business hours.")
@fails_cleanly
def dry_run_command(workspace: str, channel: str, event: str, text: str,
                    rules_path: Path | None, closed: bool) -> None:
    """Print what automation would do with one message (nothing is sent)."""
    from omniroute.automation.config import load_automation
    from omniroute.automation.dryrun import dry_run
    from omniroute.automation.rules import RuleError

    settings = settings_from_env()
    config = load_automation(settings.automation_config)
    draft = _rules_file(rules_path) if rules_path else None
    try:
        result = dry_run(config, workspace=workspace, channel=channel, text=text, event=event,
                         rules=draft, business_hours=not closed)
    except (RuleError, ValueError) as exc:
        raise ConfigurationError(str(exc)) from exc
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@automation.command("send")
@click.option("--request-id", required=True, help="Idempotency key (a retry sends nothing new).")
@click.option("--workspace", default="default", show_default=True)
@click.option("--channel", required=True)
@click.option("--account", "channel_account", required=True, help="The business's account.")
@click.option("--to", "recipient", required=True, help="The customer's address.")
@click.option("--text", default=None)
@click.option("--template", default=None, help="Approved template name (WhatsApp).")
@click.option("--language", default="en", show_default=True, help="Template language.")
@click.option("--param", "params", multiple=True, help="Template parameter (repeatable).")
@click.option("--in-window", is_flag=True,
              help="The customer wrote within 24 hours (free text allowed on WhatsApp).")
@fails_cleanly
def send(request_id: str, workspace: str, channel: str, channel_account: str, recipient: str,
         text: str | None, template: str | None, language: str, params: tuple[str, ...],
         in_window: bool) -> None:
    """Start a conversation: a proactive message on omniroute.outbound.v1."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError
    from pydantic import ValidationError

    from omniroute.automation.proactive import (
        ProactiveRefused,
        ProactiveRequest,
        proactive_message,
    )
    from omniroute.contract import utcnow
    from omniroute.contract.topics import OUTBOUND
    from omniroute.gateway.idempotency import Claim, ReplyKeys, digest, publish_once, refusal

    settings = settings_from_env()
    try:
        wanted = ProactiveRequest.model_validate({
            "request_id": request_id, "workspace": workspace, "channel": channel,
            "channel_account": channel_account, "recipient": recipient, "text": text,
            "template": {"name": template, "language": language, "parameters": list(params)}
            if template else None})
        now = utcnow()
        message = proactive_message(wanted, now if in_window else None, now)
    except (ValidationError, ProactiveRefused) as exc:
        raise ConfigurationError(str(exc).splitlines()[0]) from exc

    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                                    enable_idempotence=True)
        try:
            await producer.start()
            await producer.send_and_wait(settings.topic(OUTBOUND.name), message.to_json_bytes(),
                                         key=message.conversation_id.encode())
        except KafkaError as exc:
            raise BrokerError(f"cannot publish to Kafka: {exc}") from exc
        finally:
            await producer.stop()

    async def once(conn: asyncpg.Connection) -> Claim:
        """The request id is claimed as the gateway's API claims it: a retry sends nothing."""
        claim, _ = await publish_once(ReplyKeys(conn), message.event_id,
                                      digest(wanted.model_dump_json()), publish)
        return claim

    claim = with_database(once)
    if (refused := refusal(claim, "request id", "message")) is not None:
        raise ConfigurationError(refused)
    click.echo(json.dumps({"event_id": message.event_id, "replayed": claim is Claim.REPLAYED,
                           "conversation_id": message.conversation_id}))
