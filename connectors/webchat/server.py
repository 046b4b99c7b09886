"""The web chat shell: the WebSocket endpoint, the widget script and the live feeds.

Served by the ingress host through :class:`WebChatConnector` (mount ``/webchat``):

- ``GET /webchat/ws``: the WebSocket (protocol in :mod:`.protocol`). A visitor
  message is answered ``ack`` only after Kafka acknowledged the
  InboundMessage; when Kafka is down the visitor gets an ``unavailable`` error
  and the widget retries with the same ``client_message_id``.
- ``GET /webchat/widget.js``: the embeddable widget (one script tag).
- ``POST /webchat/uploads``: a visitor's photo or file, stored before a message
  frame names it (:mod:`.uploads`).
- the :class:`WebChatFeed` service: per replica, reads ``omniroute.outbound.v1``
  and ``omniroute.internal.typing`` from their end and pushes ``channel=webchat``
  replies (reporting them ``sent``) and agent typing to the visitor's open
  sockets, reads ``omniroute.agent-events.v1`` from the start to know whether
  any agent is available (else the widget shows the offline form), and runs
  the :class:`~omniroute_connectors.webchat.recorder.TranscriptRecorder` that
  stores every reply durably.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from omniroute.contract import Attachment, InboundMessage
from omniroute.errors import InfrastructureError, RejectedInput
from omniroute.infra.sockets import track
from omniroute.ingress.metrics import count_published
from omniroute.ingress.requests import UNEXPECTED_INPUT
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import REJECTIONS
from omniroute.settings import Settings
from omniroute_connectors.base import (
    Connector,
    Forbidden,
    Ingest,
    Publisher,
    RawRoute,
    Route,
    Service,
    WebhookRequest,
)
from omniroute_connectors.webchat.chat import WebChat
from omniroute_connectors.webchat.feed import WebChatFeed
from omniroute_connectors.webchat.helpcenter import HelpCenter
from omniroute_connectors.webchat.limits import ChatLimits
from omniroute_connectors.webchat.protocol import (
    FrameError,
    Visitor,
    client_message_id,
    inbound_from_frame,
    open_session,
    parse_frame,
    receipt_statuses,
    upload_refs,
)
from omniroute_connectors.webchat.uploads import (
    Uploads,
    UploadsUnavailable,
    stored_uploads,
    upload_key,
    uploaded_digest,
)

log = get_logger(__name__)
WIDGET = Path(__file__).with_name("widget.js")
_SITE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,99}$")
HELLO_TIMEOUT = 30.0


def visitor_frame(message: InboundMessage, client_id: str) -> dict[str, Any]:
    """How a visitor's own message appears in the transcript (files by name, type, size)."""
    frame: dict[str, Any] = {
        "type": "message", "direction": "visitor", "event_id": message.event_id,
        "client_message_id": client_id, "text": message.text,
        "at": message.occurred_at.isoformat()}
    if message.attachments:
        frame["attachments"] = [{"filename": a.filename, "content_type": a.content_type,
                                 "size_bytes": a.size_bytes} for a in message.attachments]
    return frame


async def _attachments(chat: WebChat, visitor: Visitor, frame: dict[str, Any]
                       ) -> list[Attachment]:
    """The frame's uploads as attachments; FrameError when one is not this visitor's, or
    not stored (the same answer: which files are stored is nobody's business)."""
    refs = upload_refs(frame)
    if not refs:
        return []
    client_id = frame["client_message_id"]
    key = upload_key(chat)
    digests = [uploaded_digest(key, visitor.visitor_id, upload_id) for upload_id, _ in refs]
    try:
        found = await stored_uploads(chat, [d for d in digests if d is not None])
    except UploadsUnavailable as exc:
        code = "unavailable" if exc.configured else "uploads_not_configured"
        raise FrameError(code, f"not accepted, retry with the same client_message_id "
                         f"({exc.detail})", client_id) from exc
    attachments = []
    for (upload_id, name), digest in zip(refs, digests, strict=True):
        stored = found.get(digest) if digest is not None else None
        if stored is None:
            raise FrameError("unknown_upload", f"no stored upload {upload_id!r} of this "
                             "visitor: upload the file with POST /webchat/uploads first",
                             client_id)
        attachments.append(stored.attachment(name))
    return attachments


