"""How to fetch the bytes of a customer's attachment from its provider (pure).

Providers keep the photos and files customers send and hand out a reference
(Twilio a ``MediaUrl``, WhatsApp Cloud a media id, Telegram a ``file_id``, LINE
a message id, Meta's messaging a CDN ``url``); fetching it needs the provider's
credentials. The gateway (the host) serves the bytes to agents and does the
HTTP; this module and each connector's ``media`` module say what to ask::

    plan = media_plan(settings, stored)         # pure; NotStored, NotConfigured
    response = GET plan.first                    # the headers go only to plan.first's
                                                 # credentials origin, redirects followed
    if plan.locate is not None:                  # two steps: WhatsApp, Telegram
        response = GET plan.locate(answer JSON)  # pure; MediaUnavailable when unusable
    answer the bytes (at most OMNIROUTE_MEDIA_MAX_BYTES)

Errors (one tree; the gateway answers each with its own status and code)::

    MediaError
    ├── NotStored          no provider holds a copy (email: the gateway serves the bytes
    │                      the email ingress stored in PostgreSQL, attachment_blobs)
    ├── NotConfigured      no credentials for the provider's account
    └── MediaUnavailable   the provider failed, or answered something unusable
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from omniroute.settings import Settings
from omniroute_connectors.outbound import ProviderResponse, failure_text

EMAIL_PROVIDERS = frozenset({"smtp", "mailgun", "sendgrid"})
MAX_DETAIL_CHARS = 200


class MediaError(Exception):
    """Why an attachment's bytes cannot be served; ``message`` is for the agent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotStored(MediaError):
    """No provider keeps the bytes (an email's attachments: the email ingress stores them in
    PostgreSQL, ``attachment_blobs``, and the gateway serves them from there)."""


class NotConfigured(MediaError):
    """omniroute has no credentials for the account the attachment came through."""


class MediaUnavailable(MediaError):
    """The provider did not give the bytes (an error, an expired id, an unusable answer)."""


@dataclass(frozen=True)
class StoredAttachment:
    """An inbound attachment as history stored it, with its message's provider and account."""

    provider: str | None
    channel: str
    channel_account: str | None
    kind: str
    url: str | None = None
    media_id: str | None = None
    content_type: str | None = None
    filename: str | None = None
    size_bytes: int | None = None

    @property
    def emailed(self) -> bool:
        """Whether it came in an email: no provider keeps its bytes (the email ingress
        stores them in ``attachment_blobs``)."""
        return self.channel == "email" or self.provider in EMAIL_PROVIDERS


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower-cased, with the scheme's default port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class MediaRequest:
    """One ``GET`` of a provider; ``headers`` (credentials) go only to ``credentials_origin``.

    A redirect to another origin (Twilio's signed storage URL) is followed without
    them, so a provider's secret never reaches a host that is not the provider's API.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    credentials_origin: str = ""
    """The origin the headers may go to; empty: ``url``'s own."""

    def headers_for(self, url: str) -> dict[str, str]:
        """The headers to send when GETting ``url`` (this request's, or a redirect's)."""
        allowed = self.credentials_origin or origin(self.url)
        return dict(self.headers) if origin(url) == allowed else {}


@dataclass(frozen=True)
class MediaPlan:
    """How to fetch one attachment: one GET, or a lookup GET whose JSON names the download."""

    api: str
    """How messages name the provider's API (``the Graph API``, ``Twilio``)."""
    first: MediaRequest
    locate: Callable[[Any], MediaRequest] | None = None
    """From the first answer's JSON to the download request; raises MediaUnavailable."""
    content_type: str | None = None
    """The type to answer when neither the provider nor the stored attachment gives one."""


def plain_url(api: str, stored: StoredAttachment) -> MediaPlan:
    """A ``url`` fetchable as it is, without credentials (Messenger's and Instagram's CDN
    URLs, Kakao's), or MediaUnavailable when there is no http(s) URL."""
    if not stored.url or urlsplit(stored.url).scheme.lower() not in ("http", "https"):
        raise MediaUnavailable(f"the {api} attachment has no http(s) URL to fetch")
    return MediaPlan(api, MediaRequest(stored.url))


def detail(response: ProviderResponse) -> str | None:
    """The provider's own words in an error body (Graph ``error.message``, Telegram
    ``description``, Twilio's and LINE's ``message``), shortened; None without."""
    body = response.json()
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    words = (error.get("message") if isinstance(error, dict) else None) or \
        body.get("description") or body.get("message")
    if not isinstance(words, str) or not words.strip():
        return None
    words = words.strip()
    return words if len(words) <= MAX_DETAIL_CHARS else words[:MAX_DETAIL_CHARS - 1] + "…"


def unavailable(plan: MediaPlan, response: ProviderResponse, what: str) -> MediaUnavailable:
    """The error for a failed answer: ``could not fetch the attachment from WhatsApp: the
    Graph API answered HTTP 404 (its words)``; ``what`` names the provider for people."""
    words = detail(response)
    text = failure_text(response, plan.api) + (f" ({words})" if words else "")
    return MediaUnavailable(f"could not fetch the attachment from {what}: {text}")


def media_plan(settings: Settings, stored: StoredAttachment) -> MediaPlan:
    """The plan for ``stored``, by its message's provider; NotStored for email (no provider
    to fetch from: the gateway reads the bytes the email ingress stored), NotConfigured
    without credentials, MediaUnavailable for a reference the provider cannot serve."""
    from omniroute_connectors.line.media import line_media
    from omniroute_connectors.telegram.media import telegram_media
    from omniroute_connectors.twilio.media import twilio_media
    from omniroute_connectors.whatsapp.media import whatsapp_media

    if stored.emailed:
        raise NotStored("an email's attachments are fetched from no provider: omniroute "
                        "serves the copy the email ingress stored, when it stored one")
    builders: Mapping[str, Callable[[Settings, StoredAttachment], MediaPlan]] = {
        "twilio": twilio_media, "whatsapp_cloud": whatsapp_media,
        "telegram": telegram_media, "line": line_media,
        "messenger": lambda _s, a: plain_url("Messenger", a),
        "instagram": lambda _s, a: plain_url("Instagram", a),
        "kakao": lambda _s, a: plain_url("KakaoTalk", a),
    }
    build = builders.get(stored.provider or "")
    if build is None:
        raise MediaUnavailable(f"omniroute cannot fetch attachments of provider "
                               f"{stored.provider or 'unknown'!r}")
    return build(settings, stored)


def provider_name(stored: StoredAttachment) -> str:
    """How an agent knows the provider: ``WhatsApp``, ``Twilio``, ``Telegram``, ..."""
    return {"twilio": "Twilio", "whatsapp_cloud": "WhatsApp", "telegram": "Telegram",
            "line": "LINE", "messenger": "Messenger", "instagram": "Instagram",
            "kakao": "KakaoTalk"}.get(stored.provider or "", stored.provider or "the provider")
