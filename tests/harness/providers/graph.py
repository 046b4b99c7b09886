"""A fake Meta Graph API: WhatsApp Cloud and the Messenger/Instagram Send API.

``POST /{version}/{phone-number-id}/messages`` with ``messaging_product: whatsapp``
answers ``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id"}]}``.
``POST /{version}/me/messages`` or ``/{version}/{page-or-ig-id}/messages`` without
``messaging_product`` is the Send API: ``{"recipient": {"id"}, "messaging_type":
RESPONSE|UPDATE|MESSAGE_TAG, "tag", "message": {"text"} | {"attachment"}}`` (with
``quick_replies`` as documented) answered
``{"recipient_id", "message_id"}``. A Send API message to a PSID whose 24-hour window
is not open (``window_open``) without ``MESSAGE_TAG`` gets Meta's ``(#10)`` error,
subcode 2018278. Errors: ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``. ``GET /{version}/{psid-or-igsid}?fields=a,b`` is the User Profile API:
the requested fields of ``profiles`` (Messenger ``first_name``, ``last_name``;
Instagram ``name``, ``username``) with ``id``, and ``(#100)`` for an id it does not
know. ``GET /{version}/{media-id}`` of a WhatsApp medium (``add_media``) answers
``{"messaging_product": "whatsapp", "url", "mime_type", "sha256", "file_size", "id"}``,
and the ``url`` (``/whatsapp_business/attachments/?mid=…&ext=…&hash=…``, Meta's
lookaside path) serves the bytes with the same bearer token (``401`` without it,
``404`` for a wrong hash). Shapes: developers.facebook.com/docs/messenger-platform/reference/send-api,
WhatsApp Cloud API media reference,
/docs/messenger-platform/identity/user-profile, Instagram messaging user-profile,
/docs/messenger-platform/error-codes, WhatsApp Cloud API messages reference.
"""

from __future__ import annotations

import hashlib
import itertools
import time

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
        self.profiles: dict[str, dict[str, object]] = {}
        """PSID or IGSID → the profile fields the User Profile API knows."""
        self._ids = itertools.count(1)
        self.media: dict[str, tuple[str, bytes]] = {}
        """WhatsApp media id → (mime type, bytes) of media customers sent."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/{node}/messages", self.messages)
        app.router.add_get("/whatsapp_business/attachments/", self.attachment)
        app.router.add_get("/{version}/{node}", self.profile)

    def add_media(self, mime_type: str, body: bytes) -> str:
        """Keep a customer's WhatsApp medium; its media id (what the webhook carries)."""
        media_id = str(1_000_000_000_000_000 + int(hashlib.sha256(body).hexdigest()[:12], 16))
        self.media[media_id] = (mime_type, body)
        return media_id

    def _hash(self, media_id: str) -> str:
        return hashlib.sha256(f"{self.access_token}|{media_id}".encode()).hexdigest()

    def _medium(self, request: web.Request, media_id: str) -> web.Response:
        mime_type, body = self.media[media_id]
        url = (f"{self.base_url}/whatsapp_business/attachments/?mid={media_id}"
               f"&ext={int(time.time()) + 300}&hash={self._hash(media_id)}")
        return web.json_response({"messaging_product": "whatsapp", "url": url,
                                  "mime_type": mime_type,
                                  "sha256": hashlib.sha256(body).hexdigest(),
                                  "file_size": str(len(body)), "id": media_id})

    async def attachment(self, request: web.Request) -> web.Response:
        await self.record(request)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return self.error(401, 190, "Invalid OAuth access token.")
        media_id = request.query.get("mid", "")
        if media_id not in self.media or request.query.get("hash") != self._hash(media_id):
            return web.Response(status=404, text="Not Found")
        mime_type, body = self.media[media_id]
        return web.Response(body=body, headers={"Content-Type": mime_type})

    async def profile(self, request: web.Request) -> web.Response:
        await self.record(request)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return self.error(400, 190, "Invalid OAuth access token.")
        if (failure := self.queued_failure()) is not None:
            return failure
        node = request.match_info["node"]
        if node in self.media:
            return self._medium(request, node)
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        if node not in self.profiles or not fields:
            return self.error(400, 100, f"(#100) Object with ID '{node}' does not exist, cannot "
                                        "be loaded due to missing permissions, or does not "
                                        "support this operation")
        known = self.profiles[node]
        return web.json_response({"id": node, **{f: known[f] for f in fields if f in known}})

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
                                               "document", "sticker", "interactive"):
            return self.error(400, 100, "(#100) Invalid parameter")
        if body.get("type") == "interactive" and (problem := _interactive_problem(
                body.get("interactive"))):
            return self.error(400, 131009, f"(#131009) Parameter value is not valid: {problem}")
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
        if (problem := _quick_replies_problem(message.get("quick_replies"))) is not None:
            return self.error(400, 100, f"(#100) Invalid parameter: {problem}")
        if kind != "MESSAGE_TAG" and psid not in self.window_open:
            return self.error(400, 10, "(#10) This message is sent outside of allowed window.",
                              subcode=2018278)
        return web.json_response({"recipient_id": psid,
                                  "message_id": f"m_FAKE{next(self._ids)}"})


