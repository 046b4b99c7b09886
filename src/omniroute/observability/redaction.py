"""Log lines never carry customers' addresses: a structlog processor that masks them.

Email addresses become ``<email>`` and phone numbers in E.164 form (``+`` and 8
to 15 digits, optionally ``whatsapp:``/``tel:`` prefixed) ``<phone>`` in every
string value of a log event (exception text included), so a provider's error
message quoting a recipient, or a library logging a failing address, does not
put personal data into the logs. Ids (event ids, conversation ids) are hashes
and pass unchanged.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
PHONE = re.compile(r"(?<![\w+])\+[1-9][0-9 ().-]{7,18}[0-9]")


def redact(text: str) -> str:
    """``text`` with email addresses and E.164 phone numbers masked."""
    if "@" in text:
        text = EMAIL.sub("<email>", text)
    if "+" in text:
        text = PHONE.sub("<phone>", text)
    return text


def redact_addresses(_logger: Any, _method: str,
                     event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: :func:`redact` every string value (not the keys)."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event
