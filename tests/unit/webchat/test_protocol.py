"""The web chat protocol: frames, identity verification, idempotent message ids."""

from __future__ import annotations

import pytest

from omniroute.contract import Channel, DeliveryState
from omniroute_connectors.webchat.protocol import (
    FrameError,
    identity_hash,
    inbound_from_frame,
    open_session,
    parse_frame,
    receipt_statuses,
    visitor_id_for,
)

SECRET = "workspace-secret-0123456789"
TOKEN = "AbCdEfGhIjKlMnOpQrStUvWx12"


def hello(**fields: object) -> dict[str, object]:
    return {"type": "hello", "visitor_token": TOKEN, **fields}


class TestFrames:
    """Bad frames are refused with a precise code."""

    @pytest.mark.parametrize(
        ("raw", "code"),
        [("not json", "invalid_json"), ("[1]", "invalid_frame"),
         ('{"type": "shout"}', "unknown_type"), ("x" * 200_000, "frame_too_large")],
    )
    def test_malformed_frames(self, raw: str, code: str) -> None:
        """Each kind of malformed frame names its problem."""
        with pytest.raises(FrameError) as caught:
            parse_frame(raw)
        assert caught.value.code == code
        assert caught.value.frame()["type"] == "error"

    def test_first_frame_must_be_hello(self) -> None:
        """A message before hello is refused."""
        with pytest.raises(FrameError, match="hello"):
            open_session({"type": "message"}, SECRET, "default")


class TestVisitor:
    """Anonymous tokens and verified identities."""

    def test_known_token_is_kept_and_hashed(self) -> None:
        """The browser's token is reused; the public id is its hash."""
        visitor = open_session(hello(), None, "shop")
        assert visitor.token == TOKEN and visitor.visitor_id == visitor_id_for(TOKEN)
        assert TOKEN not in visitor.visitor_id

    def test_missing_or_bad_token_gets_a_new_one(self) -> None:
        """No token (first visit) or a malformed one yields a fresh random token."""
        first = open_session({"type": "hello"}, None, "shop")
        bad = open_session(hello(visitor_token="short"), None, "shop")
        assert len(first.token) >= 20 and bad.token != "short" and first.token != bad.token

    def test_verified_identity(self) -> None:
        """identifier + the right HMAC verifies; the address becomes the identifier."""
        visitor = open_session(
            hello(identifier="cust-42", identity_hash=identity_hash(SECRET, "cust-42"),
                  email="jo@example.com"), SECRET, "shop")
        assert visitor.verified and visitor.verified.identifier == "cust-42"
        assert visitor.address == "id:cust-42"

    def test_wrong_hash_is_refused(self) -> None:
        """A forged identity is refused, not downgraded silently."""
        with pytest.raises(FrameError) as caught:
            open_session(hello(identifier="cust-42", identity_hash="00" * 32), SECRET, "shop")
        assert caught.value.code == "identity_mismatch"

    def test_identifier_without_hash_is_refused(self) -> None:
        """An identifier alone proves nothing."""
        with pytest.raises(FrameError, match="together"):
            open_session(hello(identifier="cust-42"), SECRET, "shop")


