"""Address normalization: what providers send, turned into one comparable string.

A normalized address is ``kind:value``:

- ``tel:+821012345678``: any phone, on any channel (SMS, WhatsApp, a verified
  identity's phone). E.164 via phonenumbers; local numbers use the default
  region; ``whatsapp:``/``tel:``/``sms:`` prefixes are dropped; a WhatsApp
  ``wa_id`` (international digits without ``+``) gets its ``+``.
- ``mailto:jane@example.com``: an email, lower-cased, display name and
  whitespace stripped.
- ``messenger:{page}:{psid}``, ``instagram:{account}:{igsid}``,
  ``line:{channel}:{user}``, ``kakao:{bot}:{user key}``,
  ``webchat:{site}:{visitor token}``: ids only meaningful within a scope (the
  address's ``scope``, else the channel account). ``telegram:{user id}`` is
  global: Telegram user ids are the same for every bot.
- ``verified:{identifier}``: a web-chat identity the workspace verified (HMAC).

Phone-shaped senders that are not phone numbers (short codes, alphanumeric
sender ids) stay scoped to their channel account and never merge by phone.
"""

from __future__ import annotations

from email.utils import parseaddr

import phonenumbers

from omniroute.contract import Address, Channel
from omniroute.errors import RejectedInput

PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})
GLOBAL_ID_CHANNELS = frozenset({Channel.TELEGRAM})
PHONE_PREFIXES = ("whatsapp:", "tel:", "sms:", "mms:")


def normalize_phone(raw: str, default_region: str, *, international: bool = False) -> str | None:
    """E.164 of ``raw`` (``+821012345678``), or None when it is not a phone number.

    ``international`` says bare digits are already international (a WhatsApp
    wa_id), so ``821012345678`` means +82 rather than a local number.
    """
    value = raw.strip()
    for prefix in PHONE_PREFIXES:
        if value.lower().startswith(prefix):
            value = value[len(prefix):].strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits or any(ch.isalpha() for ch in value):
        return None
    if international and not value.startswith(("+", "00")):
        value = "+" + digits
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """``Jane <Jane@Example.COM >`` → ``jane@example.com``; RejectedInput if not an email."""
    _name, email = parseaddr(raw.strip())
    email = email.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in email):
        raise RejectedInput(f"{raw!r} is not an email address")
    return f"mailto:{email}"


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
