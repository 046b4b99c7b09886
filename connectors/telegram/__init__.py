"""Telegram Bot API: the connector plugin (``/webhooks/telegram``).

``setWebhook`` with ``secret_token``: Telegram sends it back in
``X-Telegram-Bot-Api-Secret-Token`` on every update.

A tap on an inline button (``callback_query``: a CSAT rating, a bot's choice) is
answered in the webhook's own response, ``{"method": "answerCallbackQuery",
"callback_query_id": …}`` (Bot API, "Making requests when getting updates"):
Telegram clients show a progress indicator on the button until the bot answers the
query. The answer goes out after Kafka has the tap, like every 2xx here.
"""

from __future__ import annotations

from omniroute_connectors.base import (
    BadRequest,
    Connector,
    Forbidden,
    Ingest,
    Unauthorized,
    WebhookRequest,
    WebhookResponse,
)
from omniroute_connectors.outbound import OutboundSender
from omniroute_connectors.signatures import secret_equal
from omniroute_connectors.telegram.inbound import map_update


class TelegramConnector(Connector):
    """Telegram webhook updates in, Bot API ``send*`` methods out."""

    name = "telegram"

    def enabled(self) -> bool:
        """Needs OMNIROUTE_TELEGRAM_SECRET_TOKEN."""
        return self.settings.telegram_secret_token is not None

    @property
    def bot_id(self) -> str:
        """The bot's id: the part of the bot token before ``:`` (``telegram`` when unset)."""
        token = self.settings.telegram_bot_token
        return token.get_secret_value().split(":")[0] if token else "telegram"

    def verify(self, request: WebhookRequest) -> None:
        """The secret token header equals OMNIROUTE_TELEGRAM_SECRET_TOKEN."""
        given = request.header("x-telegram-bot-api-secret-token")
        if not given:
            raise Unauthorized("X-Telegram-Bot-Api-Secret-Token header is missing")
        expected = self.settings.telegram_secret_token
        assert expected is not None
        if not secret_equal(expected.get_secret_value(), given):
            raise Forbidden("X-Telegram-Bot-Api-Secret-Token does not match")

    def handle(self, request: WebhookRequest) -> Ingest:
        """One update → at most one message."""
        update = request.json()
        if not isinstance(update, dict):
            raise BadRequest("body must be a Telegram Update object")
        events = map_update(update, self.bot_id)
        query = update.get("callback_query")
        if isinstance(query, dict) and query.get("id"):
            # the button stops spinning (a user run's rating tap was never answered)
            return Ingest(events, WebhookResponse.json(
                {"method": "answerCallbackQuery", "callback_query_id": str(query["id"])}))
        return Ingest(events)

    def sender(self) -> OutboundSender | None:
        """The Bot API sender."""
        from omniroute_connectors.telegram.outbound import TelegramSender

        return TelegramSender(self.settings)
