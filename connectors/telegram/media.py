"""A Telegram attachment's bytes: ``getFile``, then the file's path (pure).

``GET {api}/bot{token}/getFile?file_id=…`` answers ``{"ok": true, "result": {"file_id",
"file_unique_id", "file_size", "file_path"}}``; the file is then
``GET {api}/file/bot{token}/{file_path}`` (the link is valid for at least an hour).
Bots download files of at most 20 MB (a larger one: ``400 Bad Request: file is too
big``). The token is in the path: requests are never logged with their URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from omniroute.settings import Settings
from omniroute_connectors.media import (
    MediaPlan,
    MediaRequest,
    MediaUnavailable,
    NotConfigured,
    StoredAttachment,
)

API = "the Telegram Bot API"
PHOTO_TYPE = "image/jpeg"
"""Telegram serves photos (``message.photo``, stored without a type) as JPEG files."""


def telegram_media(settings: Settings, stored: StoredAttachment) -> MediaPlan:
    """``getFile`` for the ``file_id``, then the ``file_path`` it answers."""
    if not stored.media_id:
        raise MediaUnavailable("the Telegram attachment has no file_id")
    if settings.telegram_bot_token is None:
        raise NotConfigured("no Telegram bot token is configured: set "
                            "OMNIROUTE_TELEGRAM_BOT_TOKEN to fetch Telegram files")
    base = settings.telegram_api_base_url
    bot = f"bot{settings.telegram_bot_token.get_secret_value()}"

    def locate(body: Any) -> MediaRequest:
        result = body.get("result") if isinstance(body, dict) and body.get("ok") is True \
            else None
        path = result.get("file_path") if isinstance(result, dict) else None
        if not isinstance(path, str) or not path:
            raise MediaUnavailable("could not fetch the attachment from Telegram: getFile "
                                   "answered no file_path")
        return MediaRequest(f"{base}/file/{bot}/{quote(path, safe='/')}")

    first = MediaRequest(f"{base}/{bot}/getFile?{urlencode({'file_id': stored.media_id})}")
    return MediaPlan(API, first, locate,
                     content_type=PHOTO_TYPE if stored.kind == "image" else None)
