"""Helpers every provider mapping shares (pure): event ids, timestamps, status ranking."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from omniroute.contract import DeliveryState
from omniroute_connectors.base import BadRequest

_EVENT_ID_SAFE = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,150}$")


def event_id(provider: str, *parts: str) -> str:
    """A deterministic event id from the provider's idempotency key.

    Keys that fit the contract's id alphabet are kept readable
    (``whatsapp:wamid.HBgL...``); others are hashed so the id stays valid.
    """
    key = ":".join(parts)
    if _EVENT_ID_SAFE.match(key):
        return f"{provider}:{key}"
    return f"{provider}:h:{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def from_epoch_seconds(value: Any) -> datetime | None:
    """A UTC datetime from seconds since the epoch (int or numeric string)."""
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequest(f"timestamp {value!r} is not seconds since the epoch") from exc


def from_epoch_millis(value: Any) -> datetime | None:
    """A UTC datetime from milliseconds since the epoch."""
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequest(f"timestamp {value!r} is not milliseconds since the epoch") from exc


def require(obj: Mapping[str, Any], key: str, where: str) -> Any:
    """``obj[key]``, or a BadRequest naming the missing field and where it was expected."""
    if not isinstance(obj, Mapping):
        raise BadRequest(f"{where} must be a JSON object", reason="malformed_body")
    value = obj.get(key)
    if value is None or value == "":
        raise BadRequest(f"{where}.{key} is required", reason="missing_field")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    """``value`` if it is a list (None → empty), else a BadRequest naming ``where``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"{where} must be a JSON array", reason="malformed_body")
    return value


def merge_state(current: DeliveryState | None, incoming: DeliveryState) -> DeliveryState:
    """Order-independent merge: the higher-ranked state wins (``read`` beats a late
    ``delivered``; ``failed`` is terminal)."""
    if current is None or incoming.rank > current.rank:
        return incoming
    return current
