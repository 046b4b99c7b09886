"""A fake Meta Graph API: WhatsApp Cloud and the Messenger/Instagram Send API.

``POST /{version}/{phone-number-id}/messages`` with ``messaging_product: whatsapp``
answers ``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id"}]}``.
``POST /{version}/me/messages`` or ``/{version}/{page-or-ig-id}/messages`` without
``messaging_product`` is the Send API: ``{"recipient": {"id"}, "messaging_type":
RESPONSE|UPDATE|MESSAGE_TAG, "tag", "message": {"text"} | {"attachment"}}`` answered
``{"recipient_id", "message_id"}``. A Send API message to a PSID whose 24-hour window
is not open (``window_open``) without ``MESSAGE_TAG`` gets Meta's ``(#10)`` error,
subcode 2018278. Errors: ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``. Shapes: developers.facebook.com/docs/messenger-platform/reference/send-api,
/docs/messenger-platform/error-codes, WhatsApp Cloud API messages reference.
"""

from __future__ import annotations

import itertools

from aiohttp import web

from harness.providers.base import FakeProvider

MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}
TAGS = {"CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE", "HUMAN_AGENT"}


class FakeGraph(FakeProvider):
    """The Graph API endpoints omniroute sends to."""

    def __init__(self, access_token: str = "graph-token") -> None:
        super().__init__()
        self.access_token = access_token
        self.window_open: set[str] = set()
        self._ids = itertools.count(1)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/{node}/messages", self.messages)

    def error(self, status: int, code: int | str, message: str,
              subcode: int | None = None) -> web.Response:
        error: dict[str, object] = {"message": message, "type": "OAuthException", "code": code,
                                    "fbtrace_id": "AfakeTrace"}
        if subcode is not None:
            error["error_subcode"] = subcode
        return web.json_response({"error": error}, status=status)

    async def messages(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return self.error(400, 190, "Invalid OAuth access token.")
        if (failure := self.queued_failure()) is not None:
            return failure
        body = seen.json
        if not isinstance(body, dict):
            return self.error(400, 100, "(#100) the body must be a JSON object")
        if body.get("messaging_product") == "whatsapp":
            return self._whatsapp(body)
        return self._send_api(body)

    def _whatsapp(self, body: dict[str, object]) -> web.Response:
        to = body.get("to")
        if not to or body.get("type") not in ("text", "template", "image", "video", "audio",
                                               "document", "sticker"):
            return self.error(400, 100, "(#100) Invalid parameter")
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [{"id": f"wamid.FAKE{next(self._ids)}"}]})

    def _send_api(self, body: dict[str, object]) -> web.Response:
        recipient = body.get("recipient")
        psid = recipient.get("id") if isinstance(recipient, dict) else None
        if not psid:
            return self.error(400, 100, "(#100) The parameter recipient is required")
        kind = body.get("messaging_type")
        if kind not in MESSAGING_TYPES:
            return self.error(400, 100, "(#100) messaging_type must be RESPONSE, UPDATE or "
                                        "MESSAGE_TAG")
        if kind == "MESSAGE_TAG" and body.get("tag") not in TAGS:
            return self.error(400, 100, "(#100) Tag is required for MESSAGE_TAG")
        message = body.get("message")
        if not isinstance(message, dict) or not (message.get("text") or
                                                 message.get("attachment")):
            return self.error(400, 100, "(#100) The parameter message is required")
        if kind != "MESSAGE_TAG" and psid not in self.window_open:
            return self.error(400, 10, "(#10) This message is sent outside of allowed window.",
                              subcode=2018278)
        return web.json_response({"recipient_id": psid,
                                  "message_id": f"m_FAKE{next(self._ids)}"})
