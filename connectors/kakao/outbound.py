"""OutboundMessage → the Kakao skill callback URL, or else the Event API (pure).

A skill server answers a KakaoTalk user through the ``callbackUrl`` of the
user's latest request, once, within one minute. The delivery process remembers
that URL from the inbound stream (``SendContext.reply_hint``). The callback body
is a SkillResponse (``simpleText`` up to 1000 characters, ``simpleImage`` by URL).

A human agent rarely answers within that minute, and the acknowledgement may
have spent the URL already. With ``OMNIROUTE_KAKAO_REST_API_KEY`` set, a message
without a fresh callback URL (or with one on a host not allowed, or whose callback
fails) goes through the Event API instead: ``POST /v2/bots/{botId}/talk`` with
``Authorization: KakaoAK {key}`` and
``{"event": {"name", "data": {"text"}}, "user": [{"type": "botUserKey", "id"}]}``.
Kakao then runs the chatbot block bearing that event name, whose response shows
the event data's ``text``; it answers ``{"taskId", "status": "SUCCESS" | "FAIL" |
"ERROR", "message", "timestamp"}``. The Event API carries text only, and Kakao
bills every message it sends. Without the key, no fresh callback URL means
``no_callback``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from omniroute.contract import AttachmentKind, Channel, OutboundMessage
from omniroute_connectors.outbound import (
    OutboundSender,
    ProviderRequest,
    ProviderResponse,
    SendContext,
    SendFailed,
    SendRejected,
    SendResult,
    classify_http,
    failure_text,
    retry_after,
)

CALLBACK_VALIDITY = timedelta(minutes=1)
MAX_TEXT_CHARS = 1000
MAX_OUTPUTS = 3
EVENT_API = "the Kakao Event API"
NO_CALLBACK = ("KakaoTalk can only answer through a callback URL less than a minute old, and "
               "there is none; to answer later through Kakao's Event API, set "
               "OMNIROUTE_KAKAO_REST_API_KEY and give a chatbot block the event "
               "OMNIROUTE_KAKAO_EVENT_NAME (default omniroute_reply)")


def callback_allowed(url: str, hosts: str) -> bool:
    """True when ``url`` is https on one of ``hosts`` (or a subdomain), or exactly one of the
    full origins listed (``http://127.0.0.1:8000``, for a local fake)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        origin = f"{parts.scheme}://{parts.netloc}".lower()
    except ValueError:
        return False
    for allowed in (h.strip().lower().rstrip("/") for h in hosts.split(",") if h.strip()):
        if "://" in allowed:
            if origin == allowed:
                return True
        elif parts.scheme == "https" and host and (host == allowed
                                                   or host.endswith("." + allowed)):
            return True
    return False


def event_path(bot_id: str) -> str:
    """The Event API path of ``bot_id`` (a development channel's id keeps its trailing ``!``)."""
    return f"/v2/bots/{quote(bot_id, safe='!')}/talk"


def is_event_request(request: ProviderRequest) -> bool:
    """True for an Event API request (callback requests carry an absolute URL)."""
    return request.path.startswith("/v2/bots/") and request.path.endswith("/talk")


def fresh_callback(context: SendContext) -> str | None:
    """The customer's latest callback URL while it is less than a minute old."""
    url = context.reply_hint.get("callback_url")
    received = context.reply_hint.get("received_at")
    if not url or not received or context.now - datetime.fromisoformat(received) \
            > CALLBACK_VALIDITY:
        return None
    return url


class KakaoSender(OutboundSender):
    """Answers KakaoTalk users through their latest callback URL, or else the Event API."""

    provider = "kakao"

    @property
    def base_url(self) -> str:
        """OMNIROUTE_KAKAO_API_BASE_URL (callback URLs are absolute and ignore it)."""
        return self.settings.kakao_api_base_url

    def handles(self, message: OutboundMessage) -> bool:
        """KakaoTalk messages."""
        return message.channel is Channel.KAKAO

    def build(self, message: OutboundMessage, context: SendContext) -> Sequence[ProviderRequest]:
        """A fresh callback (falling back to the Event API for text), else the Event API."""
        text = message.text or ""
        if len(text) > MAX_TEXT_CHARS:
            raise SendRejected(f"text is {len(text)} characters; Kakao allows {MAX_TEXT_CHARS}",
                               code="too_long")
        url = fresh_callback(context)
        keyed = bool(self.settings.kakao_rest_api_key and text and not message.attachments)
        if url is None or (keyed and not callback_allowed(url, self.settings.kakao_callback_hosts)):
            return [self.event_request(message, text)]  # a callback URL not to call: like none
        callback = self.callback_request(message, url, text)
        if not keyed:
            return [callback]  # the Event API would drop the images
        return [callback.with_fallback(self.event_request(message, text))]

    def callback_request(self, message: OutboundMessage, url: str,
                         text: str) -> ProviderRequest:
        """The SkillResponse POSTed to ``url``, with up to three outputs."""
        if not callback_allowed(url, self.settings.kakao_callback_hosts):
            raise SendRejected("the callback URL is not an https URL of an allowed Kakao host "
                               "(OMNIROUTE_KAKAO_CALLBACK_HOSTS)", code="bad_callback_url")
        outputs: list[dict[str, Any]] = [{"simpleText": {"text": text}}] if text else []
        for attachment in message.attachments:
            if attachment.kind is not AttachmentKind.IMAGE or not attachment.url:
                raise SendRejected("Kakao callbacks carry images by URL only",
                                   code="unsupported_media")
            outputs.append({"simpleImage": {"imageUrl": attachment.url,
                                            "altText": attachment.caption or "image"}})
        if not outputs or len(outputs) > MAX_OUTPUTS:
            raise SendRejected(f"a SkillResponse carries 1 to {MAX_OUTPUTS} outputs",
                               code="unsupported_content")
        return ProviderRequest.json(url, {"version": "2.0", "template": {"outputs": outputs}})

    def event_request(self, message: OutboundMessage, text: str) -> ProviderRequest:
        """The Event API request that has the event block show ``text`` to the recipient."""
        key = self.settings.kakao_rest_api_key
        if key is None:
            raise SendRejected(NO_CALLBACK, code="no_callback")
        if message.attachments:
            raise SendRejected("Kakao's Event API carries text only; photos and files reach a "
                               "KakaoTalk user only through a callback URL less than a minute "
                               "old", code="unsupported_media")
        if not text:
            raise SendRejected("Kakao's Event API needs text to send",
                               code="unsupported_content")
        bot_id = self.settings.kakao_bot_id or message.channel_account
        body = {"event": {"name": self.settings.kakao_event_name, "data": {"text": text}},
                "user": [{"type": "botUserKey", "id": message.recipient.value}]}
        return ProviderRequest.json(event_path(bot_id), body,
                                    {"Authorization": f"KakaoAK {key.get_secret_value()}"})

    def interpret(self, request: ProviderRequest, response: ProviderResponse) -> SendResult:
        """Callback: 2xx is delivered (the URL is single-use: a 4xx is permanent).
        Event API: see :func:`event_result`."""
        if is_event_request(request):
            return event_result(response)
        if 200 <= response.status < 300:
            return SendResult(None)
        raise classify_http(response.status, str(response.status),
                            failure_text(response, "the Kakao callback"))


def event_result(response: ProviderResponse) -> SendResult:
    """An Event API answer: 2xx with ``status: SUCCESS`` is accepted (the provider message
    id is the ``taskId``); ``ERROR``, 429, 408 and 5xx are retriable; ``FAIL`` and any other
    answer are permanent, worded with Kakao's ``message`` when it sent one."""
    body = response.json()
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    outcome = str(fields.get("status") or "")
    if 200 <= response.status < 300 and outcome == "SUCCESS":
        return SendResult(str(fields["taskId"]) if fields.get("taskId") else None)
    said = str(fields.get("message") or "").strip()
    if said:
        why = f"{EVENT_API} answered {outcome or response.status}: {said}"
    elif 200 <= response.status < 300:
        why = f"{EVENT_API} answered status {outcome or 'none'}"
    else:
        why = failure_text(response, EVENT_API)
    code = outcome if outcome in ("FAIL", "ERROR") else str(response.status)
    usual = classify_http(response.status, code, why, retry_after(response.headers))
    raise SendFailed(why, code=code, retriable=usual.retriable or outcome == "ERROR",
                     retry_after=usual.retry_after)
