"""Every real webhook in ../shared/fixtures/webhooks maps to the expected events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
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
from omniroute_connectors.line.inbound import map_payload as map_line
from omniroute_connectors.messenger import MAPPER as MESSENGER
from omniroute_connectors.whatsapp.inbound import map_payload as map_whatsapp

WEBHOOKS = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "webhooks"


def load(name: str) -> Any:
    return json.loads((WEBHOOKS / name).read_text())


# (file, variant) -> what the variant must become; None: no event (not a customer message)
WHATSAPP: dict[tuple[str, str], dict[str, Any] | None] = {
    ("callback_button.json", "button"): {"interactive": (InteractiveKind.BUTTON, "callback_data")},
    ("callback_button.json", "quick_reply"): {"interactive": (InteractiveKind.QUICK_REPLY, None)},
    ("callback_selection.json", "callback"): {"interactive": (InteractiveKind.LIST,
                                                               "callback_data")},
    ("callback_selection.json", "description"): {"interactive": (InteractiveKind.LIST,
                                                                  "callback_data")},
    ("chat_opened.json", "chat_opened"): None,
    ("deleted_message.json", "revoke"): None,
    ("edited_message.json", "edit_text"): {"text": "Text was edited"},
    ("edited_message.json", "edit_caption"): {"attachment": AttachmentKind.IMAGE,
                                              "text": "caption"},
    ("flow_completion.json", "completion"): {"interactive": (InteractiveKind.FLOW, "flow")},
    ("flow_completion.json", "without_flow_token"): {"interactive": (InteractiveKind.FLOW,
                                                                      "flow")},
    ("message.json", "text"): {"text": "Body Text"},
    ("message.json", "image"): {"attachment": AttachmentKind.IMAGE, "text": None},
    # a caption is what the customer wrote: the message's text (triage and previews read it)
    ("message.json", "video"): {"attachment": AttachmentKind.VIDEO, "text": "caption"},
    ("message.json", "document"): {"attachment": AttachmentKind.FILE, "text": "caption"},
    ("message.json", "audio"): {"attachment": AttachmentKind.AUDIO},
    ("message.json", "voice"): {"attachment": AttachmentKind.AUDIO},
    ("message.json", "static_sticker"): {"attachment": AttachmentKind.STICKER},
    ("message.json", "animated_sticker"): {"attachment": AttachmentKind.STICKER},
    ("message.json", "reaction"): {"reaction": "\U0001f62e"},
    ("message.json", "unreaction_empty"): {"reaction": None},
    ("message.json", "unreaction_no_emoji"): {"reaction": None},
    ("message.json", "current_location"): {"location": True},
    ("message.json", "chosen_location"): {"location": True},
    ("message.json", "contacts"): {"contacts": 3},
    ("message.json", "order"): {"text": "Order: 3 x HAMBURGER, 2 x FRENCH_FRIES, 2 x SODA"},
    ("message.json", "unsupported"): None,
    ("message.json", "reply"): {"text": "replied text", "reply_to": True},
    ("message.json", "forwarded"): {"text": "forwarded text"},
    ("message.json", "forwarded_many_times"): {"text": "text forwarded many times"},
    ("message.json", "interactive_message_with_err"): None,
    ("message.json", "referral"): {"text": "BODY"},
    ("message_status.json", "sent"): {"state": DeliveryState.SENT},
    ("message_status.json", "delivered"): {"state": DeliveryState.DELIVERED},
    ("message_status.json", "read"): {"state": DeliveryState.READ},
    ("message_status.json", "failed"): {"state": DeliveryState.FAILED},
    ("message_status.json", "with_tracker"): {"state": DeliveryState.SENT},
    ("outgoing_message.json", "text"): None,  # smb_message_echoes: our own message
    ("system.json", "phone_number_change"): None,
    ("system.json", "user_id_change"): None,
    ("system.json", "identity_change"): None,
    ("user_preferences.json", "user_preferences"): None,
    ("user_preferences.json", "user_marketing_preferences"): None,
}


def test_every_whatsapp_fixture_is_listed() -> None:
    """No fixture variant escapes the table below."""
    found = {(p.name, k) for p in (WEBHOOKS / "whatsapp").glob("*.json")
             for k in json.loads(p.read_text())}
    assert found == set(WHATSAPP)


@pytest.mark.parametrize(("name", "variant"), sorted(WHATSAPP))
def test_whatsapp_fixture(name: str, variant: str) -> None:
    """Each WhatsApp Cloud fixture maps to the expected InboundMessage/DeliveryStatus."""
    events = map_whatsapp(load(f"whatsapp/{name}")[variant])
    expected = WHATSAPP[(name, variant)]
    if expected is None:
        assert events == []
        return
    assert len(events) == 1
    event = events[0]
    assert event.event_id.startswith("whatsapp:wamid.")
    if "state" in expected:
        assert isinstance(event, DeliveryStatus)
        assert event.state is expected["state"]
        assert event.provider_message_id == "wamid.xyzxyz"
        return
    assert isinstance(event, InboundMessage)
    assert event.channel is Channel.WHATSAPP
    assert event.sender.value == "972987654321"
    assert event.provider_timestamp is not None and event.provider_timestamp.year == 2023
    if "text" in expected:
        assert event.text == expected["text"]
    if "attachment" in expected:
        assert [a.kind for a in event.attachments] == [expected["attachment"]]
        assert event.attachments[0].media_id
    if "interactive" in expected:
        kind, reply_id = expected["interactive"]
        assert event.interactive is not None and event.interactive.kind is kind
        assert event.interactive.id == reply_id
    if "reaction" in expected:
        assert event.reaction is not None and event.reaction.emoji == expected["reaction"]
        assert event.reaction.target_provider_message_id == "wamid.yzxyzx="
    if "location" in expected:
        assert event.location is not None
    if "contacts" in expected:
        assert len(event.contacts) == expected["contacts"]
        assert event.contacts[0].name == "Chandler Bing"
    if expected.get("reply_to"):
        assert event.reply_to_provider_message_id


def test_whatsapp_edit_keeps_original_id() -> None:
    """An edit is a new message that names the one it replaces."""
    event = map_whatsapp(load("whatsapp/edited_message.json")["edit_text"])[0]
    assert isinstance(event, InboundMessage)
    assert event.metadata["edit_of"] == "wamid.zzzzzz"


def test_whatsapp_failed_status_carries_error() -> None:
    """A failed status carries the provider's error code and text."""
    event = map_whatsapp(load("whatsapp/message_status.json")["failed"])[0]
    assert isinstance(event, DeliveryStatus)
    assert event.error_code == "130472"
    assert event.recipient is not None and event.recipient.value == "972987654321"


