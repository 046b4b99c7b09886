"""A LINE attachment's bytes: the message's content on LINE's data API (pure).

``GET https://api-data.line.me/v2/bot/message/{messageId}/content`` with the channel
access token answers the image, video, audio or file (LINE keeps it for a limited
time; video and audio may still be in preparation, answered 202). The data API's
host differs from ``api.line.me``: ``OMNIROUTE_LINE_DATA_API_BASE_URL``. Content a
LINE client hosts elsewhere (``contentProvider.type: external``) is its
``originalContentUrl``, fetched as it is.
"""

from __future__ import annotations

from urllib.parse import quote

from omniroute.settings import Settings
from omniroute_connectors.accounts import credential
from omniroute_connectors.media import (
    MediaPlan,
    MediaRequest,
    MediaUnavailable,
    NotConfigured,
    StoredAttachment,
    plain_url,
)


def line_media(settings: Settings, stored: StoredAttachment) -> MediaPlan:
    """The content of the message id, with the token of the account owning the bot."""
    if stored.url:
        return plain_url("LINE", stored)
    if stored.kind == "sticker" or not stored.media_id:
        raise MediaUnavailable("a LINE sticker is not content LINE serves for download")
    account = stored.channel_account or ""
    token = credential(settings, "line", "channel_access_token", account,
                       settings.line_channel_access_token)
    if not token:
        raise NotConfigured(f"no LINE channel access token is configured for bot "
                            f"{account or '?'}: set OMNIROUTE_LINE_CHANNEL_ACCESS_TOKEN (or a "
                            "[[line]] account listing it) to fetch its content")
    url = (f"{settings.line_data_api_base_url}/v2/bot/message/"
           f"{quote(stored.media_id, safe='')}/content")
    return MediaPlan("LINE", MediaRequest(url, {"Authorization": f"Bearer {token}"}))
