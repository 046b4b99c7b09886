"""Address normalization."""

from __future__ import annotations

import pytest

from omniroute.contract import Address, Channel
from omniroute.errors import RejectedInput
from omniroute.identity.addresses import (
    normalize_address,
    normalize_claimed,
    normalize_email,
    normalize_phone,
)


class TestPhones:
    """E.164 with phonenumbers."""

    def test_korean_mobile_in_any_spelling_is_one_number(self) -> None:
        """+82 10-1234-5678, a wa_id and a Twilio whatsapp: address agree."""
        assert normalize_phone("+82 10-1234-5678", "US") == "+821012345678"
        assert normalize_phone("821012345678", "US", international=True) == "+821012345678"
        assert normalize_phone("whatsapp:+821012345678", "US") == "+821012345678"

    def test_local_numbers_use_the_default_region(self) -> None:
        """010-1234-5678 is Korean when the default region is KR."""
        assert normalize_phone("010-1234-5678", "KR") == "+821012345678"
        assert normalize_phone("(415) 555-0100", "US") == "+14155550100"

    def test_alphanumeric_senders_are_not_phones(self) -> None:
        """An alphanumeric sender id or garbage is not a phone number."""
        assert normalize_phone("ACME", "US") is None
        assert normalize_phone("12", "US") is None


class TestEmails:
    """Emails: case, whitespace, display names."""

    def test_display_name_case_and_whitespace_are_dropped(self) -> None:
        """``Jane <Jane@Example.COM>`` is jane@example.com."""
        assert normalize_email("  Jane Doe <Jane@Example.COM> ") == "mailto:jane@example.com"

    def test_not_an_email_is_rejected(self) -> None:
        """A string without a domain is refused with a precise error."""
        with pytest.raises(RejectedInput, match="not an email"):
            normalize_email("jane")


class TestChannelAddresses:
    """Addresses on each channel."""

    def test_sms_and_whatsapp_of_one_phone_normalize_alike(self) -> None:
        """The same E.164 on SMS and WhatsApp is one address."""
        sms = normalize_address(Channel.SMS, Address(value="+82 10-1234-5678"), "US", "+1415")
        wa = normalize_address(Channel.WHATSAPP, Address(value="821012345678"), "US", "pnid")
        assert sms == wa == "tel:+821012345678"

    def test_short_code_stays_scoped_to_the_account(self) -> None:
        """A short code does not become a phone address."""
        assert normalize_address(Channel.SMS, Address(value="ACME"), "US", "+14155550100") == (
            "sms:+14155550100:ACME"
        )

    def test_scoped_ids_carry_their_scope(self) -> None:
        """A PSID is per page: the address's scope wins over the channel account."""
        psid = Address(value="123", scope="page-1")
        assert normalize_address(Channel.MESSENGER, psid, "US", "other") == "messenger:page-1:123"
        assert normalize_address(Channel.LINE, Address(value="U1"), "US", "chan") == "line:chan:U1"
        assert normalize_address(Channel.KAKAO, Address(value="k"), "US", "bot") == "kakao:bot:k"

    def test_telegram_ids_are_global(self) -> None:
        """Telegram user ids are the same for every bot."""
        assert normalize_address(Channel.TELEGRAM, Address(value="42"), "US", "bot1") == (
            "telegram:42"
        )

    def test_scoped_id_without_a_scope_is_rejected(self) -> None:
        """A PSID from a CRM link without its page cannot be matched, so it is refused."""
        with pytest.raises(RejectedInput, match="needs a scope"):
            normalize_address(Channel.MESSENGER, Address(value="123"), "US")

    def test_claims_normalize_or_give_none(self) -> None:
        """Weak claims normalize where they can."""
        assert normalize_claimed("email", "A@B.co", "US") == "mailto:a@b.co"
        assert normalize_claimed("email", "nope", "US") is None
        assert normalize_claimed("phone", "+82 10 1234 5678", "US") == "tel:+821012345678"
