"""A fake Twilio Messages API.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded (``To``,
``From``, ``Body``, repeated ``MediaUrl``, ``ContentSid``/``ContentVariables``),
HTTP Basic auth ``AccountSid:AuthToken``. Success is ``201`` with the Message
resource (``sid`` ``SM...``, ``status: queued``); errors are Twilio's REST error
body ``{"code", "message", "more_info", "status"}`` (e.g. 20003 Authenticate,
21211 invalid To, 21602 body required, 20429 too many requests).
Media of received messages (``add_media``) are served at their ``MediaUrl``
``GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}``: with
Basic auth ``307`` to a signed storage URL (on another origin, ``localhost``, as Twilio's
storage is another host), else ``401`` 20003; an unknown media ``404`` 20404. The
storage URL refuses a request carrying ``Authorization`` (``400``, as S3 does for a
second authentication) and a wrong signature (``403``).
Shapes: twilio.com/docs/messaging/api/message-resource, /docs/messaging/api/media-resource
and /docs/usage/twilios-response.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from datetime import UTC, datetime

from aiohttp import web

from harness.providers.base import FakeProvider

E164 = re.compile(r"^(whatsapp:)?\+[1-9][0-9]{6,14}$")


class FakeTwilio(FakeProvider):
    """Twilio's Messages resource, one account."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._ids = itertools.count(1)
        self.media: dict[str, tuple[str, bytes]] = {}
        """MediaSid → (content type, bytes) of media customers sent."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.create)
        app.router.add_get("/2010-04-01/Accounts/{sid}/Messages/{message}/Media/{media}",
                           self.media_url)
        app.router.add_get("/storage/{media}", self.storage)

    def add_media(self, message_sid: str, content_type: str, body: bytes) -> str:
        """Keep a customer's media; its ``MediaUrl`` (what the webhook carries)."""
        media_sid = f"ME{hashlib.sha256(body + message_sid.encode()).hexdigest()[:32]}"
        self.media[media_sid] = (content_type, body)
        return (f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/"
                f"{message_sid}/Media/{media_sid}")

    def _signature(self, media_sid: str) -> str:
        return hashlib.sha256(f"{self.auth_token}|{media_sid}".encode()).hexdigest()

    async def media_url(self, request: web.Request) -> web.Response:
        await self.record(request)
        if not self._authorized(request, request.match_info["sid"]):
            return self.error(401, 20003, "Authenticate")
        if (failure := self.queued_failure()) is not None:
            return failure
        media_sid = request.match_info["media"]
        if media_sid not in self.media:
            return self.error(404, 20404, f"The requested resource {request.path} was not "
                                          "found")
        storage = (f"http://localhost:{self.port}/storage/{media_sid}"
                   f"?X-Amz-Signature={self._signature(media_sid)}")
        raise web.HTTPTemporaryRedirect(storage)

    async def storage(self, request: web.Request) -> web.Response:
        await self.record(request)
        if "Authorization" in request.headers:
            return web.Response(status=400, content_type="application/xml", text=(
                "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism "
                "allowed</Message></Error>"))
        media_sid = request.match_info["media"]
        if media_sid not in self.media or \
                request.query.get("X-Amz-Signature") != self._signature(media_sid):
            return web.Response(status=403, content_type="application/xml",
                                text="<Error><Code>AccessDenied</Code></Error>")
        content_type, body = self.media[media_sid]
        return web.Response(body=body, headers={"Content-Type": content_type})

    def error(self, status: int, code: int | str, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}",
                                  "status": status}, status=status)

    def _authorized(self, request: web.Request, sid: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return sid == self.account_sid and request.headers.get("Authorization") == (
            f"Basic {expected}")

    async def create(self, request: web.Request) -> web.Response:
        seen = await self.record(request)
        if not self._authorized(request, request.match_info["sid"]):
            return self.error(401, 20003, "Authenticate")
        if request.content_type != "application/x-www-form-urlencoded":
            return self.error(400, 20001, "parameters must be form-encoded")
        if (failure := self.queued_failure()) is not None:
            return failure
        to, sender = seen.form_values("To"), seen.form_values("From")
        if not to:
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return self.error(400, 21603, "A 'From' phone number is required.")
        if not E164.match(to[0]):
            return self.error(400, 21211, f"Invalid 'To' Phone Number: {to[0]}")
        body = seen.form_values("Body")
        media = seen.form_values("MediaUrl")
        if not body and not media and not seen.form_values("ContentSid"):
            return self.error(400, 21602, "Message body is required.")
        sid = f"SM{next(self._ids):032x}"
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        return web.json_response({
            "account_sid": self.account_sid, "api_version": "2010-04-01",
            "body": body[0] if body else "", "date_created": now, "date_sent": None,
            "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": sender[0], "messaging_service_sid": None,
            "num_media": str(len(media)), "num_segments": "1", "price": None,
            "price_unit": "USD", "sid": sid, "status": "queued", "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": to[0], "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }, status=201)