async def _refuse(ws: Any, error: FrameError) -> None:
    """Answer a refused frame with its error and count it by code."""
    REJECTIONS.labels("webchat", error.code).inc()
    await ws.send_json(error.frame())


async def _hello(chat: WebChat, ws: web.WebSocketResponse, limits: ChatLimits,
                 ip: str) -> Visitor | None:
    try:
        first = await ws.receive(timeout=HELLO_TIMEOUT)
    except TimeoutError:
        await _refuse(ws, FrameError("hello_timeout", "no hello frame within 30 s"))
        return None
    if first.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
        return None
    try:
        frame = parse_frame(first.data)
        claimed = frame.get("site")
        site = claimed if isinstance(claimed, str) else "default"
        visitor = open_session(frame, chat.secret(), site if _SITE.match(site) else "default")
        if visitor.token != frame.get("visitor_token") and not limits.new_visitor(ip):
            raise FrameError("rate_limited", "too many new visitors from this address; "
                             "retry in a minute")
        return visitor
    except FrameError as exc:
        await _refuse(ws, exc)
        return None
    except UNEXPECTED_INPUT as exc:
        log.warning("webchat_unexpected_hello", error=type(exc).__name__)
        await _refuse(ws, FrameError("invalid_frame", "the hello frame could not be read"))
        return None