class TestMessenger:
    """The four Messenger fixtures."""

    def test_text(self) -> None:
        """A text message keeps mid, page and millisecond timestamp."""
        [event] = MESSENGER.map_payload(load("messenger/wsTextMessageRequest.json"))
        assert isinstance(event, InboundMessage)
        assert event.text == "hello, world!"
        assert event.event_id == "messenger:mid.1457764197618:41d102a3e1ae206a38"
        assert event.channel_account == "111111" and event.sender.value == "USER_ID"
        assert event.provider_timestamp == datetime(2016, 3, 12, 6, 29, 57, 627000, UTC)

    def test_structured(self) -> None:
        """An image attachment becomes an image reference."""
        [event] = MESSENGER.map_payload(load("messenger/wsStructuredMessageRequest.json"))
        assert isinstance(event, InboundMessage)
        assert [(a.kind, a.url) for a in event.attachments] == [(AttachmentKind.IMAGE,
                                                                 "IMAGE_URL")]

    def test_postback(self) -> None:
        """A postback is an interactive reply with its payload."""
        [event] = MESSENGER.map_payload(load("messenger/wsPostbackRequest.json"))
        assert isinstance(event, InboundMessage) and event.interactive is not None
        assert event.interactive.kind is InteractiveKind.POSTBACK
        assert event.interactive.payload == "USER_DEFINED_PAYLOAD"

    def test_delivery(self) -> None:
        """A delivery receipt becomes one delivered status per mid."""
        [event] = MESSENGER.map_payload(load("messenger/wsDeliveryRequest.json"))
        assert isinstance(event, DeliveryStatus)
        assert event.state is DeliveryState.DELIVERED
        assert event.provider_message_id == "mid.1458668856218:ed81099e15d3f4f233"

    def test_echo_suppressed(self) -> None:
        """The page's own message (is_echo) never comes back as a customer message."""
        payload = load("messenger/wsTextMessageRequest.json")
        payload["entry"][0]["messaging"][0]["message"]["is_echo"] = True
        assert MESSENGER.map_payload(payload) == []


def test_line_webhook() -> None:
    """LINE's SDK sample: 13 customer messages out of its events, the rest not messages."""
    events = map_line(load("line/webhook.json"))
    kinds = [(e.text, [a.kind for a in e.attachments], e.location is not None,
              e.interactive.kind if e.interactive else None) for e in events
             if isinstance(e, InboundMessage)]
    assert len(events) == 13
    assert kinds[0] == ("Hello, world", [], False, None)
    assert kinds[1][1] == [AttachmentKind.IMAGE] and events[1].sender.value.startswith("R")
    assert kinds[4][2] is True
    assert kinds[5][1] == [AttachmentKind.STICKER]
    assert kinds[6][3] is InteractiveKind.POSTBACK
    assert kinds[12][1] == [AttachmentKind.FILE]
    first = events[0]
    assert isinstance(first, InboundMessage)
    assert first.metadata["reply_token"] == "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA"
    assert first.provider_timestamp == datetime(2016, 5, 7, 13, 57, 59, 859000, UTC)
