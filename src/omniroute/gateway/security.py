"""The gateway's security middleware: headers, where a token may travel, input that is not sane.

Registered by :func:`~omniroute.gateway.app.build_app` inside the ``problems``
middleware (so every refusal here is an :class:`ApiProblem` answered as JSON):

- every response carries ``Content-Security-Policy`` (scripts and connections
  from the gateway's own origin only, no framing), ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
- ``?token=`` is accepted only on a WebSocket upgrade (a browser cannot set
  headers there); on a REST route it is refused 401, since a token in a URL
  ends up in proxy logs and browser history;
- a bearer token of non-ASCII or undecodable bytes is 401, never 500;
- answering an offer history does not know (after :data:`OFFER_GRACE_SECONDS`
  for the sink to catch up, or an id no offer can have) is 404 instead of a 202
  for an event nobody will act on;
- a body nested too deep or not encodable is 400 naming the problem.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import ValidationError

from omniroute.gateway.auth import protocol_token
from omniroute.gateway.problems import BadRequest, NotFound, Unauthorized

if TYPE_CHECKING:
    from omniroute.gateway.app import Gateway

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; media-src 'self' blob:; connect-src 'self' ws: wss:; "
        "frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
OFFER_ROUTE = re.compile(r"^/api/v1/offers/(?P<offer_id>[^/]*)/(accept|decline)/?$")
OFFER_ID = re.compile(r"^[A-Za-z0-9._:@+=-]{1,200}$")
OFFER_GRACE_SECONDS = 3.0
_PRINTABLE = re.compile(r"^[\x21-\x7e]+( [\x21-\x7e]+)?$")


def is_websocket(request: web.Request) -> bool:
    """True for a WebSocket upgrade request."""
    return request.headers.get("Upgrade", "").lower() == "websocket"


def stream_token(request: web.Request) -> str | None:
    """A WebSocket upgrade's token: offered as the subprotocol ``bearer.<token>``, else in
    ``?token=`` (None on other requests, whose query :func:`check_credentials` refuses)."""
    if not is_websocket(request):
        return None
    return protocol_token(request.headers.get("Sec-WebSocket-Protocol")) \
        or request.query.get("token")


def check_credentials(request: web.Request) -> None:
    """Unauthorized for a query token on a REST route or a token that is not printable ASCII."""
    query_token = request.query.get("token")
    if query_token is not None and not is_websocket(request):
        raise Unauthorized("a token in the URL is accepted only for WebSocket upgrades; send "
                           "'Authorization: Bearer <token>'")
    for value in (request.headers.get("Authorization"), stream_token(request)):
        if value is not None and not _PRINTABLE.match(value):
            raise Unauthorized("the token must be printable ASCII")


async def offer_known(gateway: Gateway, offer_id: str,
                      grace: float = OFFER_GRACE_SECONDS) -> bool:
    """True once the gateway saw ``offer_id`` live or history knows it (waiting up to
    ``grace`` s for the sink)."""
    from omniroute.gateway import queries

    if not OFFER_ID.match(offer_id):
        return False
    if offer_id in gateway.fanout.recent_offers:
        return True
    deadline = asyncio.get_running_loop().time() + grace
    while True:
        if await queries.offer_owner(gateway.pool, offer_id) is not None:
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.2)


def security_middleware(gateway: Gateway) -> Middleware:
    """The middleware described in the module docstring, bound to ``gateway``'s pool."""

    @web.middleware
    async def security(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            check_credentials(request)
            match = OFFER_ROUTE.match(request.path)
            if match and request.method == "POST":
                await gateway.who(request)  # 401 before revealing whether an offer exists
                if not await offer_known(gateway, match["offer_id"]):
                    raise NotFound(f"no offer {match['offer_id'][:200]!r}")
            response = await handler(request)
        except (RecursionError, UnicodeError) as exc:
            raise BadRequest(f"the request could not be read ({type(exc).__name__})") from exc
        except ValidationError as exc:
            raise BadRequest(f"the request is not valid: {exc.error_count()} problem(s)") from exc
        return response

    return security


async def security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the headers of :data:`HEADERS` on every response (errors,
    static files and WebSocket handshakes included)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
