"""The connector plugin contract: what a provider plugin implements, what the host gives it.

The host is ``omniroute ingress`` (an aiohttp server) for inbound traffic and
``omniroute delivery`` for outbound traffic. The host owns every I/O resource
(the Kafka producer, the HTTP server, the HTTP client); a plugin is mostly pure
code that the host calls, in the style of quix-streams sources::

    provider ──HTTP──▶ host: route? size? content type? ─▶ plugin.verify(request)
                                                         ─▶ plugin.handle(request) -> Ingest
                       host: publisher.publish(ingest.events)  (acks=all, waited for)
                       host ◀── ingest.response (only after Kafka acknowledged)

A plugin is a :class:`Connector` subclass registered under the entry-point group
``omniroute.connectors`` (``pyproject.toml`` ``[project.entry-points]``); the
host instantiates it with the process :class:`~omniroute.settings.Settings`.

What a plugin declares and implements:

- :attr:`Connector.name` (routes mount under ``/webhooks/<name>`` unless
  :attr:`Connector.mount` says otherwise) and :meth:`Connector.routes`: the
  HTTP routes (sub-path, methods, accepted content types, body limit).
- :meth:`Connector.verify`: the authenticity check on the raw bytes and headers;
  raise :class:`Unauthorized` (missing credentials, 401) or :class:`Forbidden`
  (wrong credentials, 403).
- :meth:`Connector.handle`: the pure mapping from a verified request to the
  events to publish (InboundMessage / DeliveryStatus) and the response to send
  once they are acknowledged. Raise :class:`BadRequest` (400, JSON naming the
  problem) for a malformed body. No I/O here: tests call it with literal bytes.
- optionally :meth:`Connector.services`: long-running extras (an SMTP server, a
  WebSocket endpoint) with a start/stop lifecycle; they get the publisher.
- optionally :meth:`Connector.sender`: an :class:`OutboundSender` (in
  :mod:`omniroute_connectors.outbound`) for ``omniroute delivery``.
- optionally :meth:`Connector.profile_lookup`: a :class:`ProfileLookup` (one
  ``GET`` of the provider's profile API) naming a sender who came without a name;
  the host sends it, remembers the answer and publishes the name with the message.

Errors: every rejection is a :class:`WebhookRejected` (a
:class:`~omniroute.errors.RejectedInput`) carrying the HTTP status and a short
machine-readable ``reason`` that the host uses as the metrics label; the host
answers ``{"error": reason, "detail": message}``. A publish failure is
:class:`PublishUnavailable` (retriable): the host answers 503 and the provider
retries, so nothing acknowledged is ever lost.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from omniroute.contract import DeliveryStatus, InboundMessage, SelfServiceEvent
from omniroute.errors import InfrastructureError, RejectedInput
from omniroute.settings import Settings

T = TypeVar("T")

if TYPE_CHECKING:  # only for annotations: the contract itself imports no I/O library
    from aiohttp import web

    from omniroute_connectors.outbound import OutboundSender

Event = InboundMessage | DeliveryStatus
"""What a connector publishes: the host routes InboundMessage to ``omniroute.inbound.v1``
and DeliveryStatus to ``omniroute.delivery.v1``, keyed by their ``kafka_key``."""
Published = Event | SelfServiceEvent
"""What the host's publisher takes: connector events, and the web chat help search's
SelfServiceEvents (to ``omniroute.selfservice.v1``)."""

DEFAULT_MAX_BODY_BYTES = 1_048_576


# --------------------------------------------------------------------------- errors


class WebhookRejected(RejectedInput):
    """A request the host refuses; ``status`` is the HTTP answer, ``reason`` the metric label."""

    status: int = 400
    reason: str = "rejected"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class BadRequest(WebhookRejected):
    """400: the body is malformed or lacks a required field; the message names it."""

    status = 400
    reason = "malformed_body"


class Unauthorized(WebhookRejected):
    """401: the signature or secret is missing."""

    status = 401
    reason = "missing_signature"


class Forbidden(WebhookRejected):
    """403: the signature or secret is present but wrong."""

    status = 403
    reason = "bad_signature"


class PayloadTooLarge(WebhookRejected):
    """413: the body exceeds the route's ``max_body_bytes``."""

    status = 413
    reason = "too_large"


class UnsupportedMediaType(WebhookRejected):
    """415: the content type is not one the route accepts."""

    status = 415
    reason = "unsupported_media_type"


