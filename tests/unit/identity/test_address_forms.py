"""Address forms that used to be mishandled (issue 11): prefixes, WhatsApp ids, IDN, quoting.

Each test here failed before the fix it names.
"""

from __future__ import annotations

import pytest

from omniroute.contract import Address, Channel
from omniroute.errors import RejectedInput
from omniroute.identity.addresses import normalize_address, normalize_email, normalize_phone

SEOUL = "+821012345678"


class TestInternationalPrefixes:
    """``00`` (ITU) and ``011`` (NANP) dialled prefixes mean the number is international."""

    @pytest.mark.parametrize("region", ["US", "KR", "DE", "GB"])
    def test_double_zero_prefix_is_international_in_any_region(self, region: str) -> None:
        """``0082-10-1234-5678`` is the Korean mobile whatever the default region."""
        assert normalize_phone("0082-10-1234-5678", region) == SEOUL
        assert normalize_phone("00 82 10 1234 5678", region) == SEOUL

    def test_011_is_the_international_prefix_of_nanp_regions_only(self) -> None:
        """In the US ``011`` dials abroad; in Korea ``011`` is an old mobile prefix."""
        assert normalize_phone("011 82 10 1234 5678", "US") == SEOUL
        assert normalize_phone("011-82-10-1234-5678", "CA") == SEOUL
        assert normalize_phone("011-123-4567", "KR") == "+82111234567"

    def test_prefix_forms_and_plus_form_are_one_address(self) -> None:
        """SMS ``0082…`` and WhatsApp wa_id of the same phone meet."""
        a = normalize_address(Channel.SMS, Address(value="0082-10-1234-5678"), "US", "acct")
        b = normalize_address(Channel.WHATSAPP, Address(value="821012345678"), "US", "pnid")
        assert a == b == f"tel:{SEOUL}"


class TestWhatsAppIds:
    """wa_ids of countries whose mobile format differs from E.164."""

    def test_mexican_wa_id_with_the_mobile_1_is_the_e164_number(self) -> None:
        """WhatsApp sends ``521…`` for the Mexican mobile ``+52 55 1234 5678``."""
        assert normalize_phone("5215512345678", "US", international=True) == "+525512345678"
        assert normalize_phone("+52 55 1234 5678", "US") == "+525512345678"
        assert normalize_phone("+52 1 55 1234 5678", "MX") == "+525512345678"

    def test_brazilian_wa_id_without_the_ninth_digit_gets_it(self) -> None:
        """WhatsApp sends ``55 11 8765-4321`` for the mobile ``+55 11 98765-4321``."""
        assert normalize_phone("551187654321", "US", international=True) == "+5511987654321"
        assert normalize_phone("+55 11 98765-4321", "US") == "+5511987654321"

    def test_brazilian_landline_is_left_alone(self) -> None:
        """A landline (subscriber number starting 2-5) has no ninth digit to add."""
        assert normalize_phone("551132654321", "US", international=True) == "+551132654321"


class TestChannelScopedNumbers:
    """Short codes and local-only numbers are not global phones."""

    def test_local_only_number_stays_scoped_to_the_account(self) -> None:
        """``555-0123`` (7 digits, no area code) could be anyone's: scoped, not tel:."""
        assert normalize_phone("555-0123", "US") is None
        one = normalize_address(Channel.SMS, Address(value="555-0123"), "US", "+14155550100")
        two = normalize_address(Channel.SMS, Address(value="555-0123"), "US", "+12125550100")
        assert one == "sms:+14155550100:555-0123"
        assert one != two

    @pytest.mark.parametrize("code", ["12345", "262966", "88022"])
    def test_short_codes_stay_scoped_to_the_account(self, code: str) -> None:
        """Numeric short codes are per carrier account, never ``tel:``."""
        assert normalize_phone(code, "US") is None
        assert normalize_address(Channel.SMS, Address(value=code), "US", "acct") == (
            f"sms:acct:{code}"
        )


class TestEmails:
    """IDN domains and quoted local parts."""

    def test_idn_domain_and_its_punycode_are_one_address(self) -> None:
        """``bücher.example`` and ``xn--bcher-kva.example`` are the same domain."""
        unicode_form = normalize_email("jane@Bücher.example")
        assert unicode_form == normalize_email("Jane <jane@xn--bcher-kva.example>")
        assert unicode_form == "mailto:jane@xn--bcher-kva.example"

    def test_quoted_local_part_with_a_space_is_an_address(self) -> None:
        """``"john doe"@example.com`` is a valid address, kept quoted."""
        assert normalize_email('"John Doe"@example.com') == 'mailto:"john doe"@example.com'
        assert normalize_email('Team <"john doe"@example.com>') == 'mailto:"john doe"@example.com'

    def test_needlessly_quoted_local_part_equals_the_plain_one(self) -> None:
        """``"john.doe"@example.com`` is ``john.doe@example.com``."""
        assert normalize_email('"john.doe"@example.com') == normalize_email("john.doe@example.com")

    def test_unquoted_space_is_still_refused(self) -> None:
        """Whitespace outside quotes is not an address."""
        with pytest.raises(RejectedInput, match="not an email"):
            normalize_email("john doe@example.com")