def _quick_replies_problem(quick: object) -> str | None:
    """Why the Send API would refuse ``message.quick_replies``, or None (absent is fine).

    At most 13; each ``content_type`` text (a non-empty title of at most 20 characters and
    a payload of at most 1,000), ``user_phone_number`` or ``user_email``
    (developers.facebook.com/docs/messenger-platform/reference/buttons/quick-replies).
    """
    if quick is None:
        return None
    if not isinstance(quick, list) or not 1 <= len(quick) <= 13:
        return "quick_replies: 1 to 13 quick replies"
    for q in quick:
        if not isinstance(q, dict) or q.get("content_type") not in (
                "text", "user_phone_number", "user_email"):
            return "quick_replies[].content_type must be text, user_phone_number or user_email"
        if q["content_type"] == "text" and not (
                isinstance(q.get("title"), str) and 1 <= len(q["title"]) <= 20
                and isinstance(q.get("payload"), str | int) and len(str(q["payload"])) <= 1000):
            return "a text quick reply needs a title of 1 to 20 characters and a payload"
    return None


def _interactive_problem(interactive: object) -> str | None:
    """Why Meta would refuse an interactive message (reply buttons or a list), or None.

    Limits of the Cloud API's interactive messages: body text required (at most 1,024
    characters); reply buttons: 1-3, type ``reply``, id at most 256 and title at most 20
    characters, titles unique; list: button label 1-20 characters, 1-10 sections (a title,
    at most 24 characters, when there are several), 1-10 rows in all, row id at most 200,
    title at most 24 and description at most 72 characters, ids unique.
    """
    if not isinstance(interactive, dict):
        return "interactive must be an object"
    body = interactive.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not 1 <= len(text) <= 1024:
        return "body.text is required, at most 1024 characters"
    action = interactive.get("action")
    if not isinstance(action, dict):
        return "action is required"
    if interactive.get("type") == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return "action.buttons: 1 to 3 buttons"
        titles = [b.get("reply", {}).get("title") for b in buttons if isinstance(b, dict)]
        if len(titles) != len(buttons) or any(
                b.get("type") != "reply" or not 1 <= len(str(b["reply"].get("id", ""))) <= 256
                or not isinstance(t, str) or not 1 <= len(t) <= 20
                for b, t in zip(buttons, titles, strict=True)) or len(set(titles)) != len(titles):
            return "each button: type reply, id <= 256, a unique title <= 20 characters"
        return None
    if interactive.get("type") == "list":
        label, sections = action.get("button"), action.get("sections")
        if not isinstance(label, str) or not 1 <= len(label) <= 20:
            return "action.button: 1 to 20 characters"
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            return "action.sections: 1 to 10 sections"
        if any(not isinstance(x, dict) or (len(sections) > 1 and not x.get("title"))
               or len(str(x.get("title", ""))) > 24 for x in sections):
            return "section titles: required when several, at most 24 characters"
        rows = [r for x in sections for r in x.get("rows") or []]
        if not 1 <= len(rows) <= 10:
            return "rows: 1 to 10 across all sections"
        if any(not isinstance(r, dict) or not 1 <= len(str(r.get("id", ""))) <= 200
               or not 1 <= len(str(r.get("title", ""))) <= 24
               or len(str(r.get("description", ""))) > 72 for r in rows):
            return "each row: id <= 200, title <= 24, description <= 72 characters"
        if len({r["id"] for r in rows}) != len(rows):
            return "row ids must be unique"
        return None
    return f"interactive type {interactive.get('type')!r} is not one this fake knows"
