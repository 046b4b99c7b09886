"""Kakao skill requests: the event id survives provider resends (Kakao sends no message id).

Payload shape: Kakao i Open Builder SkillPayload (intent, userRequest {timezone,
params, block, utterance, lang, user {id, type: botUserKey, properties}, callbackUrl},
bot, action), per the skill development guide; ``callbackUrl`` is present when the
block has callbacks enabled ("AI 챗봇 콜백 개발 가이드": a one-time URL per request,
valid one minute).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omniroute.settings import Settings
from omniroute_connectors.base import WebhookRequest
from omniroute_connectors.kakao import KakaoConnector

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
