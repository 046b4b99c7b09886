"""Events are cleaned and bounded below Kafka's record limit before any producer sees them."""

from __future__ import annotations

import pytest

from omniroute.contract import Address, Attachment, AttachmentKind, Channel, InboundMessage
from omniroute_connectors.base import BadRequest
from omniroute_connectors.bounds import EventTooLarge, clean_text, fit_event, load_json


def message(**fields: object) -> InboundMessage:
    base: dict[str, object] = dict(
        event_id="email:1", channel=Channel.EMAIL, provider="smtp", channel_account="s@x.test",
        sender=Address(value="a@x.test"), recipient=Address(value="s@x.test"),
        provider_message_id="m1", text="hello")
    return InboundMessage(**{**base, **fields})  # type: ignore[arg-type]


class TestFitEvent:
    def test_small_event_is_unchanged(self) -> None:
        event = message()
        assert fit_event(event) is event

    def test_large_mail_is_truncated_and_flagged_below_the_limit(self) -> None:
        big = message(text="é" * 65_536, full_text="é" * 262_144)
        assert len(big.to_json_bytes()) > 400_000
        fitted = fit_event(big, 400_000)
        assert isinstance(fitted, InboundMessage)
        assert len(fitted.to_json_bytes()) <= 400_000
        assert fitted.metadata["truncated"] == "full_text"
        assert fitted.text == big.text  # the visible reply survives when the rest fits

    def test_many_attachments_are_dropped_from_the_end_and_flagged(self) -> None:
        parts = [Attachment(kind=AttachmentKind.FILE, url=f"https://f.test/{i}/" + "x" * 3_000)
                 for i in range(200)]
        fitted = fit_event(message(attachments=parts), 100_000)
        assert isinstance(fitted, InboundMessage)
        assert 0 < len(fitted.attachments) < 200
        assert fitted.attachments == parts[:len(fitted.attachments)]
        assert fitted.metadata["truncated"] == "attachments"

    def test_what_cannot_fit_is_refused_413(self) -> None:
        with pytest.raises(EventTooLarge) as caught:
            fit_event(message(text="x" * 60_000), 200)
        assert caught.value.status == 413

    def test_nul_is_removed_everywhere(self) -> None:
        fitted = fit_event(message(text="a\x00b", sender=Address(value="a@x.test",
                                                                 name="N\x00ame")))
        assert isinstance(fitted, InboundMessage)
        assert (fitted.text, fitted.sender.name) == ("ab", "Name")


class TestJson:
    def test_depth_is_bounded_without_recursion(self) -> None:
        with pytest.raises(BadRequest, match="deeper"):
            load_json(b'{"a":' * 65 + b"1" + b"}" * 65)
        assert load_json(b'{"a":' * 60 + b"1" + b"}" * 60)

    def test_strings_and_keys_are_cleaned(self) -> None:
        assert load_json(b'{"k\\u0000": ["v\\u0000", "\\udc80"]}') == {"k": ["v", "\ufffd"]}

    def test_clean_text(self) -> None:
        assert clean_text("ok") == "ok"
        assert clean_text("\x00\ud83d") == "\ufffd"
