"""A WhatsApp Cloud attachment's bytes: the media id's URL, then that URL (pure).

``GET {graph}/{version}/{media-id}`` with the access token answers
``{"messaging_product": "whatsapp", "url", "mime_type", "sha256", "file_size", "id"}``;
the ``url`` (``https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=…``, valid
for five minutes) is then fetched with the same bearer token, as Meta documents.
Media ids of webhooks expire after 7 days (the Graph API then answers an error).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from omniroute.settings import Settings
from omniroute_connectors.media import (
    MediaPlan,
    MediaRequest,
    MediaUnavailable,
    NotConfigured,
    StoredAttachment,
)
from omniroute_connectors.meta.graph import access_token, bearer

API = "the Graph API"


def whatsapp_media(settings: Settings, stored: StoredAttachment) -> MediaPlan:
    """Look the media id up with the account's token, then GET the URL it names."""
    if not stored.media_id:
        raise MediaUnavailable("the WhatsApp attachment has no media id")
    account = stored.channel_account or ""
    token = access_token(settings, account)
    if not token:
        raise NotConfigured(f"no WhatsApp access token is configured for phone number id "
                            f"{account or '?'}: set OMNIROUTE_META_ACCESS_TOKEN (or a [[meta]] "
                            "account listing it) to fetch its media")
    auth = bearer(token)
    lookup = (f"{settings.meta_graph_base_url}/{settings.meta_graph_version}/"
              f"{quote(stored.media_id, safe='')}")

    def locate(body: Any) -> MediaRequest:
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https"):
            raise MediaUnavailable("could not fetch the attachment from WhatsApp: the Graph "
                                   "API's answer names no download url")
        return MediaRequest(url, auth)

    return MediaPlan(API, MediaRequest(lookup, auth), locate)
