"""The outbound half of the plugin contract: OutboundMessage → provider HTTP request(s).

``omniroute delivery`` (the host) consumes ``omniroute.outbound.v1``, picks the
plugin whose :meth:`OutboundSender.handles` accepts the message, and then::

    window = sender.window(message)            # 24-hour service window or None
    requests = sender.build(message, context)  # pure; SendRejected for limits/window
    for request in requests:                   # the host does the HTTP, rate limits, retries
        result = sender.interpret(request, response)   # pure; SendFailed(retriable=...)

A sender never performs I/O: the host sends :class:`ProviderRequest` objects to
the provider's base URL (a setting, so tests point it at a fake server) and
hands back :class:`ProviderResponse`. A provider the host could not reach
(refused, reset, DNS, timeout) comes back as a response of status
:data:`NETWORK_FAILURE` whose body is the error; :func:`failure_text` words
either case for ``error_message``. Retries branch on
:attr:`SendFailed.retriable`; permanent failures become a ``failed``
DeliveryStatus carrying ``error_code`` and ``error_message``.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from omniroute.contract import OutboundMessage
from omniroute.errors import RejectedInput
from omniroute.settings import Settings

SERVICE_WINDOW = timedelta(hours=24)
"""WhatsApp's and Messenger's customer service window after the customer's last message."""
NETWORK_FAILURE = 599
"""The status of the response the host makes up when the provider could not be reached
(its body is the error's text): no standard HTTP status, and a 5xx, so retriable."""
MAX_NETWORK_ERROR_CHARS = 300


class SendRejected(RejectedInput):
    """The message cannot be sent as it is (too long, outside the window): a permanent failure."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class SendFailed(Exception):
    """The provider refused or failed a request; ``retriable`` decides what the host does."""

    def __init__(self, message: str, *, code: str, retriable: bool,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retriable = retriable
        self.retry_after = retry_after


@dataclass(frozen=True)
class ProviderRequest:
    """One HTTP call to a provider API, relative to the sender's base URL."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    fallback: ProviderRequest | None = None
    """Sent instead when this request fails (permanently, or after its retries): LINE
    falls back from the free reply API (single-use token) to a push."""

    def with_fallback(self, fallback: ProviderRequest) -> ProviderRequest:
        """This request, falling back to ``fallback``."""
        return ProviderRequest(self.method, self.path, self.headers, self.body, fallback)

    @classmethod
    def json(cls, path: str, payload: Any, headers: Mapping[str, str] | None = None,
             method: str = "POST") -> ProviderRequest:
        """A JSON request."""
        merged = {"Content-Type": "application/json", **(headers or {})}
        return cls(method, path, merged, json.dumps(payload, ensure_ascii=False).encode())

    @classmethod
    def form(cls, path: str, pairs: Sequence[tuple[str, str]],
             headers: Mapping[str, str] | None = None) -> ProviderRequest:
        """A form-encoded POST (repeated keys allowed)."""
        merged = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return cls("POST", path, merged, urlencode(list(pairs)).encode())


@dataclass(frozen=True)
class ProviderResponse:
    """What the provider answered."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass(frozen=True)
class SendResult:
    """A request the provider accepted."""

    provider_message_id: str | None


@dataclass(frozen=True)
class SendContext:
    """What the host knows that a pure sender cannot: the customer's recent activity."""

    now: datetime
    last_inbound_at: datetime | None = None
    reply_hint: Mapping[str, str] = field(default_factory=dict)
    """Per-customer extras from the latest inbound message (Kakao ``callback_url``, LINE
    ``reply_token``) with the time they arrived under ``received_at``."""

    def in_window(self, window: timedelta = SERVICE_WINDOW) -> bool:
        """True when the customer wrote within ``window``."""
        return self.last_inbound_at is not None and self.now - self.last_inbound_at < window


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), else None."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = now or datetime.now(when.tzinfo)
    return max(0.0, (when - current).total_seconds())


def failure_text(response: ProviderResponse, api: str) -> str:
    """Why ``response`` failed, for ``error_message``: ``could not reach {api}: <error>`` when
    the provider was not reached, else ``{api} answered HTTP {status}``."""
    if response.status != NETWORK_FAILURE:
        return f"{api} answered HTTP {response.status}"
    error = response.body.decode("utf-8", "replace").strip() or "no answer"
    if len(error) > MAX_NETWORK_ERROR_CHARS:
        error = error[:MAX_NETWORK_ERROR_CHARS - 1] + "…"
    return f"could not reach {api}: {error}"


def classify_http(status: int, code: str, message: str, retry_after: float | None = None
                  ) -> SendFailed:
    """The usual split: 429, 408 and 5xx are retriable, every other 4xx is permanent."""
    retriable = status in (408, 425, 429) or status >= 500
    return SendFailed(message, code=code, retriable=retriable, retry_after=retry_after)


class OutboundSender(abc.ABC):
    """Maps OutboundMessage to provider requests and provider responses to results."""

    provider: str = ""
    """Metrics label and DeliveryStatus ``provider``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    @abc.abstractmethod
    def base_url(self) -> str:
        """The provider API's base URL (a setting, so tests can point it at a fake)."""

    @abc.abstractmethod
    def handles(self, message: OutboundMessage) -> bool:
        """True when this sender delivers ``message`` (by channel and account)."""

    def enabled(self) -> bool:
        """False when credentials are missing; messages then fail with a clear status."""
        return True

    def rate_limit_per_second(self) -> float:
        """Requests per second per channel account the provider allows."""
        return 10.0

    @abc.abstractmethod
    def build(self, message: OutboundMessage, context: SendContext) -> Sequence[ProviderRequest]:
        """The requests that deliver ``message``; SendRejected for limits or the window."""

    @abc.abstractmethod
    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """A 2xx answer → SendResult; anything else → SendFailed (retriable or not)."""
