"""Kakao skill requests: the event id survives provider resends (Kakao sends no message id).

Payload shape: Kakao i Open Builder SkillPayload (intent, userRequest {timezone,
params, block, utterance, lang, user {id, type: botUserKey, properties}, callbackUrl},
bot, action), per the skill development guide; ``callbackUrl`` is present when the
block has callbacks enabled ("AI 챗봇 콜백 개발 가이드": a one-time URL per request,
valid one minute). The sender answers through that URL while it is fresh, else
through the Event API (``POST /v2/bots/{botId}/talk``, ``KakaoAK`` REST API key,
``{"event": {"name", "data"}, "user": [{"type": "botUserKey", "id"}]}``, answered
``{"taskId", "status": SUCCESS | FAIL | ERROR, "message", "timestamp"}``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omniroute.contract import (
    Address,
    Attachment,
    AttachmentKind,
    Author,
    AuthorKind,
    Channel,
    OutboundMessage,
)
from omniroute.settings import Settings
from omniroute_connectors.base import WebhookRequest
from omniroute_connectors.kakao import KakaoConnector
from omniroute_connectors.kakao.outbound import KakaoSender
from omniroute_connectors.outbound import (
    ProviderRequest,
    ProviderResponse,
    SendContext,
    SendFailed,
    SendRejected,
)

T0 = datetime(2026, 3, 1, 9, 0, 1, tzinfo=UTC)


def payload(utterance: str = "배송 언제 와요?", callback: str | None = None) -> dict[str, Any]:
    user_request: dict[str, Any] = {
        "timezone": "Asia/Seoul", "params": {"ignoreMe": "true"},
        "block": {"id": "blk1", "name": "상담"}, "utterance": utterance, "lang": "ko",
        "user": {"id": "ukey-abc", "type": "botUserKey",
                 "properties": {"plusfriendUserKey": "pfk-1"}}}
    if callback:
        user_request["callbackUrl"] = callback
    return {"intent": {"id": "blk1", "name": "상담"}, "userRequest": user_request,
            "bot": {"id": "bot-1", "name": "shop"},
            "action": {"name": "omniroute", "clientExtra": None, "params": {}, "id": "act1",
                       "detailParams": {}}}


def event_id(body: dict[str, Any], at: datetime, pretty: bool = False) -> str:
    raw = json.dumps(body, indent=2 if pretty else None, ensure_ascii=False).encode()
    request = WebhookRequest("POST", "/webhooks/kakao", "u", {}, body=raw, received_at=at)
    [message] = KakaoConnector(Settings(kakao_secret="k")).handle(request).events
    return message.event_id


class TestKakaoEventId:
    def test_callback_url_names_the_request_whenever_it_is_resent(self) -> None:
        body = payload(callback="https://bot-api.kakao.com/v1/callback/tok-1")
        first = event_id(body, T0)
        assert event_id(body, T0 + timedelta(seconds=47), pretty=True) == first
        other = payload(callback="https://bot-api.kakao.com/v1/callback/tok-2")
        assert event_id(other, T0) != first  # same words, next utterance: a new event

    def test_without_callback_a_resend_in_the_same_bucket_is_the_same_event(self) -> None:
        body = payload()
        assert event_id(body, T0) == event_id(body, T0 + timedelta(seconds=8), pretty=True)

    def test_without_callback_later_identical_words_are_a_new_event(self) -> None:
        body = payload()
        assert event_id(body, T0) != event_id(body, T0 + timedelta(seconds=10))
        assert event_id(payload("네"), T0) != event_id(payload("아니요"), T0)

    def test_message_fields(self) -> None:
        raw = json.dumps(payload(callback="https://cb/1")).encode()
        [message] = KakaoConnector(Settings(kakao_secret="k")).handle(WebhookRequest(
            "POST", "/webhooks/kakao", "u", {}, body=raw, received_at=T0)).events
        assert message.event_id.startswith("kakao:")
        assert (message.sender.value, message.sender.scope) == ("ukey-abc", "bot-1")
        assert message.text == "배송 언제 와요?"
        assert message.claimed == {"plusfriend_user_key": "pfk-1"}
        assert message.metadata["callback_url"] == "https://cb/1"
        assert message.provider_timestamp == T0


class TestCallbackHosts:
    """Kakao's callbackUrl is posted to only on an allowed host (issue 16)."""

    @pytest.mark.parametrize(("url", "allowed"), [
        ("https://bot-api.kakao.com/v1/callback/x", True),
        ("https://kakao.com/cb", True),
        ("http://bot-api.kakao.com/v1/callback/x", False),
        ("https://kakao.com.evil.test/cb", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:9999/cb", False),
        ("not a url", False),
    ])
    def test_only_https_kakao_hosts(self, url: str, allowed: bool) -> None:
        from omniroute_connectors.kakao.outbound import callback_allowed

        assert callback_allowed(url, "kakao.com") is allowed

    def test_a_listed_origin_is_allowed_exactly(self) -> None:
        from omniroute_connectors.kakao.outbound import callback_allowed

        assert callback_allowed("http://127.0.0.1:9999/cb", "kakao.com,http://127.0.0.1:9999")
        assert not callback_allowed("http://127.0.0.1:9998/cb", "http://127.0.0.1:9999")


def outbound(text: str | None = "답변드립니다", account: str = "bot-1",
             **extra: Any) -> OutboundMessage:
    return OutboundMessage(event_id="out-1", conversation_id="conv-1", channel=Channel.KAKAO,
                           channel_account=account, recipient=Address(value="ukey-abc"),
                           author=Author(kind=AuthorKind.AGENT, id="a1"), text=text, **extra)


def hint(seconds_ago: float, url: str = "https://bot-api.kakao.com/v1/callback/tok") -> SendContext:
    return SendContext(now=T0, reply_hint={
        "callback_url": url, "received_at": (T0 - timedelta(seconds=seconds_ago)).isoformat()})


KEYED = Settings(kakao_rest_api_key="rest-key")
EVENT_BODY = {"event": {"name": "omniroute_reply", "data": {"text": "답변드립니다"}},
              "user": [{"type": "botUserKey", "id": "ukey-abc"}]}
IMAGE = Attachment(kind=AttachmentKind.IMAGE, url="https://cdn.example/p.png")


class TestKakaoSenderBuild:
    """Which request answers a KakaoTalk user: the callback, the Event API, or none."""

    def test_without_a_fresh_callback_a_key_sends_through_the_event_api(self) -> None:
        """A callback URL older than a minute is skipped for the Event API."""
        [request] = KakaoSender(KEYED).build(outbound(), hint(seconds_ago=90))
        assert (request.method, request.path) == ("POST", "/v2/bots/bot-1/talk")
        assert request.headers["Authorization"] == "KakaoAK rest-key"
        assert json.loads(request.body) == EVENT_BODY
        assert request.fallback is None
        assert KakaoSender(KEYED).base_url == "https://bot-api.kakao.com"

    def test_a_fresh_callback_comes_first_and_falls_back_to_the_event_api(self) -> None:
        """The free callback is tried first; the Event API follows it for text only."""
        [request] = KakaoSender(KEYED).build(outbound(), hint(seconds_ago=10))
        assert request.path == "https://bot-api.kakao.com/v1/callback/tok"
        assert request.fallback is not None
        assert request.fallback.path == "/v2/bots/bot-1/talk"
        assert json.loads(request.fallback.body) == EVENT_BODY
        [with_image] = KakaoSender(KEYED).build(outbound(attachments=[IMAGE]),
                                                hint(seconds_ago=10))
        assert with_image.fallback is None  # the Event API would drop the image

    def test_a_callback_on_a_host_not_allowed_leaves_text_to_the_event_api(self) -> None:
        """A callback URL outside OMNIROUTE_KAKAO_CALLBACK_HOSTS is never called; with a key,
        text goes through the Event API as if there were no callback (run 60: the
        acknowledgement failed ``bad_callback_url`` and the customer got nothing)."""
        elsewhere = hint(seconds_ago=10, url="https://kakao.example.net/v1/callback/tok")
        [request] = KakaoSender(KEYED).build(outbound(), elsewhere)
        assert request.path == "/v2/bots/bot-1/talk" and request.fallback is None
        assert json.loads(request.body) == EVENT_BODY
        for sender, message in ((KakaoSender(Settings()), outbound()),
                                (KakaoSender(KEYED), outbound(attachments=[IMAGE]))):
            with pytest.raises(SendRejected) as refused:  # nothing else can carry it
                sender.build(message, elsewhere)
            assert refused.value.code == "bad_callback_url"

    def test_the_bot_id_setting_overrides_the_channel_account(self) -> None:
        """OMNIROUTE_KAKAO_BOT_ID names the bot; a development bot's trailing ! stays."""
        settings = Settings(kakao_rest_api_key="rest-key", kakao_bot_id="5f0c1d2e3a4b!",
                            kakao_event_name="agent_answer")
        [request] = KakaoSender(settings).build(outbound(), SendContext(now=T0))
        assert request.path == "/v2/bots/5f0c1d2e3a4b!/talk"
        assert json.loads(request.body)["event"]["name"] == "agent_answer"

    def test_without_a_key_no_callback_says_how_to_answer_later(self) -> None:
        """no_callback names the setting and the event block that enable later answers."""
        with pytest.raises(SendRejected) as caught:
            KakaoSender(Settings()).build(outbound(), hint(seconds_ago=90))
        assert caught.value.code == "no_callback"
        assert "OMNIROUTE_KAKAO_REST_API_KEY" in caught.value.message
        assert "omniroute_reply" in caught.value.message

    def test_the_event_api_carries_text_only(self) -> None:
        """An image without a fresh callback is refused, not sent without it."""
        with pytest.raises(SendRejected) as caught:
            KakaoSender(KEYED).build(outbound(attachments=[IMAGE]), SendContext(now=T0))
        assert caught.value.code == "unsupported_media"
        assert "Event API carries text only" in caught.value.message

    def test_text_over_1000_characters_is_refused_on_the_event_api_too(self) -> None:
        """Kakao's 1000-character limit holds without a callback as well."""
        with pytest.raises(SendRejected) as caught:
            KakaoSender(KEYED).build(outbound("가" * 1001), SendContext(now=T0))
        assert caught.value.code == "too_long"


EVENT_REQUEST = ProviderRequest("POST", "/v2/bots/bot-1/talk")


def answer(status: int, outcome: str, message: str = "") -> ProviderResponse:
    return ProviderResponse(status, json.dumps({
        "taskId": "task-7", "status": outcome, "message": message,
        "timestamp": 1772355601000}).encode())


class TestKakaoSenderInterpret:
    """What an Event API answer means for the delivery."""

    def test_success_is_accepted_under_the_task_id(self) -> None:
        """2xx SUCCESS: accepted, the taskId is the provider message id."""
        result = KakaoSender(KEYED).interpret(EVENT_REQUEST, answer(200, "SUCCESS"))
        assert result.provider_message_id == "task-7"

    def test_fail_is_permanent_with_kakaos_message(self) -> None:
        """FAIL is not retried; Kakao's message says why."""
        with pytest.raises(SendFailed) as caught:
            KakaoSender(KEYED).interpret(EVENT_REQUEST, answer(200, "FAIL", "event not found"))
        assert (caught.value.code, caught.value.retriable) == ("FAIL", False)
        assert "event not found" in caught.value.message

    def test_error_is_retried(self) -> None:
        """ERROR (Kakao's own trouble) is retriable even in a 200."""
        with pytest.raises(SendFailed) as caught:
            KakaoSender(KEYED).interpret(EVENT_REQUEST, answer(200, "ERROR", "try later"))
        assert (caught.value.code, caught.value.retriable) == ("ERROR", True)

    @pytest.mark.parametrize(("status", "outcome"), [(500, "ERROR"), (503, "FAIL"),
                                                     (429, "FAIL")])
    def test_5xx_and_429_are_retried_with_kakaos_message(self, status: int,
                                                         outcome: str) -> None:
        """A 5xx or a 429 is retriable whatever the status word; Kakao's message is kept."""
        with pytest.raises(SendFailed) as caught:
            KakaoSender(KEYED).interpret(EVENT_REQUEST, answer(status, outcome, "busy"))
        assert caught.value.retriable
        assert caught.value.message == f"the Kakao Event API answered {outcome}: busy"

    def test_a_bodiless_failure_names_the_event_api(self) -> None:
        """Without Kakao's words the message names the API and the HTTP status."""
        with pytest.raises(SendFailed) as caught:
            KakaoSender(KEYED).interpret(EVENT_REQUEST, ProviderResponse(502, b"<html>"))
        assert caught.value.message == "the Kakao Event API answered HTTP 502"
        assert (caught.value.code, caught.value.retriable) == ("502", True)
