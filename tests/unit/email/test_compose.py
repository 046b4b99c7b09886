"""Outbound email composition: threading headers, reply token, parts."""

from __future__ import annotations

from omniroute.contract import Address, Author, AuthorKind, Channel, OutboundMessage, ThreadHints
from omniroute_connectors.email.compose import compose_reply, message_id_for, reply_token_for


def outbound(**changes: object) -> OutboundMessage:
    base: dict[str, object] = dict(
        event_id="out-9", conversation_id="conv-1", channel=Channel.EMAIL,
        channel_account="help@shop.test", recipient=Address(value="kim@example.kr", name="김"),
        author=Author(kind=AuthorKind.AGENT, name="Sam"), text="Line one\n\nLine <two>",
        thread=ThreadHints(message_id="m2@x", references=["m1@x"], subject="Re: Refund"),
    )
    base.update(changes)
    return OutboundMessage(**base)  # type: ignore[arg-type]


class TestCompose:
    """The composed reply threads and carries the reply token."""

    def test_threading_headers(self) -> None:
        """In-Reply-To is the customer's message, References the chain, one Re: only."""
        mail = compose_reply(outbound())
        assert mail["In-Reply-To"] == "<m2@x>"
        assert mail["References"] == "<m1@x> <m2@x>"
        assert mail["Subject"] == "Re: Refund"
        assert mail["Reply-To"] == "help+conv-1@shop.test"

    def test_message_id_is_stable_per_event(self) -> None:
        """Retries of the same outbound message reuse its Message-ID."""
        assert message_id_for(outbound()) == message_id_for(outbound())
        assert message_id_for(outbound()) != message_id_for(outbound(event_id="out-10"))

    def test_unsafe_conversation_id_gets_no_token(self) -> None:
        """A conversation id that is not address-safe is not put in the address."""
        assert reply_token_for(outbound(conversation_id="a b@c")) is None

    def test_plain_and_html_parts(self) -> None:
        """Both parts exist; HTML is escaped."""
        mail = compose_reply(outbound())
        html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "Line &lt;two&gt;" in html
        assert mail.get_body(("plain",)).get_content().startswith("Line one")  # type: ignore[union-attr]

    def test_the_from_name_is_the_agents_or_the_desks_never_omnirouted(self) -> None:
        """A user run's acknowledgement came "From: omniroute <support@…>": automation's own
        author name, shown to the customer. Automatic and bot mail now carry the desk's
        name (OMNIROUTE_EMAIL_FROM_NAME) or the bare mailbox; a named agent keeps theirs."""
        automatic = outbound(author=Author(kind=AuthorKind.BOT, name="omniroute"))
        assert compose_reply(automatic)["From"] == "help@shop.test"
        assert compose_reply(automatic, from_name="Shop Support")["From"] == (
            "Shop Support <help@shop.test>")
        assert compose_reply(outbound(), from_name="Shop Support")["From"] == "Sam <help@shop.test>"
        unnamed = outbound(author=Author(kind=AuthorKind.AGENT, id="a1"))
        assert compose_reply(unnamed, from_name="Shop Support")["From"] == (
            "Shop Support <help@shop.test>")
