"""The email MIME pipeline on every real fixture and on hand-encoded edge cases."""

from __future__ import annotations

import json
from email.header import Header
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from omniroute.contract import DeliveryState, DeliveryStatus, InboundMessage
from omniroute.errors import RejectedInput
from omniroute_connectors.email.charsets import decode_bytes
from omniroute_connectors.email.classify import MailKind
from omniroute_connectors.email.mime import message_ids, parse_email
from omniroute_connectors.email.normalize import (
    EmailContext,
    Mailboxes,
    Suppressed,
    normalize_email,
)
from omniroute_connectors.email.replies import split_reply

FIXTURES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "email"
ALL_EML = sorted(FIXTURES.rglob("*.eml"))
CONTEXT = EmailContext(provider="smtp")


def test_the_fixture_folder_is_there() -> None:
    """The shared fixtures hold the real emails this suite runs on."""
    assert len(ALL_EML) >= 80


@pytest.mark.parametrize("path", ALL_EML, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_parses(path: Path) -> None:
    """Every real .eml becomes an InboundMessage, a bounce status or a recognized suppression."""
    try:
        result = normalize_email(path.read_bytes(), CONTEXT)
    except RejectedInput as exc:  # only mail without any sender may be refused
        assert "From" in str(exc), exc
        return
    assert isinstance(result, InboundMessage | DeliveryStatus | Suppressed)
    if isinstance(result, InboundMessage):
        InboundMessage.from_json_bytes(result.to_json_bytes())
        assert result.text or result.attachments


class TestClassification:
    """Machine-generated mail is recognized and kept away from agents."""

    def test_x_autoreply_is_suppressed(self) -> None:
        """chatwoot's auto_reply.eml carries X-Autoreply."""
        result = normalize_email((FIXTURES / "chatwoot/auto_reply.eml").read_bytes(), CONTEXT)
        assert isinstance(result, Suppressed) and result.kind is MailKind.AUTO_REPLY

    def test_auto_submitted_is_suppressed(self) -> None:
        """Auto-Submitted: auto-replied is an auto-reply."""
        raw = (FIXTURES / "chatwoot/auto_reply_with_auto_submitted.eml").read_bytes()
        assert normalize_email(raw, CONTEXT).kind is MailKind.AUTO_REPLY  # type: ignore[union-attr]

    def test_precedence_bulk_is_suppressed(self) -> None:
        """Precedence: bulk marks mail that must not reach an agent."""
        raw = b"From: a@example.com\r\nTo: s@example.com\r\nPrecedence: bulk\r\n\r\nhi\r\n"
        assert normalize_email(raw, CONTEXT).kind is MailKind.AUTO_REPLY  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        "name", ["chatwoot/bounced_gmail.eml", "flanker/bounce/zed.eml",
                 "flanker/bounce/mailbox-full.eml", "flanker/bounce/gmail-invalid-address.eml"]
    )
    def test_bounce_becomes_failed_delivery_status(self, name: str) -> None:
        """A bounce is a DeliveryStatus failed for the recipient, naming the bounced message."""
        result = normalize_email((FIXTURES / name).read_bytes(), CONTEXT)
        assert isinstance(result, DeliveryStatus)
        assert result.state is DeliveryState.FAILED
        assert result.recipient is not None

    def test_zed_bounce_names_status_and_original(self) -> None:
        """The RFC 3464 fields and the enclosed Message-ID are extracted."""
        result = normalize_email((FIXTURES / "flanker/bounce/zed.eml").read_bytes(), CONTEXT)
        assert isinstance(result, DeliveryStatus)
        assert result.error_code == "5.1.1"
        assert result.provider_message_id == "20090708054735.GC7578@zedshaw"
        assert result.recipient and result.recipient.value.startswith("asdfasdf")

    def test_delayed_report_is_not_a_failure(self) -> None:
        """Action: delayed is suppressed, not a failure."""
        result = normalize_email((FIXTURES / "flanker/bounce/no-mx.eml").read_bytes(), CONTEXT)
        assert isinstance(result, Suppressed) and result.kind is MailKind.DELAY

    def test_complaint_is_suppressed(self) -> None:
        """An ARF feedback report is a complaint, not a customer message."""
        result = normalize_email((FIXTURES / "flanker/complaints/yahoo.eml").read_bytes(), CONTEXT)
        assert isinstance(result, Suppressed)


