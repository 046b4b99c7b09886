"""Instagram Messaging webhooks → InboundMessage / DeliveryStatus.

Fixtures: Meta publishes no raw captures, only documented examples with
placeholders. Each body below is one of the examples of "Instagram Platform
Webhook Notification Examples" (developers.facebook.com/docs/instagram-platform/
webhooks/examples, Business Login for Instagram → Messaging payloads; also
developers.facebook.com/docs/instagram-messaging/webhooks), with the placeholders
(``<IGSID>``, ``<YOUR_APP_USERS_INSTAGRAM_ACCOUNT_ID>``, ``<MESSAGE_ID>``, ...)
filled with concrete values and the documented field names and nesting kept
exactly. Meta's examples wrap the body in a JSON array for display; the POST body
is the object itself. The examples' ``timestamp`` values are seconds
(``1603059201``) while live traffic sends milliseconds; both are covered.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from omniroute.contract import (
    AttachmentKind,
    Channel,
    DeliveryState,
    DeliveryStatus,
    InboundMessage,
    InteractiveKind,
)
from omniroute.settings import Settings
from omniroute_connectors.base import BadRequest, WebhookRequest
from omniroute_connectors.instagram import MAPPER, InstagramConnector

IG_ID, IGSID = "17841400000000001", "6543210987654321"


def webhook(*messaging: dict[str, Any], time: int = 1603059201123) -> dict[str, Any]:
    """The documented envelope: {"object": "instagram", "entry": [{id, time, messaging}]}."""
    return {"object": "instagram", "entry": [{"id": IG_ID, "time": time,
                                              "messaging": list(messaging)}]}


def event(body: dict[str, Any], timestamp: int = 1603059201) -> dict[str, Any]:
    return {"sender": {"id": IGSID}, "recipient": {"id": IG_ID}, "timestamp": timestamp,
            **body}


# "Messages" example: text
TEXT = event({"message": {"mid": "aWdfZAG1faXRlbTox", "text": "Is this still available?"}})
# "Messages" example: attachments (type image, payload.url)
IMAGE = event({"message": {"mid": "aWdfZAG1faXRlbToy", "attachments": [
    {"type": "image", "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"}}]}})
# "Messages" example: reply_to a message (reply_to.mid)
REPLY = event({"message": {"mid": "aWdfZAG1faXRlbToz", "text": "yes, that one",
                           "reply_to": {"mid": "aWdfZAG1faXRlbTox"}}})
# "Messages" example: reply_to a story (reply_to.story.url / .id)
STORY_REPLY = event({"message": {"mid": "aWdfZAG1faXRlbTo0", "text": "love this",
                                 "reply_to": {"story": {
                                     "url": "https://lookaside.fbsbx.com/story/1",
                                     "id": "18000000000000001"}}}})
# "Messages" example: quick_reply.payload
QUICK = event({"message": {"mid": "aWdfZAG1faXRlbTo1", "text": "Track my order",
                           "quick_reply": {"payload": "TRACK_ORDER"}}})
# "Messages" example: is_echo (the account's own message)
ECHO = {"sender": {"id": IG_ID}, "recipient": {"id": IGSID}, "timestamp": 1603059201,
        "message": {"mid": "aWdfZAG1faXRlbTo2", "text": "Thanks!", "is_echo": True}}
# "Messages" examples: is_deleted and is_unsupported (no readable content)
DELETED = event({"message": {"mid": "aWdfZAG1faXRlbTo3", "is_deleted": True}})
UNSUPPORTED = event({"message": {"mid": "aWdfZAG1faXRlbTo4", "is_unsupported": True}})
# "Message reactions" example: react / unreact
REACT = event({"reaction": {"mid": "aWdfZAG1faXRlbToy", "action": "react", "reaction": "love",
                            "emoji": "\u2764\ufe0f"}})
UNREACT = event({"reaction": {"mid": "aWdfZAG1faXRlbToy", "action": "unreact"}})
# "Messaging postbacks" example: postback.mid / title / payload
POSTBACK = event({"postback": {"mid": "aWdfZAG1faXRlbTo5", "title": "Talk to a human",
                               "payload": "HUMAN"}})
# "Messaging seen" example: read.mid (Instagram names the message; no watermark)
SEEN = event({"read": {"mid": "aWdfZAG1faXRlbToxMA"}})


def one(item: dict[str, Any]) -> Any:
    [found] = MAPPER.map_payload(webhook(item))
    return found


class TestInstagramMapping:
    def test_text(self) -> None:
        message = one(TEXT)
        assert isinstance(message, InboundMessage)
        assert message.event_id == "instagram:aWdfZAG1faXRlbTox"
        assert (message.channel, message.provider) == (Channel.INSTAGRAM, "instagram")
        assert (message.sender.value, message.sender.scope) == (IGSID, IG_ID)
        assert message.channel_account == IG_ID and message.recipient.value == IG_ID
        assert message.text == "Is this still available?"
        assert message.provider_timestamp == datetime(2020, 10, 18, 22, 13, 21, tzinfo=UTC)
        assert message.kafka_key == f"instagram:{IGSID}"

    def test_millisecond_timestamps_of_live_traffic(self) -> None:
        message = one(event({"message": {"mid": "m1", "text": "hi"}}, timestamp=1603059201123))
        assert message.provider_timestamp == datetime(2020, 10, 18, 22, 13, 21, 123000,
                                                      tzinfo=UTC)

    def test_image_attachment(self) -> None:
        message = one(IMAGE)
        assert message.text is None
        [attachment] = message.attachments
        assert attachment.kind is AttachmentKind.IMAGE
        assert attachment.url == "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"

    def test_reply_to_message_and_to_story(self) -> None:
        assert one(REPLY).reply_to_provider_message_id == "aWdfZAG1faXRlbTox"
        story = one(STORY_REPLY)
        assert story.reply_to_provider_message_id is None
        assert story.metadata == {"reply_to_story_id": "18000000000000001",
                                  "reply_to_story_url": "https://lookaside.fbsbx.com/story/1"}

    def test_quick_reply(self) -> None:
        interactive = one(QUICK).interactive
        assert (interactive.kind, interactive.payload) == (InteractiveKind.QUICK_REPLY,
                                                           "TRACK_ORDER")

    @pytest.mark.parametrize("item", [ECHO, DELETED, UNSUPPORTED], ids=["echo", "deleted",
                                                                         "unsupported"])
    def test_nothing_for_echoes_and_contentless_messages(self, item: dict[str, Any]) -> None:
        assert MAPPER.map_payload(webhook(item)) == []

    def test_reactions(self) -> None:
        react, unreact = one(REACT), one(UNREACT)
        assert react.reaction.target_provider_message_id == "aWdfZAG1faXRlbToy"
        assert react.reaction.emoji == "\u2764\ufe0f"
        assert unreact.reaction.emoji is None  # removal
        assert react.event_id != unreact.event_id

    def test_postback(self) -> None:
        message = one(POSTBACK)
        assert message.event_id == "instagram:aWdfZAG1faXRlbTo5"
        assert (message.interactive.kind, message.interactive.title,
                message.interactive.payload) == (InteractiveKind.POSTBACK, "Talk to a human",
                                                 "HUMAN")

    def test_seen_names_the_message(self) -> None:
        status = one(SEEN)
        assert isinstance(status, DeliveryStatus)
        assert (status.state, status.provider_message_id) == (DeliveryState.READ,
                                                              "aWdfZAG1faXRlbToxMA")
        assert status.recipient.value == IGSID
        assert status.event_id == "instagram:aWdfZAG1faXRlbToxMA:read"

    def test_batched_entry_keeps_order(self) -> None:
        events = MAPPER.map_payload(webhook(TEXT, ECHO, IMAGE, SEEN))
        assert [e.event_id for e in events] == ["instagram:aWdfZAG1faXRlbTox",
                                                "instagram:aWdfZAG1faXRlbToy",
                                                "instagram:aWdfZAG1faXRlbToxMA:read"]

    def test_connector_checks_the_object_and_names_missing_fields(self) -> None:
        connector = InstagramConnector(Settings(meta_app_secret="s"))

        def handle(body: dict[str, Any]) -> Any:
            return connector.handle(WebhookRequest("POST", "/webhooks/instagram", "u", {},
                                                   body=json.dumps(body).encode()))

        assert len(handle(webhook(TEXT)).events) == 1
        with pytest.raises(BadRequest, match="object must be 'instagram'"):
            handle({**webhook(TEXT), "object": "page"})
        with pytest.raises(BadRequest, match=r"messaging\[\].sender.id"):
            handle(webhook({"message": {"mid": "x", "text": "no sender"}}))
