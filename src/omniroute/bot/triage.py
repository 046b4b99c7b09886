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

from collections.abc import Iterable

from omniroute.triage.slots import extract_slots


def slots(texts: Iterable[str]) -> dict[str, str]:
    """Slot values found in the customer's messages (the latest value wins), by the same
    patterns automation uses (:func:`omniroute.triage.slots.extract_slots`; the bot had
    its own, which wanted the word "order" and five digits)."""
    found: dict[str, str] = {}
    for text in texts:
        found.update(extract_slots(text))
    return found


def triage(texts: list[str], language: str, intent: str | None,
           category: str | None) -> dict[str, str]:
    """The triage the agent sees: language, intent and every slot (``slot.<name>``)."""
    result = {"language": language, "intent": intent or category or "unknown"}
    result.update({f"slot.{name}": value[:200] for name, value in slots(texts).items()})
    return result