class TestContent:
    """Bodies, attachments and threading come out decoded."""

    def test_html_only_becomes_readable_text(self) -> None:
        """only_html.eml has no text/plain part; its HTML is turned into text."""
        result = normalize_email((FIXTURES / "chatwoot/only_html.eml").read_bytes(), CONTEXT)
        assert isinstance(result, InboundMessage) and result.text
        assert "<" not in result.text

    def test_inline_image_without_disposition_is_an_attachment_with_content_id(self) -> None:
        """multipart/related cid: images become attachments carrying content_id."""
        raw = (FIXTURES / "chatwoot/cid_inline_images_without_disposition.eml").read_bytes()
        result = normalize_email(raw, CONTEXT)
        assert isinstance(result, InboundMessage)
        images = [a for a in result.attachments if a.content_id]
        assert images and images[0].kind.value == "image"
        assert images[0].media_id and images[0].media_id.startswith("sha256:")

    def test_pdf_attachment_is_recorded(self) -> None:
        """The inline PDF is an attachment with its real size."""
        raw = (FIXTURES / "chatwoot/email_with_inline_pdf.eml").read_bytes()
        result = normalize_email(raw, CONTEXT)
        assert isinstance(result, InboundMessage)
        pdfs = [a for a in result.attachments if a.content_type == "application/pdf"]
        assert pdfs and pdfs[0].size_bytes and pdfs[0].size_bytes > 1000

    def test_quoted_reply_is_stripped_and_full_text_kept(self) -> None:
        """mail_with_quote.eml: text is the visible reply, full_text holds the quote."""
        raw = (FIXTURES / "chatwoot/mail_with_quote.eml").read_bytes()
        result = normalize_email(raw, CONTEXT)
        assert isinstance(result, InboundMessage) and result.text and result.full_text
        assert len(result.text) < len(result.full_text)
        assert ">" not in result.text

    def test_multiple_in_reply_to_ids_are_all_kept(self) -> None:
        """In-Reply-To with several ids yields each id once."""
        raw = (FIXTURES / "chatwoot/multiple_in_reply_to.eml").read_bytes()
        result = normalize_email(raw, CONTEXT)
        assert isinstance(result, InboundMessage) and result.thread
        assert len(result.thread.in_reply_to) >= 2
        assert len(set(result.thread.in_reply_to)) == len(result.thread.in_reply_to)

    def test_missing_boundaries_keep_the_text(self) -> None:
        """Broken MIME never loses the text."""
        raw = (FIXTURES / "flanker/missing-boundaries.eml").read_bytes()
        result = normalize_email(raw, CONTEXT)
        assert isinstance(result, InboundMessage) and result.text

    def test_event_id_is_deterministic(self) -> None:
        """The same mail twice gives the same event id; another mail another one."""
        a = (FIXTURES / "chatwoot/only_text.eml").read_bytes()
        b = (FIXTURES / "chatwoot/only_html.eml").read_bytes()
        first, again, other = (normalize_email(x, CONTEXT) for x in (a, a, b))
        assert first.event_id == again.event_id != other.event_id  # type: ignore[union-attr]

    def test_mail_without_message_id_still_has_a_stable_id(self) -> None:
        """Without Message-ID the id is a hash of the headers and body."""
        raw = b"From: a@example.com\r\nTo: s@example.com\r\nSubject: x\r\n\r\nhello\r\n"
        one, two = normalize_email(raw, CONTEXT), normalize_email(raw, CONTEXT)
        assert isinstance(one, InboundMessage) and one.event_id == two.event_id  # type: ignore[union-attr]


class TestThreadingIds:
    """References and In-Reply-To are read tolerantly."""

    def test_folded_duplicated_and_comma_separated_ids(self) -> None:
        """Folding, commas and duplicates do not confuse the id list."""
        value = "<a@x.org>,\r\n <b@x.org> <a@x.org>, <c@x.org>"
        assert message_ids(value) == ["a@x.org", "b@x.org", "c@x.org"]

    def test_ids_without_brackets(self) -> None:
        """Bare ids (some mailers omit the brackets) are still found."""
        assert message_ids("a@x.org, b@x.org") == ["a@x.org", "b@x.org"]


class TestReplyToken:
    """The plus address of a support mailbox carries the reply token."""

    def test_plus_address_gives_token_and_mailbox(self) -> None:
        """reply to support+TOKEN@ threads by TOKEN and lands on support@."""
        raw = (
            b"From: Jane <jane@example.com>\r\nTo: Support+conv-42@Example.com\r\n"
            b"Message-ID: <m1@example.com>\r\n\r\nthanks\r\n"
        )
        context = EmailContext(mailboxes=Mailboxes.of("support@example.com"))
        result = normalize_email(raw, context)
        assert isinstance(result, InboundMessage) and result.thread
        assert result.thread.reply_token == "conv-42"
        assert result.channel_account == "support@example.com"

    def test_unknown_mailbox_is_rejected(self) -> None:
        """Mail for an address that is not a support mailbox is refused precisely."""
        raw = b"From: jane@example.com\r\nTo: other@example.com\r\n\r\nhi\r\n"
        context = EmailContext(mailboxes=Mailboxes.of("support@example.com"))
        with pytest.raises(RejectedInput, match="support mailbox"):
            normalize_email(raw, context)


