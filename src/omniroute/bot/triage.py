"""Intent and slots for the agent's view when nothing upstream triaged the conversation.

The conversations pipeline may triage every message (language, intent, slots,
sentiment) and put intent and language on the RoutingRequest; the bot uses
those when present. Otherwise :func:`triage` gives a small, explainable
reading: the intent is the knowledge-base category of the best-matching
article (``unknown`` without one) and the slots are what patterns find
(order numbers, emails, phones). Swap it by passing another function with the
same signature to the bot's shell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SLOTS = {
    "order_number": re.compile(
        r"(?:order|주문\s*번호|주문)\s*(?:number|no\.?|#)?\s*[:#]?\s*([A-Z]{0,4}-?\d{5,})",
        re.IGNORECASE),
    "email": re.compile(r"\b([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b"),
    "phone": re.compile(r"(\+?\d[\d -]{7,}\d)"),
}


def slots(texts: Iterable[str]) -> dict[str, str]:
    """Slot values found in the customer's messages (the latest value wins)."""
    found: dict[str, str] = {}
    for text in texts:
        for name, pattern in _SLOTS.items():
            match = pattern.search(text)
            if match:
                found[name] = match[1].strip()
    if "phone" in found and found["phone"].replace("-", "").replace(" ", "") in \
            found.get("order_number", "").replace("-", ""):
        del found["phone"]
    return found


def triage(texts: list[str], language: str, intent: str | None,
           category: str | None) -> dict[str, str]:
    """The triage the agent sees: language, intent and every slot (``slot.<name>``)."""
    result = {"language": language, "intent": intent or category or "unknown"}
    result.update({f"slot.{name}": value[:200] for name, value in slots(texts).items()})
    return result