class _HeldSocket:
    """A visitor socket that holds pushed frames until the welcome frame went out.

    It also remembers which agent messages it was sent and their conversation
    (stripped from the frame: visitors never see conversation ids), so receipts
    are accepted only for those and carry the conversation. The widget
    de-duplicates by ``event_id``, so a reply both in the history and held here
    shows once.
    """

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.held: list[dict[str, Any]] = []
        self.ready = False
        self.seen: dict[str, str | None] = {}
        self.conversation_id: str | None = None

    def _visible(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("type") != "message" or data.get("direction") != "agent":
            return data
        conversation_id = data.get("conversation_id")
        self.seen[data["event_id"]] = conversation_id
        if conversation_id:
            self.conversation_id = conversation_id
        return {k: v for k, v in data.items() if k != "conversation_id"}

    async def send_json(self, data: dict[str, Any]) -> None:
        if self.ready:
            await self.ws.send_json(self._visible(data))
        else:
            self.held.append(data)

    async def open(self, welcome: dict[str, Any]) -> None:
        welcome = {**welcome, "history": [self._visible(m) for m in welcome["history"]]}
        await self.ws.send_json(welcome)
        self.ready = True
        while self.held:
            await self.ws.send_json(self._visible(self.held.pop(0)))


async def _on_frame(chat: WebChat, publisher: Publisher, visitor: Visitor,
                    socket: _HeldSocket, data: str | bytes, limits: ChatLimits) -> None:
    frame = parse_frame(data)
    kind = frame["type"]
    if kind in ("message", "offline_form"):
        client_id = client_message_id(frame)
        message = inbound_from_frame(frame, visitor, chat.settings.workspace,
                                     await _attachments(chat, visitor, frame))
        if not limits.message(visitor.visitor_id):
            raise FrameError("rate_limited", "too many messages; retry with the same "
                             "client_message_id in a minute", client_id)
        try:
            await publisher.publish([message])
        except (InfrastructureError, OSError) as exc:
            raise FrameError("unavailable", f"not accepted, retry with the same "
                             f"client_message_id ({exc})", client_id) from exc
        except RejectedInput as exc:
            raise FrameError("too_large", exc.message, client_id) from exc
        count_published("webchat", [message])
        own = visitor_frame(message, client_id)
        # stored at the message's own time, which the answers to it carry (at the time of
        # storing, a few ms later, the bot's answer was listed above the question)
        await chat.remember(visitor.address, own, message.occurred_at)
        await socket.send_json({"type": "ack", "client_message_id": client_id,
                            "event_id": message.event_id})
        await chat.hub.push(visitor.address, own, skip=socket)
    elif kind in ("read", "delivered"):
        statuses = receipt_statuses(frame, visitor, chat.settings.workspace, socket.seen)
        try:
            await publisher.publish(statuses)
        except (InfrastructureError, OSError) as exc:
            raise FrameError("unavailable", f"receipt not recorded, retry ({exc})") from exc
        count_published("webchat", statuses)
    elif kind == "typing":
        if not isinstance(frame.get("state"), bool):
            raise FrameError("invalid_field", "typing.state must be true or false")
        await chat.visitor_typing(visitor.address, frame["state"], socket.conversation_id)
    elif kind == "hello":
        raise FrameError("duplicate_hello", "hello is only valid as the first frame")


def websocket_handler(chat: WebChat, publisher: Publisher,  # type: ignore[no-untyped-def]
                      limits: ChatLimits | None = None):
    """The aiohttp handler of ``/webchat/ws``: origin and socket limits before the upgrade."""
    guard = limits or ChatLimits(chat.settings)

    async def handle(request: web.Request) -> web.StreamResponse:
        if not guard.origin_allowed(request.headers.get("Origin")):
            REJECTIONS.labels("webchat", "origin_not_allowed").inc()
            return web.json_response({"error": "origin_not_allowed", "detail": "this origin "
                                      "may not open web chat sockets"}, status=403)
        ip = request.remote or "unknown"
        if not guard.open_socket(ip):
            REJECTIONS.labels("webchat", "too_many_sockets").inc()
            return web.json_response({"error": "too_many_sockets", "detail": "too many open "
                                      "sockets from this address"}, status=429)
        try:
            return await _serve(request, ip)
        finally:
            guard.close_socket(ip)

    async def _serve(request: web.Request, ip: str) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=2 * 96 * 1024)
        await ws.prepare(request)
        track(request, ws)  # closed (1001) when the ingress stops: the widget reconnects
        visitor = await _hello(chat, ws, guard, ip)
        if visitor is None:
            await ws.close()
            return ws
        socket = _HeldSocket(ws)
        chat.hub.add(visitor.address, socket)  # before reading history: no reply slips between
        try:
            await socket.open({
                "type": "welcome", "visitor_token": visitor.token,
                "visitor_id": visitor.visitor_id, "verified": visitor.verified is not None,
                "history": await chat.history(visitor.address),
                "agents_available": chat.hub.agents_available,
            })
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    await _on_frame(chat, publisher, visitor, socket, msg.data, guard)
                except FrameError as exc:
                    await _refuse(socket, exc)
                except UNEXPECTED_INPUT as exc:  # a frame of an odd shape never kills the socket
                    log.warning("webchat_unexpected_frame", error=type(exc).__name__)
                    await _refuse(socket, FrameError("invalid_frame", "the frame could not be "
                                                     "read"))
        finally:
            chat.hub.remove(visitor.address, socket)
        return ws

    return handle


async def widget_handler(_request: web.Request) -> web.StreamResponse:
    """The widget script (plain JavaScript, no build step)."""
    return web.Response(body=WIDGET.read_bytes(), content_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=300",
                                 "Access-Control-Allow-Origin": "*"})


class WebChatConnector(Connector):
    """The web chat channel on the ingress host (``/webchat/ws``, ``/webchat/widget.js``,
    ``/webchat/uploads``)."""

    name = "webchat"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.chat = WebChat(settings)

    @property
    def mount(self) -> str:
        return "/webchat"

    def routes(self) -> Sequence[Route]:
        return ()

    def verify(self, request: WebhookRequest) -> None:
        raise Forbidden("web chat is served over its WebSocket")

    def handle(self, request: WebhookRequest) -> Ingest:
        raise Forbidden("web chat is served over its WebSocket")

    def raw_routes(self, publisher: Publisher) -> Sequence[RawRoute]:
        limits = ChatLimits(self.settings)
        return (
            RawRoute("/ws", "GET", websocket_handler(self.chat, publisher, limits)),
            RawRoute("/widget.js", "GET", widget_handler),
            *Uploads(self.chat, limits).routes(),
            *HelpCenter(self.chat, publisher).routes(),
        )

    def services(self, publisher: Publisher) -> Sequence[Service]:
        return (WebChatFeed(self.chat, publisher),)