class PublishUnavailable(InfrastructureError):
    """Kafka did not acknowledge the write (retriable): the host answers 503."""


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class WebhookRequest:
    """One HTTP request as the plugin sees it: raw bytes, lower-cased headers.

    ``url`` is the public URL the provider called (``OMNIROUTE_PUBLIC_BASE_URL``
    + path + query when set, else the URL the host saw), which is what Twilio
    signs. ``query`` keeps repeated keys in order.
    """

    method: str
    path: str
    url: str
    headers: Mapping[str, str]
    query: Sequence[tuple[str, str]] = ()
    body: bytes = b""
    received_at: datetime | None = None
    """When the host received the request (UTC); for providers without their own timestamp."""
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What a plugin computed from this request, kept for its later steps (see :meth:`once`)."""

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` the first time ``key`` is asked for this request, then its result.

        ``verify`` and ``handle`` both need which accounts signed the request; the
        signatures (HMACs over the body) are checked once per request, not per step.
        An exception is not kept: asking again raises again.
        """
        if key not in self.memo:
            self.memo[key] = compute()
        return cast(T, self.memo[key])

    def header(self, name: str) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``application/json``)."""
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def query_value(self, name: str) -> str | None:
        """The first query value named ``name``."""
        return next((value for key, value in self.query if key == name), None)

    def json(self) -> Any:
        """The body parsed as JSON and cleaned (:func:`~omniroute_connectors.bounds.load_json`),
        or :class:`BadRequest` naming the problem (``invalid_json``, ``too_deep``)."""
        from omniroute_connectors.bounds import load_json

        return load_json(self.body)


@dataclass(frozen=True)
class WebhookResponse:
    """What the host answers once every event is acknowledged by Kafka."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> WebhookResponse:
        """A JSON response."""
        return cls(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")


OK = WebhookResponse(200, b"OK")


@dataclass(frozen=True)
class Ingest:
    """The result of :meth:`Connector.handle`: events to publish, then the answer."""

    events: Sequence[Event] = ()
    response: WebhookResponse = OK


@dataclass(frozen=True)
class Route:
    """An HTTP route a plugin serves under its mount point.

    ``path`` is relative to the mount (``""`` is ``/webhooks/<name>`` itself).
    ``content_types`` lists accepted media types for bodies (empty: any, e.g. GET).
    """

    path: str = ""
    methods: tuple[str, ...] = ("POST",)
    content_types: tuple[str, ...] = ("application/json",)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


@dataclass(frozen=True)
class ProfileLookup:
    """How to ask a provider's profile API for a sender's display name: one ``GET``.

    The host sends it (with a short timeout, at most once per sender and day) for an
    inbound message whose sender has no name, and publishes the message with the name
    :attr:`name_of` reads from the JSON answer; a failure publishes it without one.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Sequence[tuple[str, str]] = ()
    name_of: Callable[[Any], str | None] = lambda _body: None


def text_field(body: Any, *names: str) -> str | None:
    """The first non-empty string among ``body``'s ``names`` (a JSON object), stripped."""
    if not isinstance(body, dict):
        return None
    for name in names:
        value = body.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# --------------------------------------------------------------------------- host capabilities


class Publisher(Protocol):
    """The capability the host injects: publish events, return once Kafka acknowledged all."""

    async def publish(self, events: Sequence[Published]) -> None:
        """Write every event (acks=all); raise :class:`PublishUnavailable` if any failed."""


@dataclass(frozen=True)
class RawRoute:
    """A route the plugin serves itself (WebSocket, static files): an aiohttp handler.

    Use it only when the request/response model of :meth:`Connector.handle` does
    not fit; the handler may import aiohttp (it is a shell, not the core).
    """

    path: str
    method: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


class Service(Protocol):
    """A long-running extra a plugin runs beside HTTP (an SMTP server, a sweeper)."""

    async def start(self) -> None:
        """Start serving; return once ready."""

    async def stop(self) -> None:
        """Stop serving and release every resource."""


# --------------------------------------------------------------------------- the plugin


class Connector(abc.ABC):
    """A provider plugin. Subclass, set :attr:`name`, implement verify and handle."""

    name: str = ""
    """Route segment and metrics label: ``/webhooks/<name>``; lower case."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def mount(self) -> str:
        """Where :meth:`routes` mount; ``/webhooks/<name>`` unless overridden."""
        return f"/webhooks/{self.name}"

    def routes(self) -> Sequence[Route]:
        """The HTTP routes; by default one ``POST`` accepting JSON."""
        return (Route(),)

    def enabled(self) -> bool:
        """False when the plugin lacks its secret; the host then does not mount it."""
        return True

    @abc.abstractmethod
    def verify(self, request: WebhookRequest) -> None:
        """Check authenticity on the raw bytes; raise Unauthorized or Forbidden."""

    @abc.abstractmethod
    def handle(self, request: WebhookRequest) -> Ingest:
        """Map a verified request to events and a response (pure; raise BadRequest)."""

    def raw_routes(self, publisher: Publisher) -> Sequence[RawRoute]:
        """Routes served by aiohttp handlers of the plugin's own (default: none)."""
        return ()

    def services(self, publisher: Publisher) -> Sequence[Service]:
        """Long-running extras started with the host and stopped with it (default: none)."""
        return ()

    def sender(self) -> OutboundSender | None:
        """The outbound half for ``omniroute delivery`` (default: inbound only)."""
        return None

    def profile_lookup(self, message: InboundMessage) -> ProfileLookup | None:
        """How to learn the name of ``message``'s sender, who came without one (default:
        the provider has no profile API, or no credentials for it are configured)."""
        return None