class TestCharsets:
    """Every charset decodes, Korean labels through cp949."""

    KOREAN = "안녕하세요, 주문 번호 똠방각하 문의드립니다"  # 똠 is only in cp949, not EUC-KR

    @pytest.mark.parametrize("label", ["euc-kr", "ks_c_5601-1987", "EUC-KR"])
    def test_korean_labels_decode_as_cp949(self, label: str) -> None:
        """Bytes written in cp949 under a Korean label decode exactly, even cp949-only syllables."""
        body = self.KOREAN.encode("cp949")
        subject = Header(self.KOREAN, "utf-8").encode()
        raw = (
            f"From: =?{label}?B?".encode() + __import__("base64").b64encode("김철수".encode("cp949"))
            + b"?= <kim@example.kr>\r\nTo: s@example.com\r\nSubject: " + subject.encode()
            + f"\r\nContent-Type: text/plain; charset={label}\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n".encode() + body + b"\r\n"
        )
        result = normalize_email(raw, CONTEXT)
        assert isinstance(result, InboundMessage)
        assert result.text == self.KOREAN
        assert result.sender.name == "김철수"
        assert result.thread and result.thread.subject == self.KOREAN

    def test_iso_2022_jp(self) -> None:
        """An ISO-2022-JP body with an encoded-word subject decodes."""
        text = "お問い合わせありがとうございます。注文番号は１２３です。"
        part = MIMEText(text, "plain", "iso-2022-jp")
        part["From"] = "Taro <taro@example.jp>"
        part["To"] = "s@example.com"
        part["Subject"] = Header("ご注文について", "iso-2022-jp").encode()
        result = normalize_email(part.as_bytes(), CONTEXT)
        assert isinstance(result, InboundMessage)
        assert result.text == text
        assert result.thread and result.thread.subject == "ご注文について"

    def test_quoted_printable_latin1(self) -> None:
        """Quoted-printable ISO-8859-1 decodes (as its Windows-1252 superset)."""
        raw = (
            b"From: a@example.com\r\nTo: s@example.com\r\nContent-Type: text/plain; "
            b"charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"Caf=E9 cr=E8me =80 10\r\n"
        )
        result = normalize_email(raw, CONTEXT)
        assert isinstance(result, InboundMessage) and result.text == "Café crème € 10"

    def test_unknown_charset_falls_back_without_losing_text(self) -> None:
        """An unknown label decodes as UTF-8 (or Windows-1252) instead of failing."""
        assert decode_bytes("héllo".encode(), "x-made-up") == "héllo"
        assert decode_bytes(b"caf\xe9", "us-ascii") == "café"


def _first_plain(raw: bytes) -> str:
    parsed = parse_email(raw)
    return parsed.text


TALON = FIXTURES / "talon"


@pytest.mark.parametrize("path", sorted(TALON.glob("*.eml")), ids=lambda p: p.name)
def test_talon_standard_replies(path: Path) -> None:
    """talon's standard replies: the quote-stripped text equals the published expectation."""
    expected_file = path.with_name(path.stem + "_reply_text")
    expected = expected_file.read_text().strip() if expected_file.exists() else "Hello"
    parts = split_reply(_first_plain(path.read_bytes()))
    assert parts.reply == expected
    assert parts.visible.startswith("Hello")


ERP = FIXTURES / "email_reply_parser"
EXPECTED = json.loads((ERP / "expected.json").read_text())


def _erp_cases() -> list[tuple[str, str]]:
    cases = []
    for name, spec in EXPECTED.items():
        if not name.endswith(".txt"):
            continue
        if "parse_reply" in spec:
            cases.append((name, spec["parse_reply"]))
        elif "fragment_equals" in spec:
            cases.append((name, spec["fragment_equals"]["0"]))
        elif "derived_visible_text_UNCERTAIN" in spec:
            cases.append((name, spec["derived_visible_text_UNCERTAIN"]))
    return cases


@pytest.mark.parametrize(("name", "expected"), _erp_cases(), ids=[c[0] for c in _erp_cases()])
def test_email_reply_parser_visible_text(name: str, expected: str) -> None:
    """email_reply_parser's asserted visible texts come out of the splitter exactly."""
    parts = split_reply((ERP / name).read_text())
    assert parts.visible == expected


@pytest.mark.parametrize(
    ("name", "first_line", "quoted_marker"),
    [
        ("email_1_4.txt", "Awesome", "Loader"),
        ("email_1_7.txt", ":+1:", "Steps 0-2"),
        ("email_one_is_not_on.txt", "Thank, this is really helpful.", "On Oct 1, 2012"),
        ("greedy_on.txt", "On your remote host", "On 9 Jan 2014"),
    ],
)
def test_email_reply_parser_fragment_matches(name: str, first_line: str, quoted_marker: str
                                             ) -> None:
    """Where the source asserts regexes, the visible text keeps the reply and drops the quote."""
    parts = split_reply((ERP / name).read_bytes().decode())
    assert parts.visible.startswith(first_line)
    assert quoted_marker not in parts.visible
    assert quoted_marker in parts.full
