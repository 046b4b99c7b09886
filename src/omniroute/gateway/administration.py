"""Admin routes: the live routing configuration, its audit trail, and tokens.

Every change reads the current version (``routing.live.read_config``), applies
one pure change (:mod:`omniroute.gateway.configuration`), validates the result
with the router's parser, publishes it (``routing.live.publish_config``: a new
version every router applies without restart) and audits the diff in
PostgreSQL. ``If-Match: <version>`` makes a change conditional (412 when the
configuration moved on meanwhile).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from aiohttp import web
from pydantic import Field

from omniroute.errors import ConfigurationError
from omniroute.gateway import admin
from omniroute.gateway.auth import Principal, Role, hash_token, parse_duration, token_id
from omniroute.gateway.configuration import (
    AgentSpec,
    BotSpec,
    Document,
    PoolSpec,
    RoutingSpec,
    Spec,
    as_document,
    delete_agent,
    delete_pool,
    diff,
    from_toml,
    put_agent,
    put_pool,
    set_bot,
    set_routing,
    to_toml,
    validated,
)
from omniroute.gateway.problems import BadRequest, Forbidden, NotFound, VersionConflict
from omniroute.routing.config import RoutingConfig
from omniroute.settings import Settings

if TYPE_CHECKING:
    from omniroute.gateway.app import Gateway
    from omniroute.gateway.supervision import Route
    from omniroute.routing.live import ConfigVersion


class TokenRequest(Spec):
    """Issue a token."""

    agent_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:@-]{1,200}$")]
    role: Role = Role.AGENT
    expires: str | None = Field(default=None, description="Lifetime like 30d, 12h, 90m.")
    label: Annotated[str, Field(max_length=200)] | None = None


class RestoreRequest(Spec):
    """Publish an earlier configuration version again."""

    reason: Annotated[str, Field(max_length=1000)] = ""


class ConfigDocument(Spec):
    """A whole configuration (the TOML file's shape), replacing the current one."""

    routing: dict[str, Any] = {}
    pools: dict[str, dict[str, Any]] = {}
    agents: dict[str, dict[str, Any]] = {}
    bot: dict[str, Any] = {}
    reason: Annotated[str, Field(max_length=1000)] = ""


async def current(settings: Settings) -> tuple[int, Document]:
    """The live configuration's version and document."""
    from omniroute.routing.live import read_config

    version, config = await read_config(settings)
    return version, as_document(config)


async def apply(settings: Settings, db: asyncpg.Pool | asyncpg.Connection, actor: str,
                reason: str, expected: int | None,
                change: Callable[[Document], Document],
                versions: list[ConfigVersion] | None = None) -> dict[str, Any]:
    """Apply one change: validate, publish (a new version), audit in ``db``.

    ``versions``: the history, when the caller has just read it (else it is read here).
    Returns ``{version, changes, published, warnings, warning_details}``; an unchanged
    document publishes nothing. ``warnings``: what in the (valid) result will not work as
    meant (:meth:`RoutingConfig.warnings`).
    """
    from omniroute.routing.live import history, latest, publish_config

    version, live = latest(await history(settings) if versions is None else versions)
    if expected is not None and expected != version:
        raise VersionConflict(f"the configuration is at version {version}, not {expected}; "
                       "reload and apply your change again")
    before = as_document(live)
    try:
        after = change(before)
        config = validated(after)
    except ConfigurationError as exc:
        raise BadRequest(str(exc)) from exc
    except KeyError as exc:
        raise NotFound(f"no such entry: {exc}") from exc
    changes = diff(before, after)
    if not changes:
        return {"version": version, "changes": [], "published": False, **_warnings(config)}
    new_version = await publish_config(settings, config, actor=actor, reason=reason,
                                       previous=live)
    await admin.audit(db, actor, "config.changed", f"version {new_version}",
                      {"version": new_version, "previous": version, "reason": reason,
                       "changes": changes})
    return {"version": new_version, "changes": changes, "published": True,
            **_warnings(config)}


def _warnings(config: RoutingConfig) -> dict[str, list[Any]]:
    """``warnings`` in English words, and ``warning_details`` (kind, pool, rule, skill) the
    console words in the admin's language."""
    found = config.warnings()
    return {"warnings": [str(w) for w in found], "warning_details": [asdict(w) for w in found]}


async def restore_version(settings: Settings, db: asyncpg.Pool | asyncpg.Connection,
                          actor: str, version: int, reason: str,
                          expected: int | None) -> dict[str, Any]:
    """Publish configuration ``version`` again as the new live one (a rollback) through
    :func:`apply`: validated, audited, conditional on ``expected``; the history is read
    once. Returns :func:`apply`'s answer with ``restored``. ConfigurationError naming the
    versions there are when the history lacks ``version``."""
    from omniroute.routing.live import find_version, history, rollback_reason

    found = await history(settings)
    document = as_document(find_version(found, version).config)
    outcome = await apply(settings, db, actor, rollback_reason(version, reason), expected,
                          lambda _: document, versions=found)
    return {**outcome, "restored": version}


def version_summary(version: ConfigVersion, live: int) -> dict[str, Any]:
    """One configuration version as the versions list shows it."""
    return {"version": version.version, "live": version.version == live,
            "at": datetime.fromtimestamp(version.at, UTC).isoformat(),
            "actor": version.actor, "reason": version.reason,
            "pools": sorted(version.config.pools), "agents": len(version.config.agents),
            "retired": list(version.retired)}


class Administration:
    """Handlers of the admin API, over the gateway's plumbing."""

    def __init__(self, gateway: Gateway) -> None:
        self.g = gateway

    async def admin(self, request: web.Request) -> Principal:
        """The authenticated admin (401/403 otherwise)."""
        who = await self.g.who(request)
        if not who.admin:
            raise Forbidden(f"this needs an admin token; {who.agent_id} is a {who.role.value}")
        return who

    @staticmethod
    def expected(request: web.Request) -> int | None:
        """The version of ``If-Match``, if given."""
        value = request.headers.get("If-Match", "").strip('" ')
        if not value:
            return None
        if not value.isdigit():
            raise BadRequest("If-Match must be a configuration version number")
        return int(value)

    async def change(self, request: web.Request, reason: str,
                     fn: Callable[[Document], Document]) -> web.Response:
        who = await self.admin(request)
        outcome = await apply(self.g.settings, self.g.pool, f"{who.role.value}:{who.agent_id}",
                              reason, self.expected(request), fn)
        if outcome["published"]:
            self.g.forget_config()
        return web.json_response(outcome, headers={"ETag": str(outcome["version"])})

    async def get_config(self, request: web.Request) -> web.Response:
        await self.admin(request)
        version, document = await current(self.g.settings)
        return web.json_response({"version": version, **document},
                                 headers={"ETag": str(version)})

    async def put_config(self, request: web.Request) -> web.Response:
        body = await self.g.body(request, ConfigDocument)
        document = body.model_dump(exclude={"reason"})
        if not document["bot"]:
            del document["bot"]
        return await self.change(request, body.reason or "import", lambda _: document)

    async def export_toml(self, request: web.Request) -> web.Response:
        await self.admin(request)
        version, document = await current(self.g.settings)
        return web.Response(text=f"# omniroute routing configuration, version {version}\n"
                            + to_toml(document), content_type="application/toml",
                            headers={"ETag": str(version)})

    async def import_toml(self, request: web.Request) -> web.Response:
        await self.admin(request)
        try:
            document = from_toml(await request.text(), "the request body")
        except ConfigurationError as exc:
            raise BadRequest(str(exc)) from exc
        reason = request.query.get("reason", "import")
        return await self.change(request, reason, lambda _: document)

    async def put_agent(self, request: web.Request) -> web.Response:
        agent_id = request.match_info["agent_id"]
        spec = await self.g.body(request, AgentSpec)
        reason = request.query.get("reason", f"agent {agent_id} saved")
        return await self.change(request, reason, lambda d: put_agent(d, agent_id, spec))

    async def delete_agent(self, request: web.Request) -> web.Response:
        agent_id = request.match_info["agent_id"]
        reason = request.query.get("reason", f"agent {agent_id} removed")
        return await self.change(request, reason, lambda d: delete_agent(d, agent_id))

    async def put_pool(self, request: web.Request) -> web.Response:
        pool = request.match_info["pool"]
        spec = await self.g.body(request, PoolSpec)
        reason = request.query.get("reason", f"pool {pool} saved")
        return await self.change(request, reason, lambda d: put_pool(d, pool, spec))

    async def delete_pool(self, request: web.Request) -> web.Response:
        pool = request.match_info["pool"]
        reason = request.query.get("reason", f"pool {pool} removed")
        return await self.change(request, reason, lambda d: delete_pool(d, pool))

    async def put_routing(self, request: web.Request) -> web.Response:
        spec = await self.g.body(request, RoutingSpec)
        reason = request.query.get("reason", "routing rules saved")
        return await self.change(request, reason, lambda d: set_routing(d, spec))

    async def put_bot(self, request: web.Request) -> web.Response:
        spec = await self.g.body(request, BotSpec)
        reason = request.query.get("reason", "answer bot " + ("on" if spec.enabled else "off"))
        return await self.change(request, reason, lambda d: set_bot(d, spec))

    async def versions(self, request: web.Request) -> web.Response:
        from omniroute.routing.live import history, latest

        await self.admin(request)
        limit = self.limit(request, 50)
        found = await history(self.g.settings)
        live, _ = latest(found)
        return web.json_response(
            {"live": live, "versions": [version_summary(v, live) for v in found[::-1][:limit]]},
            headers={"ETag": str(live)})

    async def restore(self, request: web.Request) -> web.Response:
        """Publish version N again as the new live version (a rollback), audited like any
        change; ``If-Match`` makes it conditional on the live version."""
        who = await self.admin(request)
        wanted = request.match_info["version"]
        if not wanted.isdigit():
            raise BadRequest("the version to restore must be a number")
        body = await self.g.body(request, RestoreRequest)
        try:
            outcome = await restore_version(
                self.g.settings, self.g.pool, f"{who.role.value}:{who.agent_id}",
                int(wanted), body.reason, self.expected(request))
        except ConfigurationError as exc:  # apply answers a bad document with a 400 itself
            raise NotFound(str(exc)) from exc
        if outcome["published"]:
            self.g.forget_config()
        return web.json_response(outcome, headers={"ETag": str(outcome["version"])})

    @staticmethod
    def limit(request: web.Request, default: int) -> int:
        """``?limit=`` between 1 and 1000 (400 for anything else)."""
        value = request.query.get("limit", "") or str(default)
        if not value.isdigit() or not 1 <= int(value) <= 1000:
            raise BadRequest("limit must be a number from 1 to 1000")
        return int(value)

    async def audit_log(self, request: web.Request) -> web.Response:
        await self.admin(request)
        limit = self.limit(request, 100)
        rows = await self.g.pool.fetch(
            "SELECT id, at, actor, action, subject, detail FROM audit_log "
            "WHERE $1::text IS NULL OR action LIKE $1 || '%' ORDER BY id DESC LIMIT $2",
            request.query.get("action"), limit)
        return web.json_response({"entries": [
            {**dict(r), "at": r["at"].isoformat(), "detail": json.loads(r["detail"])}
            for r in rows]})

    async def tokens(self, request: web.Request) -> web.Response:
        await self.admin(request)
        return web.json_response({"tokens": await admin.list_tokens(
            self.g.pool, request.query.get("agent_id"))})

    async def issue(self, request: web.Request) -> web.Response:
        who = await self.admin(request)
        body = await self.g.body(request, TokenRequest)
        try:
            lifetime = parse_duration(body.expires) if body.expires else None
        except ValueError as exc:
            raise BadRequest(f"expires: {exc}") from exc
        async with self.g.pool.acquire() as conn:
            token = await admin.create_token(conn, body.agent_id, body.role, expires_in=lifetime,
                                             issued_by=f"{who.role.value}:{who.agent_id}",
                                             label=body.label)
        return web.json_response({"token": token, "token_id": token_id(hash_token(token)),
                                  "agent_id": body.agent_id, "role": body.role.value},
                                 status=201)

    async def revoke(self, request: web.Request) -> web.Response:
        who = await self.admin(request)
        async with self.g.pool.acquire() as conn:
            owner = await admin.revoke_token(conn, request.match_info["token_id"],
                                             by=f"{who.role.value}:{who.agent_id}")
        return web.json_response({"revoked": request.match_info["token_id"], "agent_id": owner})

    def routes(self) -> list[Route]:
        """(method, path, handler) of every admin route."""
        api = "/api/v1/admin"
        return [
            ("GET", f"{api}/config", self.get_config),
            ("PUT", f"{api}/config", self.put_config),
            ("GET", f"{api}/config.toml", self.export_toml),
            ("PUT", f"{api}/config.toml", self.import_toml),
            ("GET", f"{api}/config/versions", self.versions),
            ("POST", f"{api}/config/versions/{{version}}/restore", self.restore),
            ("PUT", f"{api}/agents/{{agent_id}}", self.put_agent),
            ("DELETE", f"{api}/agents/{{agent_id}}", self.delete_agent),
            ("PUT", f"{api}/pools/{{pool}}", self.put_pool),
            ("DELETE", f"{api}/pools/{{pool}}", self.delete_pool),
            ("PUT", f"{api}/routing", self.put_routing),
            ("PUT", f"{api}/bot", self.put_bot),
            ("GET", f"{api}/audit", self.audit_log),
            ("GET", f"{api}/tokens", self.tokens),
            ("POST", f"{api}/tokens", self.issue),
            ("DELETE", f"{api}/tokens/{{token_id}}", self.revoke),
        ]
