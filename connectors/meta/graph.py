"""Graph API responses shared by the Meta senders (pure): success ids and error classes;
the User Profile API request of the Messenger and Instagram connectors.

Errors come as ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``.
Rate limits (codes 4, 17, 32, 613, 80007, 130429, 131056) and transient errors
(1, 2, 131000, 131016) are retriable; everything else (bad recipient, outside the
window: 131047, 10/2018278, 551) is permanent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omniroute.contract import InboundMessage
from omniroute.settings import Settings
from omniroute_connectors.accounts import book, credential
from omniroute_connectors.base import ProfileLookup
from omniroute_connectors.outbound import (
    ProviderResponse,
    SendFailed,
    failure_text,
    retry_after,
)

RETRIABLE_CODES = frozenset({1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131056})


def graph_error(response: ProviderResponse) -> SendFailed:
    """The SendFailed of a non-2xx Graph API answer (or of the Graph API not reached)."""
    body: Any = response.json()
    error = body.get("error", {}) if isinstance(body, dict) else {}
    code = error.get("code")
    message = error.get("message") or failure_text(response, "the Graph API")
    retriable = response.status >= 500 or response.status == 429 or code in RETRIABLE_CODES
    return SendFailed(str(message), code=str(code if code is not None else response.status),
                      retriable=retriable, retry_after=retry_after(response.headers))


def bearer(token: Any) -> dict[str, str]:
    """The Authorization header for an access token (str or SecretStr; empty when unset)."""
    value = token.get_secret_value() if hasattr(token, "get_secret_value") else token
    return {"Authorization": f"Bearer {value}"} if value else {}


def access_token(settings: Settings, channel_account: str) -> str | None:
    """The access token of the [[meta]] account owning ``channel_account``, else
    OMNIROUTE_META_ACCESS_TOKEN."""
    return credential(settings, "meta", "access_token", channel_account,
                      settings.meta_access_token)


def configured(settings: Settings) -> bool:
    """True when an access token exists (environment or config file)."""
    return settings.meta_access_token is not None or bool(book(settings).of("meta"))


def profile_lookup(settings: Settings, message: InboundMessage, fields: str,
                   name_of: Callable[[Any], str | None]) -> ProfileLookup | None:
    """The User Profile API of a page- or Instagram-scoped id (``GET /{version}/{id}?fields=``)
    with the account's access token; ``None`` without a token."""
    token = access_token(settings, message.channel_account)
    if not token:
        return None
    return ProfileLookup(
        f"{settings.meta_graph_base_url}/{settings.meta_graph_version}/{message.sender.value}",
        bearer(token), (("fields", fields),), name_of)
