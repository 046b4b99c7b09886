"""Survey buttons on channels that have them (connectors' pure request builders)."""

from __future__ import annotations

import json

from pydantic import SecretStr

from omniroute.automation.emit import Batch
from omniroute.automation.memory import ReplyRoute
from omniroute.automation.replies import Reply
from omniroute.automation.survey import rating_choices
from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    Choice,
    OutboundMessage,
    utcnow,
)
from omniroute.settings import Settings
from omniroute_connectors.line.outbound import LineSender
from omniroute_connectors.meta.outbound import InstagramSender, MessengerSender
from omniroute_connectors.outbound import SendContext
from omniroute_connectors.telegram.outbound import TelegramSender
from omniroute_connectors.webchat.recorder import reply_frame
from omniroute_connectors.whatsapp.outbound import WhatsAppSender

CHOICES = [Choice(payload=p, title=t) for p, t in rating_choices("ko")]


def survey(channel: Channel, account: str, recipient: str, count: int = 5) -> OutboundMessage:
    return OutboundMessage(
        event_id="e1", conversation_id="c1", channel=channel, channel_account=account,
        recipient=Address(value=recipient), author=Author(kind=AuthorKind.BOT),
        text="상담은 만족스러우셨나요?", choices=CHOICES[:count], automation="survey")


def settings() -> Settings:
    return Settings(telegram_bot_token=SecretStr("123:abc"),
                    meta_access_token=SecretStr("meta-token"),
                    line_channel_access_token=SecretStr("line-token"))


def now_context() -> SendContext:
    now = utcnow()
    return SendContext(now=now, last_inbound_at=now)


class TestSurveyButtons:
    """WhatsApp interactive, Telegram inline keyboard, LINE quick reply, web chat frame."""

    def test_telegram_inline_keyboard(self) -> None:
        [request] = TelegramSender(settings()).build(survey(Channel.TELEGRAM, "bot", "42"),
                                                     now_context())
        keyboard = json.loads(request.body)["reply_markup"]["inline_keyboard"]
        assert [row[0]["callback_data"] for row in keyboard] == [f"csat:{i}" for i in range(1, 6)]
        assert keyboard[4][0]["text"] == "5 매우 만족"

    def test_whatsapp_list_for_five_and_buttons_for_three(self) -> None:
        sender = WhatsAppSender(settings())
        [five] = sender.build(survey(Channel.WHATSAPP, "1065550001", "821011112222"),
                              now_context())
        body = json.loads(five.body)["interactive"]
        assert body["type"] == "list"
        assert [r["id"] for r in body["action"]["sections"][0]["rows"]][-1] == "csat:5"
        [three] = sender.build(survey(Channel.WHATSAPP, "1065550001", "821011112222", 3),
                               now_context())
        assert json.loads(three.body)["interactive"]["type"] == "button"

    def test_line_quick_reply_postbacks(self) -> None:
        [push] = LineSender(settings()).build(survey(Channel.LINE, "Uacct", "Ucust"),
                                              now_context())
        items = json.loads(push.body)["messages"][-1]["quickReply"]["items"]
        assert [i["action"]["data"] for i in items] == [f"csat:{i}" for i in range(1, 6)]

    def test_messenger_and_instagram_quick_replies_on_the_last_message(self) -> None:
        """A user run found the survey on Messenger and Instagram as bare text: both
        platforms have quick replies, and a tap comes back as ``quick_reply.payload``."""
        for sender, channel in ((MessengerSender(settings()), Channel.MESSENGER),
                                (InstagramSender(settings()), Channel.INSTAGRAM)):
            [request] = sender.build(survey(channel, "PAGE1", "PSID1"), now_context())
            message = json.loads(request.body)["message"]
            assert message["text"] == "상담은 만족스러우셨나요?"
            assert message["quick_replies"] == [
                {"content_type": "text", "title": t, "payload": p}
                for p, t in rating_choices("ko")]

    def test_every_survey_language_has_its_own_labels(self) -> None:
        """The Japanese survey's buttons read "1 Bad" before (labels in en and ko only)."""
        for language in ("ja", "zh", "es"):
            titles = [t for _, t in rating_choices(language)]
            assert titles != [t for _, t in rating_choices("en")]
            assert [t[0] for t in titles] == list("12345")
            assert all(len(t) <= 20 for t in titles)  # Choice, Messenger and LINE limits

    def test_web_chat_frame_carries_the_choices(self) -> None:
        frame = reply_frame(survey(Channel.WEBCHAT, "site", "visitor"))
        assert frame["choices"][0] == {"payload": "csat:1", "title": "1 매우 불만족"}


class TestAutomaticAuthor:
    def test_an_automatic_message_is_signed_by_nobody(self) -> None:
        """Automatic messages carried the author name "omniroute" (the product's name, not
        the company's): a user run's widget showed it above the acknowledgement."""
        batch = Batch("default", "cus_1", "c1", "evt_1", utcnow())
        route = ReplyRoute(channel=Channel.WEBCHAT, channel_account="site",
                           recipient=Address(value="visitor"))
        batch.reply(route, Reply("acknowledgement", "Thanks for your message!"))
        (message,) = batch.outbound
        assert message.author.kind is AuthorKind.BOT and message.author.name is None
        assert reply_frame(message)["author"] == ""