class TestMessages:
    """Visitor messages become InboundMessages with idempotent ids."""

    visitor = open_session(hello(name="Jo", email="jo@example.com"), None, "shop")

    def test_message_maps_to_inbound(self) -> None:
        """channel webchat, sender the visitor id, claims recorded but unverified."""
        message = inbound_from_frame(
            {"type": "message", "client_message_id": "c1", "text": "Hi"}, self.visitor, "default")
        assert message.channel is Channel.WEBCHAT and message.channel_account == "shop"
        assert message.sender.value == self.visitor.visitor_id
        assert message.claimed == {"email": "jo@example.com"}
        assert message.verified_identity is None

    def test_a_tapped_button_is_an_interactive_reply(self) -> None:
        """The survey's buttons in the widget: the title is the text, the payload is read."""
        message = inbound_from_frame(
            {"type": "message", "client_message_id": "c3", "text": "5 Very satisfied",
             "choice": {"payload": "csat:5", "title": "5 Very satisfied"}},
            self.visitor, "default")
        assert message.text == "5 Very satisfied" and message.interactive is not None
        assert (message.interactive.kind, message.interactive.payload,
                message.interactive.title) == ("button", "csat:5", "5 Very satisfied")
        plain = inbound_from_frame({"type": "message", "client_message_id": "c4", "text": "5"},
                                   self.visitor, "default")
        assert plain.interactive is None

    def test_retry_has_the_same_event_id(self) -> None:
        """The same client_message_id always yields the same event_id."""
        frame = {"type": "message", "client_message_id": "c1", "text": "Hi"}
        first = inbound_from_frame(frame, self.visitor, "default")
        again = inbound_from_frame(dict(frame), self.visitor, "default")
        other = inbound_from_frame({**frame, "client_message_id": "c2"}, self.visitor, "default")
        assert first.event_id == again.event_id != other.event_id

    @pytest.mark.parametrize(
        ("frame", "code"),
        [({"type": "message", "text": "Hi"}, "invalid_client_message_id"),
         ({"type": "message", "client_message_id": "c 1", "text": "Hi"},
          "invalid_client_message_id"),
         ({"type": "message", "client_message_id": "c1", "text": "  "}, "empty_text"),
         ({"type": "offline_form", "client_message_id": "c1", "text": "Hi", "email": "nope"},
          "invalid_email"),
         ({"type": "message", "client_message_id": "c1", "text": "5", "choice": "csat:5"},
          "invalid_choice"),
         ({"type": "message", "client_message_id": "c1", "text": "5",
           "choice": {"payload": "", "title": "5"}}, "invalid_choice"),
         ({"type": "message", "client_message_id": "c1", "text": "5",
           "choice": {"payload": "csat:5", "title": "x" * 21}}, "invalid_choice")],
    )
    def test_bad_messages(self, frame: dict[str, object], code: str) -> None:
        """Missing ids, empty text and bad offline emails are refused precisely."""
        with pytest.raises(FrameError) as caught:
            inbound_from_frame(frame, self.visitor, "default")
        assert caught.value.code == code

    def test_offline_form_claims_the_email(self) -> None:
        """The offline form records the email to answer to and marks the message."""
        message = inbound_from_frame(
            {"type": "offline_form", "client_message_id": "o1", "text": "Call me",
             "email": "x@example.com"}, self.visitor, "default")
        assert message.claimed["email"] == "x@example.com"
        assert message.metadata["offline_form"] == "true"

    def test_read_and_delivered_frames_give_statuses_with_the_conversation(self) -> None:
        """Receipts name the conversation the server knows and have stable event ids."""
        seen = {"out-1": "conv-1"}
        (read,) = receipt_statuses({"type": "read", "event_ids": ["out-1"]}, self.visitor, "d",
                                   seen)
        (delivered,) = receipt_statuses({"type": "delivered", "event_ids": ["out-1", "out-1"]},
                                        self.visitor, "d", seen)
        (again,) = receipt_statuses({"type": "read", "event_ids": ["out-1"]}, self.visitor, "d",
                                    seen)
        assert read.state is DeliveryState.READ and delivered.state is DeliveryState.DELIVERED
        assert read.outbound_event_id == "out-1" and read.conversation_id == "conv-1"
        assert read.kafka_key == "conv-1" and read.event_id == again.event_id != delivered.event_id

    def test_receipts_only_for_messages_this_socket_was_sent(self) -> None:
        """A visitor cannot mark another visitor's messages: unknown ids are ignored."""
        frame = {"type": "read", "event_ids": ["someone-elses", "out-1"]}
        statuses = receipt_statuses(frame, self.visitor, "d", {"out-1": None})
        assert [s.outbound_event_id for s in statuses] == ["out-1"]
        with pytest.raises(FrameError):
            receipt_statuses({"type": "read", "event_ids": []}, self.visitor, "d", {})
