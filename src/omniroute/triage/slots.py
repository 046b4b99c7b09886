"""Slots: what the customer already told us (order numbers, emails, phones).

Pure regular expressions over the message text. Automation reads them so it
never asks for what the customer already gave; agents see them on handoff.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(
    r"(?<![\w-])(?:\+\d{1,3}[ -]?)?(?:0\d{1,2}|\(\d{2,3}\)|\d{2,3})[ -]?\d{3,4}[ -]?\d{4}(?![\w-])"
)
ORDER = re.compile(  # "package"/"parcel"/"shipment" too: a user run's "My package 7781 is late"
    r"(?:\b(?:order|package|parcel|shipment)(?:\s*(?:no\.?|number|id))?|주문\s*번호|주문)\s*[:#]?\s*"
    r"((?:[A-Za-z]{1,4}-)?\d[\w-]{3,23})",
    re.IGNORECASE,
)
ORDER_TOKEN = re.compile(r"(?<![\w@])(?:[A-Z]{1,4}-\d{4,20}|#\d{5,20})(?![\w@])")


def extract_slots(text: str) -> dict[str, str]:
    """``order_number``, ``email``, ``phone`` found in ``text`` (first of each)."""
    slots: dict[str, str] = {}
    email = EMAIL.search(text)
    if email:
        slots["email"] = email.group(0)
    without_email = EMAIL.sub(" ", text)
    order = ORDER.search(without_email) or ORDER_TOKEN.search(without_email)
    if order:
        value = order.group(1) if order.re is ORDER else order.group(0)
        slots["order_number"] = value.lstrip("#")
    rest = without_email.replace(order.group(0), " ") if order else without_email
    phone = PHONE.search(rest)
    if phone:
        slots["phone"] = re.sub(r"[^\d+]", "", phone.group(0))
    return slots
