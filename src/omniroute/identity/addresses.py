"""Address normalization: what providers send, turned into one comparable string.

A normalized address is ``kind:value``:

- ``tel:+821012345678``: any phone, on any channel (SMS, WhatsApp, a verified
  identity's phone). E.164 via phonenumbers; national numbers use the default
  region and must be valid there; dialled prefixes (the region's own, ``00``,
  ``011`` in NANP regions) mean international; ``whatsapp:``/``tel:``/``sms:``
  prefixes are dropped; a WhatsApp ``wa_id`` (international digits without
  ``+``) gets its ``+``; Mexican ``+52 1`` and Brazilian eight-digit mobiles
  (as WhatsApp sends them) become their E.164 form.
- ``mailto:jane@example.com``: an email, lower-cased, display name and
  whitespace stripped, the domain in ASCII (punycode), a quoted local part
  unquoted when it needs no quotes.
- ``messenger:{page}:{psid}``, ``instagram:{account}:{igsid}``,
  ``line:{channel}:{user}``, ``kakao:{bot}:{user key}``,
  ``webchat:{site}:{visitor token}``: ids only meaningful within a scope (the
  address's ``scope``, else the channel account). ``telegram:{user id}`` is
  global: Telegram user ids are the same for every bot.
- ``verified:{identifier}``: a web-chat identity the workspace verified (HMAC).

Phone-shaped senders that are not global phone numbers (short codes,
alphanumeric sender ids, local-only numbers without an area code) stay scoped
to their channel account and never merge by phone.
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from functools import lru_cache

import phonenumbers

from omniroute.contract import Address, Channel
from omniroute.errors import RejectedInput

PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})
GLOBAL_ID_CHANNELS = frozenset({Channel.TELEGRAM})
PHONE_PREFIXES = ("whatsapp:", "tel:", "sms:", "mms:")


PHONES_REMEMBERED = 65_536
"""Phone spellings whose E.164 form is kept: a customer's every message repeats its sender's
spelling, and phonenumbers' parse is pure Python (about 50 us a number)."""


@lru_cache(maxsize=PHONES_REMEMBERED)
def normalize_phone(raw: str, default_region: str, *, international: bool = False) -> str | None:
    """E.164 of ``raw`` (``+821012345678``), or None when it is not a global phone number.

    ``international`` says bare digits are already international (a WhatsApp
    wa_id), so ``821012345678`` means +82 rather than a local number. A number
    in national form must be a *valid* number of ``default_region``; a local-only
    number (no area code) or a short code is None (the caller scopes it to the
    channel account). Dialled international prefixes are understood: the
    region's own (phonenumbers knows them), ``00`` everywhere, ``011`` in NANP
    regions. Mexican ``+52 1`` mobiles and Brazilian mobiles missing their ninth
    digit (both as WhatsApp sends them) become their E.164 form.
    """
    value = raw.strip()
    for prefix in PHONE_PREFIXES:
        if value.lower().startswith(prefix):
            value = value[len(prefix):].strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits or any(ch.isalpha() for ch in value):
        return None
    if value.startswith("+") or international:
        return _international("+" + digits, default_region, strict=False)
    candidates = [value]
    if digits.startswith("00"):
        candidates.append("+" + digits[2:])
    if digits.startswith("011") and phonenumbers.country_code_for_region(default_region) == 1:
        candidates.append("+" + digits[3:])
    for candidate in candidates:
        found = _international(candidate, default_region, strict=True)
        if found:
            return found
    return None


def _international(value: str, region: str, *, strict: bool) -> str | None:
    """E.164 of one reading of a number; ``strict`` wants a valid number, else a possible one."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    number = _mobile_form(number)
    if strict:
        ok = phonenumbers.is_valid_number(number)
    else:
        reason = phonenumbers.is_possible_number_with_reason(number)
        ok = reason == phonenumbers.ValidationResult.IS_POSSIBLE
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if ok else None


def _mobile_form(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    """Mexico's ``+52 1`` mobile prefix dropped; Brazil's ninth mobile digit added."""
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        return phonenumbers.PhoneNumber(country_code=52, national_number=int(national[1:]))
    if number.country_code == 55 and len(national) == 10 and national[2] in "6789":
        fixed = int(national[:2] + "9" + national[2:])
        return phonenumbers.PhoneNumber(country_code=55, national_number=fixed)
    return number


DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def normalize_email(raw: str) -> str:
    """``Jane <Jane@Example.COM >`` → ``jane@example.com``; RejectedInput if not an email.

    A quoted local part stays quoted when it needs to (``"john doe"@…``) and
    loses needless quotes (``"john.doe"@…`` is ``john.doe@…``); an
    internationalized domain becomes its ASCII (punycode) form, so
    ``bücher.example`` and ``xn--bcher-kva.example`` are one address.
    """
    _name, email = parseaddr(raw.strip())
    local, at, domain = email.strip().rpartition("@")
    domain = domain.strip().rstrip(".")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in domain):
        raise RejectedInput(f"{raw!r} is not an email address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise RejectedInput(f"{raw!r} is not an email address: {exc}") from exc
    return f"mailto:{_local_part(local, raw)}@{ascii_domain}"


def _local_part(local: str, raw: str) -> str:
    """The local part lower-cased; quotes kept only where the content needs them."""
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        inner = re.sub(r"\\(.)", r"\1", local[1:-1]).lower()
        if DOT_ATOM.fullmatch(inner):
            return inner
        return '"' + inner.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if not DOT_ATOM.fullmatch(local):
        raise RejectedInput(f"{raw!r} is not an email address")
    return local.lower()


def _scoped(channel: Channel, scope: str | None, value: str) -> str:
    if channel in GLOBAL_ID_CHANNELS:
        return f"{channel.value}:{value}"
    if not scope:
        raise RejectedInput(
            f"a {channel.value} address needs a scope (page, account, bot or site id)"
        )
    return f"{channel.value}:{scope.strip()}:{value}"


def normalize_address(
    channel: Channel, address: Address, default_region: str, channel_account: str | None = None
) -> str:
    """The normalized form of an address on ``channel``.

    ``channel_account`` is the scope used when the address carries none (an
    inbound message's business side).
    """
    value = address.value.strip()
    if not value:
        raise RejectedInput(f"an empty {channel.value} address")
    if channel is Channel.EMAIL:
        return normalize_email(value)
    scope = address.scope or channel_account
    if channel in PHONE_CHANNELS:
        phone = normalize_phone(value, default_region, international=channel is Channel.WHATSAPP)
        return f"tel:{phone}" if phone else _scoped(channel, scope, value)
    return _scoped(channel, scope, value)


def normalize_claimed(kind: str, value: str, default_region: str) -> str | None:
    """A weak claim (``email``/``phone`` typed by a customer) normalized, or None."""
    if kind == "email":
        try:
            return normalize_email(value)
        except RejectedInput:
            return None
    if kind == "phone":
        phone = normalize_phone(value, default_region)
        return f"tel:{phone}" if phone else None
    return None


def verified_address(identifier: str) -> str:
    """The address of a web-chat identity verified by the workspace's HMAC."""
    return f"verified:{identifier.strip()}"
