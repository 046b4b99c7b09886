"""The automation admin API the gateway mounts (supervisors only).

- ``GET /api/v1/automation/rules`` — every workspace's live rules
- ``PUT /api/v1/automation/rules/{workspace}`` — ``{"rules": [...]}``: validate and
  replace live (every worker applies it within a second); ``[]`` returns to the file's
- ``POST /api/v1/automation/dry-run`` — ``{"workspace", "channel", "text", "event",
  "at", "attributes", "tags"}``: triage, matched rules, their actions and the
  automatic replies, without sending anything
- ``POST /api/v1/automation/proactive`` — a :class:`~.proactive.ProactiveRequest`:
  202 with the message's ids, 422 outside WhatsApp's window without a template. The
  request id is claimed in PostgreSQL before the message is published (as replies'
  ``client_id``: :mod:`omniroute.gateway.idempotency`), so a retried request reaches the
  customer once: 202 with the same ids and ``Idempotent-Replayed: true``, 409 while the
  first is being published or when the id was used for a different message
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from omniroute.automation.config import AutomationConfig, load_automation
from omniroute.automation.dryrun import dry_run
from omniroute.automation.proactive import ProactiveRefused, ProactiveRequest, proactive_message
from omniroute.automation.rules import RuleError
from omniroute.automation.store import publish_rules, read_rules
from omniroute.contract import utcnow
from omniroute.contract.topics import OUTBOUND
from omniroute.gateway.idempotency import Claim, ReplyKeys, digest, publish_once, refusal
from omniroute.gateway.problems import BadRequest, BadRule, Conflict, OutsideWindow
from omniroute.settings import Settings

Authorize = Callable[[web.Request], Awaitable[None]]
LastInbound = Callable[[str, str, str], Awaitable[datetime | None]]
"""(workspace, channel, address) -> when that customer last wrote on that channel."""


class AutomationApi:
    """Handlers of the automation admin API."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer, authorize: Authorize,
                 last_inbound: LastInbound, keys: ReplyKeys,
                 config: AutomationConfig | None = None) -> None:
        self.settings, self.producer, self.authorize = settings, producer, authorize
        self.last_inbound, self.keys = last_inbound, keys
        self._config = config

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from exc

    async def list_rules(self, request: web.Request) -> web.Response:
        await self.authorize(request)
        return web.json_response({"workspaces": await read_rules(self.settings)})

    async def put_rules(self, request: web.Request) -> web.Response:
        await self.authorize(request)
        body = await self._json(request)
        rules = body.get("rules") if isinstance(body, dict) else None
        if not isinstance(rules, list):
            raise BadRequest("the body must be {\"rules\": [...]}")
        try:
            await publish_rules(self.settings, request.match_info["workspace"], rules)
        except RuleError as exc:
            raise BadRule(str(exc)) from exc
        return web.json_response({"workspace": request.match_info["workspace"],
                                  "rules": len(rules)})

    async def dry_run(self, request: web.Request) -> web.Response:
        await self.authorize(request)
        body = await self._json(request)
        try:
            if self._config is None:
                self._config = load_automation(self.settings.automation_config)
            result = dry_run(self._config, **body)
        except (TypeError, ValueError, RuleError) as exc:
            raise BadRequest(str(exc)) from exc
        return web.json_response(result)

    async def proactive(self, request: web.Request) -> web.Response:
        await self.authorize(request)
        try:
            wanted = ProactiveRequest.model_validate(await self._json(request))
        except ValidationError as exc:
            raise BadRequest(str(exc).splitlines()[0]) from exc
        last = await self.last_inbound(wanted.workspace, wanted.channel.value, wanted.recipient)
        try:
            message = proactive_message(wanted, last, utcnow())
        except ProactiveRefused as exc:
            raise OutsideWindow(str(exc)) from exc
        answer = {"event_id": message.event_id, "conversation_id": message.conversation_id,
                  "template": message.template is not None}
        claim, _ = await publish_once(
            self.keys, message.event_id, digest(wanted.model_dump_json()),
            lambda: self.producer.send_and_wait(self.settings.topic(OUTBOUND.name),
                                                message.to_json_bytes(),
                                                key=message.conversation_id.encode()))
        if (refused := refusal(claim, "request_id", "message")) is not None:
            raise Conflict(refused)
        replayed = {"Idempotent-Replayed": "true"} if claim is Claim.REPLAYED else None
        return web.json_response(answer, status=202, headers=replayed)

    def mount(self, app: web.Application, prefix: str = "/api/v1/automation") -> None:
        """Add the routes to ``app``."""
        app.router.add_get(f"{prefix}/rules", self.list_rules)
        app.router.add_put(f"{prefix}/rules/{{workspace}}", self.put_rules)
        app.router.add_post(f"{prefix}/dry-run", self.dry_run)
        app.router.add_post(f"{prefix}/proactive", self.proactive)


def mount_on_gateway(app: web.Application, gateway: Any) -> None:
    """Mount the API on the agent gateway: supervisors' tokens only; the window check reads
    the customer's latest inbound message from history."""
    from omniroute.gateway.problems import Forbidden

    async def supervisors_only(request: web.Request) -> None:
        if not (await gateway.who(request)).supervisor:
            raise Forbidden("automation is managed by supervisors")

    async def last_inbound(workspace: str, channel: str, address: str) -> datetime | None:
        # the address's latest inbound message, as the sink keeps it on the address (an index
        # lookup; until 2026-12-07 a scan of every message by sender, once per request)
        value: datetime | None = await gateway.pool.fetchval(
            "SELECT max(a.last_seen_at) FROM customer_addresses a JOIN customers c "
            "USING (customer_id) WHERE c.workspace = $1 AND a.channel = $2 AND a.address = $3",
            workspace, channel, address)
        return value

    AutomationApi(gateway.settings, gateway.producer, supervisors_only,
                  last_inbound, ReplyKeys(gateway.pool)).mount(app)
