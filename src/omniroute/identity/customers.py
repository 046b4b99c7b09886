"""Stable customer ids, and what identity remembers about one address.

An address nobody linked belongs to the customer :func:`customer_id_for`
derives from it: the same address always gives the same customer, on every
worker, after every restart, with no lookup. Only addresses that a link moved
to another customer carry an ``owner`` in their :class:`AddressRecord`.

The record also remembers recent ``event_id`` values for the de-duplication
window: a provider retry (same event id, a different record on the topic) is
dropped, while a replay of the *same* record after a crash (same partition and
offset) is processed again, so a worker killed between writing its state and
committing its offset still emits what it owes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

CUSTOMER_PREFIX = "cus_"
MAX_SEEN = 200
"""Event ids remembered per address: bounds the record a chatty sender rewrites per message."""


DEVELOPMENT_IDENTITY_KEY = "omniroute-development-identity-key"
CUSTOMER_ID_CACHE = 1 << 14
"""Customer ids remembered per process (an HMAC costs about 4 us; a hit, a tenth of that)."""


@functools.cache
def _identity_key() -> bytes:
    """``OMNIROUTE_IDENTITY_KEY`` (validated, and refused as the default in production, by
    :class:`~omniroute.settings.Settings` at start-up), read once per process."""
    return os.environ.get("OMNIROUTE_IDENTITY_KEY", DEVELOPMENT_IDENTITY_KEY).encode()


def customer_id_for(workspace: str, address: str, key: bytes | None = None) -> str:
    """The customer an unlinked normalized ``address`` belongs to.

    A keyed hash (HMAC-SHA256 with ``OMNIROUTE_IDENTITY_KEY``): without the key
    an id cannot be reversed to its address by trying every phone number.
    Recent answers are cached (each message asks twice, a chatty sender often).
    """
    return _keyed_id(key if key is not None else _identity_key(), workspace, address)


@functools.lru_cache(maxsize=CUSTOMER_ID_CACHE)
def _keyed_id(key: bytes, workspace: str, address: str) -> str:
    digest = hmac.new(key, f"{workspace}\n{address}".encode(), hashlib.sha256).hexdigest()
    return f"{CUSTOMER_PREFIX}{digest[:24]}"


def address_key(workspace: str, address: str) -> str:
    """The key of an address on internal topics and tables: ``{workspace}/{address}``."""
    return f"{workspace}/{address}"


class Seen(BaseModel):
    """Where and when an event id was first seen."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    partition: int
    offset: int


class Verdict(StrEnum):
    """What to do with an observed message."""

    NEW = "new"
    REPLAY = "replay"
    DUPLICATE = "duplicate"


class AddressRecord(BaseModel):
    """Identity's memory of one normalized address."""

    owner: str | None = None
    seen: dict[str, Seen] = Field(default_factory=dict)
    claims_sent: list[str] = Field(default_factory=list)

    def customer(self, workspace: str, address: str) -> str:
        """The customer this address belongs to now."""
        return self.owner or customer_id_for(workspace, address)

    def observe(
        self, event_id: str, at: datetime, partition: int, offset: int, window: timedelta
    ) -> tuple[AddressRecord, Verdict]:
        """Record a message; say whether it is new, a crash replay or a provider retry.

        Entries older than ``window`` (relative to ``at``) are forgotten, and at
        most :data:`MAX_SEEN` recent ones are kept, so a sender that writes
        hundreds of messages inside the window keeps a bounded record (a retry
        arriving after :data:`MAX_SEEN` newer messages from the same sender is
        no longer recognized).
        """
        first = self.seen.get(event_id)
        if first is not None and at - first.at <= window:
            same = (first.partition, first.offset) == (partition, offset)
            return self, Verdict.REPLAY if same else Verdict.DUPLICATE
        since = at - window  # at - v.at <= window, one subtraction for all
        recent = [(k, v) for k, v in self.seen.items() if v.at >= since]
        kept = dict(recent[-(MAX_SEEN - 1):])
        kept[event_id] = Seen(at=at, partition=partition, offset=offset)
        return self.model_copy(update={"seen": kept}), Verdict.NEW

    def with_claim_sent(self, claim_id: str, keep: int = 20) -> AddressRecord:
        """Remember that a link claim from this address went to the identity graph."""
        sent = [*[c for c in self.claims_sent if c != claim_id][-(keep - 1):], claim_id]
        return self.model_copy(update={"claims_sent": sent})
