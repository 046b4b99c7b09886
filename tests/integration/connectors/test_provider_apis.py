"""Every outbound sender against its fake provider API (tests/harness/providers).

Each test runs :func:`omniroute.delivery.sending.deliver` (the code the delivery
process runs per message) over real HTTP to a fake that validates the documented
request shape and answers the provider's documented bodies. Waits (rate limits,
backoff, ``Retry-After``) go through an injected clock and sleep, so the tests
check the exact waits asked for without waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from harness.providers.base import Failure
from harness.providers.graph import FakeGraph
from harness.providers.kakao import FakeKakao
from harness.providers.line import FakeLine
from harness.providers.telegram import FakeTelegram
from harness.providers.twilio import FakeTwilio
from omniroute.automation.survey import rating_choices
from omniroute.contract import (
    Address,
    Attachment,
    AttachmentKind,
    Author,
    AuthorKind,
    Channel,
    Choice,
    DeliveryState,
    DeliveryStatus,
    OutboundMessage,
    Template,
    utcnow,
)
from omniroute.delivery.http import aiohttp_caller
from omniroute.delivery.ratelimit import RateLimits
from omniroute.delivery.sending import deliver
from omniroute.settings import Settings
from omniroute_connectors.kakao.outbound import KakaoSender
from omniroute_connectors.line.outbound import RETRY_KEY_NAMESPACE, LineSender
from omniroute_connectors.meta.outbound import InstagramSender, MessengerSender
from omniroute_connectors.outbound import OutboundSender, SendContext
from omniroute_connectors.telegram.outbound import TelegramSender
from omniroute_connectors.twilio.outbound import TwilioSender
from omniroute_connectors.whatsapp.outbound import WhatsAppSender

SID, TOKEN = "AC" + "0" * 32, "twilio-token"


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def message(channel: Channel, account: str, to: str, n: int = 1, **extra: Any) -> OutboundMessage:
    fields: dict[str, Any] = {"text": f"reply {n}"} | extra
    return OutboundMessage(event_id=f"out-{channel.value}-{n}", conversation_id="conv-1",
                           channel=channel, channel_account=account, recipient=Address(value=to),
                           author=Author(kind=AuthorKind.AGENT, id="a1"), **fields)


def in_window(minutes_ago: float = 30, **hints: str) -> SendContext:
    now = utcnow()
    return SendContext(now=now, last_inbound_at=now - timedelta(minutes=minutes_ago),
                       reply_hint=hints)


async def send(session: aiohttp.ClientSession, sender: OutboundSender, msg: OutboundMessage,
               context: SendContext, time: FakeTime | None = None,
               limits: RateLimits | None = None, rate: float = 100.0,
               attempts: int = 3) -> Sequence[DeliveryStatus]:
    time = time or FakeTime()
    return await deliver(msg, sender, context, aiohttp_caller(session), limits or RateLimits(),
                         rate=rate, attempts=attempts, base_delay=0.5, sleep=time.sleep,
                         clock=time.clock)


# ----------------------------------------------------------------------------- Twilio


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[FakeTwilio, TwilioSender]]:
    async with FakeTwilio(SID, TOKEN) as fake:
        settings = Settings(twilio_account_sid=SID, twilio_auth_token=TOKEN,
                            twilio_api_base_url=fake.base_url)
        yield fake, TwilioSender(settings)  # type: ignore[misc]


class TestTwilio:
    async def test_form_post_with_basic_auth_and_repeated_media(self, session, twilio) -> None:
        fake, sender = twilio
        media = [Attachment(kind=AttachmentKind.IMAGE, url=f"https://cdn.example/{i}.jpg")
                 for i in range(2)]
        [status] = await send(session, sender, message(Channel.SMS, "+14155550199",
                                                       "+14155550100", attachments=media),
                              SendContext(now=utcnow()))
        assert status.state is DeliveryState.ACCEPTED
        assert status.provider_message_id and status.provider_message_id.startswith("SM")
        [seen] = fake.requests
        assert seen.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
        assert seen.header("Content-Type") == "application/x-www-form-urlencoded"
        assert seen.form == [("To", "+14155550100"), ("From", "+14155550199"),
                             ("Body", "reply 1"), ("MediaUrl", "https://cdn.example/0.jpg"),
                             ("MediaUrl", "https://cdn.example/1.jpg")]

    async def test_429_retry_after_then_5xx_backoff_then_accepted(self, session, twilio) -> None:
        fake, sender = twilio
        fake.fail_next = [Failure(429, 20429, retry_after=3), Failure(503, 20500)]
        time = FakeTime()
        [status] = await send(session, sender, message(Channel.SMS, "+14155550199",
                                                       "+14155550100"),
                              SendContext(now=utcnow()), time)
        assert status.state is DeliveryState.ACCEPTED
        assert len(fake.requests) == 3
        assert time.sleeps == [3.0, 1.0]  # Retry-After honoured, then 0.5 * 2**1

    async def test_permanent_error_is_not_retried_and_keeps_the_code(self, session,
                                                                     twilio) -> None:
        fake, sender = twilio
        [status] = await send(session, sender, message(Channel.SMS, "+14155550199", "12345"),
                              SendContext(now=utcnow()))
        assert status.state is DeliveryState.FAILED
        assert status.error_code == "21211"
        assert "Invalid 'To' Phone Number" in (status.error_message or "")
        assert len(fake.requests) == 1

    async def test_retries_exhausted(self, session, twilio) -> None:
        fake, sender = twilio
        fake.fail_next = [Failure(500, 20500)] * 3
        [status] = await send(session, sender, message(Channel.SMS, "+14155550199",
                                                       "+14155550100"),
                              SendContext(now=utcnow()), attempts=3)
        assert status.state is DeliveryState.FAILED
        assert status.error_code == "retries_exhausted:20500"
        assert len(fake.requests) == 3

    async def test_rate_limit_is_per_account(self, session, twilio) -> None:
        fake, sender = twilio
        time, limits = FakeTime(), RateLimits()
        for n in range(4):
            await send(session, sender, message(Channel.SMS, "+14155550199", "+14155550100", n),
                       SendContext(now=utcnow()), time, limits, rate=2.0)
        assert time.sleeps == [0.5, 0.5]  # burst of 2, then one every 1/2 s
        for n in range(2):  # another number has its own bucket: no wait
            await send(session, sender, message(Channel.SMS, "+14155550111", "+14155550100", n),
                       SendContext(now=utcnow()), time, limits, rate=2.0)
        assert time.sleeps == [0.5, 0.5]
        assert len(fake.requests) == 6

    async def test_whatsapp_window_needs_a_content_template(self, session, twilio) -> None:
        fake, sender = twilio
        outside = SendContext(now=utcnow(), last_inbound_at=utcnow() - timedelta(hours=30))
        [refused] = await send(session, sender, message(
            Channel.WHATSAPP, "whatsapp:+14155550199", "whatsapp:+972500000001"), outside)
        assert (refused.state, refused.error_code) == (DeliveryState.FAILED, "outside_window")
        assert fake.requests == []
        [sent] = await send(session, sender, message(
            Channel.WHATSAPP, "whatsapp:+14155550199", "whatsapp:+972500000001", text=None,
            template=Template(name="HXb5b62575e6e4ff6129ad7c8efe1f983e", language="en",
                              parameters=["42"])), outside)
        assert sent.state is DeliveryState.ACCEPTED
        assert fake.requests[0].form_values("ContentSid") == ["HXb5b62575e6e4ff6129ad7c8efe1f983e"]
        assert fake.requests[0].form_values("ContentVariables") == ['{"1": "42"}']


# ----------------------------------------------------------------------------- Messenger


@pytest.fixture
async def graph() -> AsyncIterator[tuple[FakeGraph, Settings]]:
    async with FakeGraph("page-token") as fake:
        yield fake, Settings(meta_access_token="page-token",  # type: ignore[misc]
                             meta_graph_base_url=fake.base_url)


class TestMessengerAndInstagram:
    async def test_in_window_response_text_then_attachment(self, session, graph) -> None:
        fake, settings = graph
        fake.window_open.add("PSID1")
        photo = Attachment(kind=AttachmentKind.IMAGE, url="https://cdn.example/p.jpg")
        statuses = await send(session, MessengerSender(settings), message(
            Channel.MESSENGER, "PAGE1", "PSID1", attachments=[photo]), in_window())
        assert [s.state for s in statuses] == [DeliveryState.ACCEPTED] * 2
        assert all((s.provider_message_id or "").startswith("m_") for s in statuses)
        assert [r.path for r in fake.requests] == ["/v21.0/me/messages"] * 2
        assert [r.json for r in fake.requests] == [
            {"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE",
             "message": {"text": "reply 1"}},
            {"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE",
             "message": {"attachment": {"type": "image", "payload": {
                 "url": "https://cdn.example/p.jpg", "is_reusable": True}}}}]

    async def test_outside_window_without_tag_fails_clearly(self, session, graph) -> None:
        fake, settings = graph
        [status] = await send(session, MessengerSender(settings), message(
            Channel.MESSENGER, "PAGE1", "PSID2"), in_window(minutes_ago=25 * 60))
        assert (status.state, status.error_code) == (DeliveryState.FAILED, "outside_window")
        assert "message_tag" in (status.error_message or "")
        assert fake.requests == []

    async def test_outside_window_with_human_agent_tag(self, session, graph) -> None:
        fake, settings = graph
        [status] = await send(session, MessengerSender(settings), message(
            Channel.MESSENGER, "PAGE1", "PSID2", message_tag="HUMAN_AGENT"),
            in_window(minutes_ago=3 * 24 * 60))
        assert status.state is DeliveryState.ACCEPTED
        assert fake.requests[0].json["messaging_type"] == "MESSAGE_TAG"
        assert fake.requests[0].json["tag"] == "HUMAN_AGENT"

    async def test_meta_refusing_the_window_is_permanent_with_its_code(self, session,
                                                                       graph) -> None:
        fake, settings = graph  # our view thinks the window is open; Meta disagrees
        [status] = await send(session, MessengerSender(settings), message(
            Channel.MESSENGER, "PAGE1", "PSID3"), in_window())
        assert (status.state, status.error_code) == (DeliveryState.FAILED, "10")
        assert "outside of allowed window" in (status.error_message or "")
        assert len(fake.requests) == 1

    async def test_transient_graph_errors_are_retried(self, session, graph) -> None:
        fake, settings = graph
        fake.window_open.add("PSID1")
        fake.fail_next = [Failure(500, 2), Failure(400, 613, retry_after=7)]
        time = FakeTime()
        [status] = await send(session, MessengerSender(settings), message(
            Channel.MESSENGER, "PAGE1", "PSID1"), in_window(), time)
        assert status.state is DeliveryState.ACCEPTED
        assert time.sleeps == [0.5, 7.0]
        assert len(fake.requests) == 3

    async def test_instagram_same_shape_shorter_texts(self, session, graph) -> None:
        fake, settings = graph
        fake.window_open.add("IGSID1")
        sender = InstagramSender(settings)
        [ok] = await send(session, sender, message(Channel.INSTAGRAM, "IG1", "IGSID1"),
                          in_window())
        assert ok.state is DeliveryState.ACCEPTED and ok.provider == "instagram"
        [long] = await send(session, sender, message(Channel.INSTAGRAM, "IG1", "IGSID1", 2,
                                                     text="x" * 1001), in_window())
        assert long.error_code == "too_long"
        assert len(fake.requests) == 1

    async def test_the_fake_refuses_quick_replies_meta_refuses(self, session, graph) -> None:
        """Fidelity of the fake: 14 quick replies, and a title over 20 characters."""
        fake, _ = graph
        fake.window_open.add("PSID1")
        url = f"{fake.base_url}/v21.0/me/messages"

        def quick(n: int, title: str = "ok") -> dict[str, object]:
            return {"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE", "message": {
                "text": "Pick one", "quick_replies": [
                    {"content_type": "text", "title": title, "payload": str(i)}
                    for i in range(n)]}}

        answers = []
        for body in (quick(13, "x" * 20), quick(14), quick(1, "x" * 21)):
            async with session.post(url, json=body,
                                    headers={"Authorization": "Bearer page-token"}) as answer:
                answers.append(answer.status)
        assert answers == [200, 400, 400]


class TestWhatsAppCloud:
    async def test_survey_list_and_reply_buttons_are_accepted_as_meta_documents_them(
            self, session, graph) -> None:
        """The CSAT survey (five choices: a list; three: reply buttons) passes the fake's
        checks of the documented interactive limits; a user run had found the fake
        refusing every interactive message, so surveys were never shown to be sendable."""
        fake, _ = graph
        sender = WhatsAppSender(Settings(meta_access_token="page-token",  # type: ignore[arg-type]
                                         meta_graph_base_url=fake.base_url))
        choices = [Choice(payload=p, title=t) for p, t in rating_choices("en")]
        for count in (5, 3):
            survey = message(Channel.WHATSAPP, "1065550001", "821011112222", count,
                             text="How would you rate our support?", choices=choices[:count])
            statuses = await send(session, sender, survey, in_window())
            assert [s.state for s in statuses] == [DeliveryState.ACCEPTED]
        kinds = [r.json["interactive"]["type"] for r in fake.requests]
        assert kinds == ["list", "button"]
        assert [row["id"] for row in fake.requests[0].json["interactive"]["action"]["sections"][
            0]["rows"]] == [f"csat:{i}" for i in range(1, 6)]

    async def test_the_fake_refuses_what_meta_refuses(self, session, graph) -> None:
        """Fidelity of the fake: a row title over 24 characters and four reply buttons."""
        fake, _ = graph
        headers = {"Authorization": "Bearer page-token"}
        url = f"{fake.base_url}/v21.0/1065550001/messages"
        base = {"messaging_product": "whatsapp", "to": "821011112222", "type": "interactive"}
        too_long = {**base, "interactive": {"type": "list", "body": {"text": "Pick one"},
                    "action": {"button": "Select", "sections": [{"rows": [
                        {"id": "a", "title": "x" * 25}]}]}}}
        four = {**base, "interactive": {"type": "button", "body": {"text": "Pick one"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": str(i),
                                                                    "title": f"b{i}"}}
                                       for i in range(4)]}}}
        for body in (too_long, four):
            async with session.post(url, json=body, headers=headers) as answer:
                assert answer.status == 400
                assert (await answer.json())["error"]["code"] == 131009


# ----------------------------------------------------------------------------- Telegram


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[FakeTelegram, TelegramSender]]:
    async with FakeTelegram("42:secret") as fake:
        yield fake, TelegramSender(Settings(  # type: ignore[misc]
            telegram_bot_token="42:secret", telegram_api_base_url=fake.base_url))


class TestTelegram:
    async def test_send_message_reply_and_photo(self, session, telegram) -> None:
        fake, sender = telegram
        photo = Attachment(kind=AttachmentKind.IMAGE, url="https://cdn.example/p.jpg",
                           caption="the receipt")
        statuses = await send(session, sender, message(
            Channel.TELEGRAM, "bot42", "5550001", attachments=[photo],
            reply_to_provider_message_id="5550001:77"), SendContext(now=utcnow()))
        assert [s.provider_message_id for s in statuses] == ["5550001:1", "5550001:2"]
        assert [r.path for r in fake.requests] == ["/bot42:secret/sendMessage",
                                                   "/bot42:secret/sendPhoto"]
        assert fake.requests[0].json == {"chat_id": "5550001", "text": "reply 1",
                                         "reply_parameters": {"message_id": 77}}
        assert fake.requests[1].json == {"chat_id": "5550001", "reply_parameters": {
            "message_id": 77}, "photo": "https://cdn.example/p.jpg", "caption": "the receipt"}

    async def test_429_retry_after_in_body(self, session, telegram) -> None:
        fake, sender = telegram
        fake.fail_next = [Failure(429, 429, retry_after=2)]
        time = FakeTime()
        [status] = await send(session, sender, message(Channel.TELEGRAM, "bot42", "5550001"),
                              SendContext(now=utcnow()), time)
        assert status.state is DeliveryState.ACCEPTED
        assert time.sleeps == [2.0]

    async def test_blocked_user_is_permanent(self, session, telegram) -> None:
        fake, sender = telegram
        fake.blocked.add("5550002")
        [status] = await send(session, sender, message(Channel.TELEGRAM, "bot42", "5550002"),
                              SendContext(now=utcnow()))
        assert (status.state, status.error_code) == (DeliveryState.FAILED, "403")
        assert status.error_message == "Forbidden: bot was blocked by the user"
        assert len(fake.requests) == 1


# ----------------------------------------------------------------------------- LINE


@pytest.fixture
async def line() -> AsyncIterator[tuple[FakeLine, LineSender]]:
    async with FakeLine("line-token") as fake:
        yield fake, LineSender(Settings(  # type: ignore[misc]
            line_channel_access_token="line-token", line_api_base_url=fake.base_url))


class TestLine:
    async def test_push_with_a_stable_retry_key(self, session, line) -> None:
        fake, sender = line
        msg = message(Channel.LINE, "Ubot", "Ucustomer")
        [status] = await send(session, sender, msg, SendContext(now=utcnow()))
        assert status.state is DeliveryState.ACCEPTED and status.provider_message_id
        [seen] = fake.requests
        assert seen.path == "/v2/bot/message/push"
        assert seen.json == {"to": "Ucustomer", "messages": [{"type": "text", "text": "reply 1"}]}
        assert seen.header("X-Line-Retry-Key") == str(uuid.uuid5(RETRY_KEY_NAMESPACE,
                                                                 msg.event_id))

    async def test_accepted_but_500_is_retried_and_delivered_once(self, session, line) -> None:
        fake, sender = line
        fake.accept_then_fail = 1  # LINE took the push but answered 500
        [status] = await send(session, sender, message(Channel.LINE, "Ubot", "Ucustomer"),
                              SendContext(now=utcnow()))
        assert status.state is DeliveryState.ACCEPTED  # the retry got 409: already accepted
        assert len(fake.requests) == 2
        assert len(fake.delivered) == 1

    async def test_fresh_reply_token_uses_the_reply_api(self, session, line) -> None:
        fake, sender = line
        fake.reply_tokens.add("rt-1")
        context = in_window(minutes_ago=0.2, reply_token="rt-1",
                            received_at=utcnow().isoformat())
        [status] = await send(session, sender, message(Channel.LINE, "Ubot", "Ucustomer"),
                              context)
        assert status.state is DeliveryState.ACCEPTED
        [seen] = fake.requests
        assert seen.path == "/v2/bot/message/reply"
        assert seen.json == {"replyToken": "rt-1", "messages": [{"type": "text",
                                                                 "text": "reply 1"}]}
        assert seen.header("X-Line-Retry-Key") is None

    async def test_spent_reply_token_falls_back_to_push(self, session, line) -> None:
        fake, sender = line
        context = in_window(minutes_ago=0.2, reply_token="rt-spent",
                            received_at=utcnow().isoformat())
        [status] = await send(session, sender, message(Channel.LINE, "Ubot", "Ucustomer"),
                              context)
        assert status.state is DeliveryState.ACCEPTED
        assert [r.path for r in fake.requests] == ["/v2/bot/message/reply",
                                                   "/v2/bot/message/push"]
        assert [d.get("to") for d in fake.delivered] == ["Ucustomer"]

    async def test_429_retry_after_and_permanent_400(self, session, line) -> None:
        fake, sender = line
        fake.fail_next = [Failure(429, 429, retry_after=1.5)]
        time = FakeTime()
        [ok] = await send(session, sender, message(Channel.LINE, "Ubot", "Ucustomer"),
                          SendContext(now=utcnow()), time)
        assert ok.state is DeliveryState.ACCEPTED and time.sleeps == [1.5]
        fake.fail_next = [Failure(400, 400)]
        [bad] = await send(session, sender, message(Channel.LINE, "Ubot", "Ucustomer", 2),
                           SendContext(now=utcnow()))
        assert (bad.state, bad.error_code) == (DeliveryState.FAILED, "400")


# ----------------------------------------------------------------------------- Kakao


class TestKakao:
    async def test_callback_once_within_a_minute(self, session) -> None:
        async with FakeKakao() as fake:
            sender = KakaoSender(Settings(kakao_callback_hosts=fake.base_url))
            url = fake.issue()
            context = in_window(minutes_ago=0.1, callback_url=url,
                                received_at=utcnow().isoformat())
            [ok] = await send(session, sender, message(Channel.KAKAO, "bot1", "ukey"), context)
            assert ok.state is DeliveryState.ACCEPTED
            assert fake.delivered == [{"version": "2.0", "template": {"outputs": [
                {"simpleText": {"text": "reply 1"}}]}}]
            [reused] = await send(session, sender, message(Channel.KAKAO, "bot1", "ukey", 2),
                                  context)
            assert (reused.state, reused.error_code) == (DeliveryState.FAILED, "400")

    async def test_stale_callback_is_refused_before_sending(self, session) -> None:
        async with FakeKakao() as fake:
            old = utcnow() - timedelta(minutes=2)
            context = SendContext(now=utcnow(), last_inbound_at=old, reply_hint={
                "callback_url": fake.issue(), "received_at": old.isoformat()})
            [status] = await send(session, KakaoSender(
                Settings(kakao_callback_hosts=fake.base_url)), message(
                Channel.KAKAO, "bot1", "ukey"), context)
            assert status.error_code == "no_callback"
            assert fake.requests == []

    async def test_stale_callback_with_a_key_goes_through_the_event_api(self, session) -> None:
        """An agent's answer after the callback minute reaches the user through the Event API."""
        async with FakeKakao(rest_api_key="rest-key", bot_id="bot1") as fake:
            old = utcnow() - timedelta(minutes=3)
            context = SendContext(now=utcnow(), last_inbound_at=old, reply_hint={
                "callback_url": fake.issue(), "received_at": old.isoformat()})
            [ok] = await send(session, kakao_event_sender(fake),
                              message(Channel.KAKAO, "bot1", "ukey"), context)
            assert ok.state is DeliveryState.ACCEPTED and ok.provider_message_id
            [seen] = fake.requests
            assert seen.path == "/v2/bots/bot1/talk"
            assert seen.header("Authorization") == "KakaoAK rest-key"
            assert fake.events == [{"bot": "bot1", "event": {
                "name": "omniroute_reply", "data": {"text": "reply 1"}},
                "user": [{"type": "botUserKey", "id": "ukey"}]}]
            assert fake.delivered == []

    async def test_spent_fresh_callback_falls_back_to_the_event_api(self, session) -> None:
        """A callback URL the acknowledgement already used is refused; the Event API follows."""
        async with FakeKakao(rest_api_key="rest-key", bot_id="bot1") as fake:
            sender = kakao_event_sender(fake)
            context = in_window(minutes_ago=0.1, callback_url=fake.issue(),
                                received_at=utcnow().isoformat())
            [ack] = await send(session, sender, message(Channel.KAKAO, "bot1", "ukey"), context)
            [answer] = await send(session, sender, message(Channel.KAKAO, "bot1", "ukey", 2),
                                  context)
            assert (ack.state, answer.state) == (DeliveryState.ACCEPTED, DeliveryState.ACCEPTED)
            assert [r.path.split("/")[2] for r in fake.requests] == ["callback", "callback",
                                                                      "bots"]
            assert len(fake.delivered) == 1
            assert [e["event"]["data"] for e in fake.events] == [{"text": "reply 2"}]

    async def test_event_api_error_is_retried_and_fail_is_permanent(self, session) -> None:
        """ERROR is retried and then delivered; FAIL fails at once with Kakao's message."""
        async with FakeKakao(rest_api_key="rest-key", bot_id="bot1") as fake:
            sender = kakao_event_sender(fake)
            fake.fail_next = [Failure(200, "ERROR")]
            time = FakeTime()
            [ok] = await send(session, sender, message(Channel.KAKAO, "bot1", "ukey"),
                              SendContext(now=utcnow()), time)
            assert ok.state is DeliveryState.ACCEPTED and time.sleeps == [0.5]
            fake.fail_next = [Failure(200, "FAIL")]
            [bad] = await send(session, sender, message(Channel.KAKAO, "bot1", "ukey", 2),
                               SendContext(now=utcnow()))
            assert (bad.state, bad.error_code) == (DeliveryState.FAILED, "FAIL")
            assert "fake failure FAIL" in (bad.error_message or "")
            assert len(fake.events) == 1

    async def test_without_a_key_no_callback_says_how_and_sends_nothing(self, session) -> None:
        """No REST API key: no_callback names OMNIROUTE_KAKAO_REST_API_KEY; Kakao hears nothing."""
        async with FakeKakao() as fake:
            old = utcnow() - timedelta(minutes=3)
            context = SendContext(now=utcnow(), last_inbound_at=old, reply_hint={
                "callback_url": fake.issue(), "received_at": old.isoformat()})
            [status] = await send(session, KakaoSender(Settings(
                kakao_callback_hosts=fake.base_url, kakao_api_base_url=fake.base_url)),
                message(Channel.KAKAO, "bot1", "ukey"), context)
            assert status.error_code == "no_callback"
            assert "OMNIROUTE_KAKAO_REST_API_KEY" in (status.error_message or "")
            assert fake.requests == [] and fake.events == []


def kakao_event_sender(fake: FakeKakao) -> KakaoSender:
    """A Kakao sender allowed the fake's callback URLs, with a REST API key for its Event API."""
    return KakaoSender(Settings(kakao_callback_hosts=fake.base_url,
                                kakao_api_base_url=fake.base_url,
                                kakao_rest_api_key=fake.rest_api_key))
