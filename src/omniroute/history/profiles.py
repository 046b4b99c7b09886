"""Customer and address rows from what a batch knows about messages (pure; no database).

A customer is seen in the messages tied to them (``message_added`` gives the
customer id; the inbound message gives the sender's address and name) and in
their conversations. The sink folds each batch's sightings into one row per
customer and one per ``(customer, channel, address)``, then upserts them: first
seen is the earliest sighting, last seen the latest, a known name wins over none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from omniroute.history.projection import ConversationPatch, MessageRow

CustomerRow = tuple[str, str, str | None, datetime, datetime]
"""(customer_id, workspace, display_name, first_seen_at, last_seen_at)"""
AddressRow = tuple[str, str, str, str | None, datetime, datetime]
"""(customer_id, channel, address, display_name, first_seen_at, last_seen_at)"""


@dataclass
class _Seen:
    name: str | None
    first: datetime
    last: datetime


def _fold(rows: dict[tuple[str, ...], _Seen], key: tuple[str, ...], name: str | None,
          at: datetime) -> None:
    known = rows.get(key)
    if known is None:
        rows[key] = _Seen(name, at, at)
        return
    if name is not None and (known.name is None or name > known.name):
        known.name = name  # max(name), as SQL's max() would pick
    known.first = min(known.first, at)
    known.last = max(known.last, at)


def customer_rows(messages: Iterable[MessageRow],
                  patches: Iterable[ConversationPatch] = ()) -> list[CustomerRow]:
    """One row per customer the messages (with a customer id) and conversation patches name."""
    found: dict[tuple[str, ...], _Seen] = {}
    workspaces: dict[str, str] = {}
    for m in messages:
        if m.customer_id is not None:
            _fold(found, (m.customer_id,), m.sender_name, m.created_at)
            workspaces.setdefault(m.customer_id, m.workspace)
    for p in patches:
        _fold(found, (p.customer_id,), None, p.updated_at)
        workspaces.setdefault(p.customer_id, p.workspace)
    return [(k[0], workspaces[k[0]], v.name, v.first, v.last) for k, v in found.items()]


def address_rows(messages: Iterable[MessageRow]) -> list[AddressRow]:
    """One row per (customer, channel, address) a customer's inbound message came from."""
    found: dict[tuple[str, ...], _Seen] = {}
    for m in messages:
        if m.direction == "inbound" and m.customer_id is not None and m.sender is not None:
            _fold(found, (m.customer_id, m.channel, m.sender), m.sender_name, m.created_at)
    return [(k[0], k[1], k[2], v.name, v.first, v.last) for k, v in found.items()]
