"""A Twilio MMS (or WhatsApp via Twilio) attachment's bytes: its ``MediaUrl`` (pure).

``GET https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}``
with HTTP basic auth (account SID, auth token): Twilio enforces it on media URLs and
answers with a redirect to a short-lived signed storage URL. The credentials go only
to the configured Twilio API host (``OMNIROUTE_TWILIO_API_BASE_URL``); the redirect,
and a ``MediaUrl`` on any other host, are fetched without them.
"""

from __future__ import annotations

import base64

from omniroute.settings import Settings
from omniroute_connectors.accounts import credential
from omniroute_connectors.media import (
    MediaPlan,
    MediaRequest,
    MediaUnavailable,
    NotConfigured,
    StoredAttachment,
    origin,
)


def basic_auth(account_sid: str, auth_token: str) -> dict[str, str]:
    """The ``Authorization`` header of HTTP basic auth with the account's SID and token."""
    pair = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def twilio_media(settings: Settings, stored: StoredAttachment) -> MediaPlan:
    """GET the ``MediaUrl`` with the credentials of the account owning the message's number."""
    if not stored.url or not stored.url.lower().startswith(("https://", "http://")):
        raise MediaUnavailable("the Twilio attachment has no http(s) MediaUrl")
    number = stored.channel_account or ""
    sid = credential(settings, "twilio", "account_sid", number, settings.twilio_account_sid)
    token = credential(settings, "twilio", "auth_token", number, settings.twilio_auth_token)
    if not sid or not token:
        raise NotConfigured(f"no Twilio account is configured for {number or 'this number'}: "
                            "set OMNIROUTE_TWILIO_ACCOUNT_SID and OMNIROUTE_TWILIO_AUTH_TOKEN "
                            "(or a [[twilio]] account listing it) to fetch its media")
    return MediaPlan("Twilio", MediaRequest(stored.url, basic_auth(sid, token),
                                            origin(settings.twilio_api_base_url)))
