"""WebSockets an aiohttp application closes as soon as it is asked to stop.

aiohttp stops an application by closing its listening sockets, then waiting (its
``shutdown_timeout``, 60 s) for every running handler to return. A WebSocket handler
returns only when its client goes, so a gateway holding agent consoles, or an ingress
holding web chat visitors, refused every new connection for that long after SIGTERM
(user run 55: 45 s for the gateway with five consoles, 31 s for the ingress with two
visitors), past Kubernetes' 30 s grace period. Closed with 1001 (going away) at
shutdown, clients reconnect at once (to another replica, or to this one restarted) and
the process exits in a moment.
"""

from __future__ import annotations

import asyncio
import weakref

from aiohttp import WSCloseCode, web

OPEN_SOCKETS = web.AppKey("omniroute.open_sockets", weakref.WeakSet[web.WebSocketResponse])


def close_sockets_on_shutdown(app: web.Application) -> None:
    """Have ``app`` close every WebSocket registered with :func:`track` when it stops."""
    app[OPEN_SOCKETS] = weakref.WeakSet()

    async def close_all(_app: web.Application) -> None:
        sockets = [ws for ws in app[OPEN_SOCKETS] if not ws.closed]
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
                               for ws in sockets), return_exceptions=True)

    app.on_shutdown.append(close_all)


def track(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Close ``ws`` when ``request``'s application stops (if it asked for that)."""
    sockets = request.app.get(OPEN_SOCKETS)
    if sockets is not None:
        sockets.add(ws)
