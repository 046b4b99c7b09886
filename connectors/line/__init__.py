"""LINE Messaging API: the connector plugin (``/webhooks/line``)."""

from __future__ import annotations

from collections.abc import Sequence

from omniroute.contract import InboundMessage
from omniroute_connectors.accounts import book, credential, require_owner, verifying
from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Forbidden,
    Ingest,
    ProfileLookup,
    Route,
    Unauthorized,
    WebhookRequest,
    text_field,
)
from omniroute_connectors.line.inbound import map_payload
from omniroute_connectors.outbound import OutboundSender
from omniroute_connectors.signatures import line_valid


class LineConnector(Connector):
    """LINE webhooks in, the push message API out."""

    name = "line"

    def routes(self) -> Sequence[Route]:
        """``/webhooks/line`` and ``/webhooks/line/<channel>`` (a [[line]] account's name)."""
        return (Route(), Route(path="/{channel}"))

    def enabled(self) -> bool:
        """Needs OMNIROUTE_LINE_CHANNEL_SECRET or [[line]] accounts in the config file."""
        return self.settings.line_channel_secret is not None or bool(
            book(self.settings).of("line"))

    def _channel(self, request: WebhookRequest) -> str | None:
        rest = request.path.removeprefix(self.mount).strip("/")
        return rest or None

    def verify(self, request: WebhookRequest) -> None:
        """x-line-signature = base64 HMAC-SHA256(channel secret, raw body): the named
        channel's secret on ``/webhooks/line/<channel>``, else any configured one."""
        if not self._verifying(request):
            raise Forbidden("x-line-signature does not match the body")

    def _verifying(self, request: WebhookRequest) -> list[str | None]:
        """The channels whose secret signed the body. An unknown channel on
        ``/webhooks/line/<channel>`` has no secret, so it answers exactly like a bad
        signature: the route does not reveal which channels exist."""
        return request.once("verifying", lambda: self._check(request))

    def _check(self, request: WebhookRequest) -> list[str | None]:
        signature = request.header("x-line-signature")
        if not signature:
            raise Unauthorized("x-line-signature header is missing")
        return verifying(self.settings, "line", "channel_secret",
                         self.settings.line_channel_secret,
                         lambda secret: line_valid(secret, request.body, signature),
                         self._channel(request))

    def handle(self, request: WebhookRequest) -> Ingest:
        """Every message event of the POST (an empty ``events`` is LINE's URL check)."""
        payload = request.json()
        if not isinstance(payload, dict):
            raise BadRequest("body must be a JSON object")
        events = map_payload(payload)
        require_owner(self.settings, "line", self._verifying(request),
                      {e.channel_account for e in events if isinstance(e, InboundMessage)})
        return Ingest(events)

    def sender(self) -> OutboundSender | None:
        """The push API sender."""
        from omniroute_connectors.line.outbound import LineSender

        return LineSender(self.settings)

    def profile_lookup(self, message: InboundMessage) -> ProfileLookup | None:
        """LINE's get-profile API (``GET /v2/bot/profile/{userId}``), or its group and room
        member profiles for a sender in a group (``C…``) or room (``R…``); the answer's
        ``displayName`` names them."""
        token = credential(self.settings, "line", "channel_access_token",
                           message.channel_account, self.settings.line_channel_access_token)
        user, scope = message.sender.value, message.sender.scope
        if not token or not user.startswith("U"):
            return None
        path = f"/v2/bot/profile/{user}"
        if scope and scope.startswith(("C", "R")):
            kind = "group" if scope.startswith("C") else "room"
            path = f"/v2/bot/{kind}/{scope}/member/{user}"
        return ProfileLookup(self.settings.line_api_base_url + path,
                             {"Authorization": f"Bearer {token}"},
                             name_of=lambda body: text_field(body, "displayName"))
