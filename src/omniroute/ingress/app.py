"""The ingress aiohttp application: mounts every enabled connector and answers providers.

For each request the shell checks, in order: route (404, JSON), method (405),
size (413), content type (415), authenticity (401/403, the plugin's verify),
body (400, the plugin's handle); then names senders who came without a name when
the provider has a profile API (:mod:`omniroute.ingress.profiles`), publishes the
events and answers the plugin's response only after Kafka acknowledged (503
otherwise). Rejected
requests publish nothing and are counted by provider and reason.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from omniroute.infra.sockets import close_sockets_on_shutdown
from omniroute.ingress.metrics import PUBLISH_SECONDS, REJECTIONS, REQUESTS, count_published
from omniroute.ingress.profiles import Profiles
from omniroute.ingress.requests import UNEXPECTED_INPUT, read_body, webhook_request
from omniroute.observability.health import Health
from omniroute.observability.logs import get_logger
from omniroute.observability.metrics import metrics_handler
from omniroute.settings import Settings
from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Publisher,
    PublishUnavailable,
    Route,
    UnsupportedMediaType,
    WebhookRejected,
    WebhookResponse,
)

log = get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLISHER_KEY = web.AppKey("publisher", object)


def _error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": reason, "detail": detail}, status=status)


def _check_type(request: web.Request, route: Route, body: bytes) -> None:
    if not route.content_types or (request.method == "GET" and not body):
        return
    given = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if given not in route.content_types:
        raise UnsupportedMediaType(
            f"content type {given or '(none)'!r} is not accepted; send one of "
            f"{', '.join(route.content_types)}")


def webhook_handler(connector: Connector, route: Route, publisher: Publisher,
                    settings: Settings, profiles: Profiles | None = None) -> Handler:
    """The aiohttp handler of one plugin route (``profiles`` names unnamed senders)."""
    provider = connector.name

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request, route.max_body_bytes)
            _check_type(request, route, body)
            hook = webhook_request(settings, request, body)
            try:
                connector.verify(hook)
                ingest = connector.handle(hook)
            except UNEXPECTED_INPUT as exc:
                log.warning("webhook_unexpected_input", provider=provider,
                            error=type(exc).__name__)
                raise BadRequest(f"the body could not be read ({type(exc).__name__}); check "
                                 "its shape against the provider's documentation") from exc
            events = ingest.events
            if profiles is not None:
                events = await profiles.complete(connector, events)
            started = time.perf_counter()
            await publisher.publish(events)  # bounds every event first: 413 when one cannot fit
        except PublishUnavailable as exc:
            REJECTIONS.labels(provider, "kafka_unavailable").inc()
            REQUESTS.labels(provider, "503").inc()
            return _error(503, "kafka_unavailable", str(exc.message))
        except WebhookRejected as exc:
            REJECTIONS.labels(provider, exc.reason).inc()
            REQUESTS.labels(provider, str(exc.status)).inc()
            log.info("webhook_rejected", provider=provider, status=exc.status, reason=exc.reason)
            return _error(exc.status, exc.reason, exc.message)
        if events:
            PUBLISH_SECONDS.labels(provider).observe(time.perf_counter() - started)
        count_published("ingress", events)
        REQUESTS.labels(provider, str(ingest.response.status)).inc()
        return _response(ingest.response)

    return handle


def _response(response: WebhookResponse) -> web.Response:
    return web.Response(status=response.status, body=response.body,
                        headers={"Content-Type": response.content_type, **response.headers})


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown routes and wrong methods answer JSON naming the problem."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        REJECTIONS.labels("unknown", "unknown_route").inc()
        return _error(404, "unknown_route", f"no webhook is served at {request.path}")
    except web.HTTPMethodNotAllowed as exc:
        REJECTIONS.labels("unknown", "method_not_allowed").inc()
        allowed = ", ".join(sorted(exc.allowed_methods))
        return _error(405, "method_not_allowed", f"{request.method} is not allowed; use {allowed}")


def build_app(settings: Settings, connectors: Sequence[Connector], publisher: Publisher,
              health: Health | None = None, operations: bool = True) -> web.Application:
    """The aiohttp application serving every connector's routes and, with ``operations``,
    /metrics, /health and ``health``'s /healthz and /readyz."""
    app = web.Application(middlewares=[json_errors])
    close_sockets_on_shutdown(app)  # web chat visitors' sockets
    app[PUBLISHER_KEY] = publisher
    profiles = Profiles(settings.profile_lookup_timeout_s)

    async def close_profiles(_app: web.Application) -> None:
        await profiles.close()

    app.on_cleanup.append(close_profiles)
    for connector in connectors:
        for route in connector.routes():
            handler = webhook_handler(connector, route, publisher, settings, profiles)
            for method in route.methods:
                app.router.add_route(method, connector.mount + route.path, handler)
        for raw in connector.raw_routes(publisher):
            app.router.add_route(raw.method, connector.mount + raw.path, raw.handler)

    async def legacy_health(_request: web.Request) -> web.Response:
        connected = bool(getattr(publisher, "connected", True))
        return web.json_response({"status": "ok", "kafka": "connected" if connected else
                                  "unavailable", "connectors": [c.name for c in connectors]})

    if operations:
        app.router.add_get("/health", legacy_health)
        app.router.add_get("/metrics", metrics_handler)
        (health or Health()).mount(app)
    return app
