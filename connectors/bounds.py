"""What every input and every event is bounded and cleaned to before it goes further (pure).

- :func:`load_json`: a provider's JSON body, refused with a precise
  :class:`~omniroute_connectors.base.BadRequest` when it is not JSON, nests
  deeper than :data:`MAX_JSON_DEPTH` (``too_deep``) or carries a number
  Python refuses to read; every string (and key) is cleaned by :func:`clean_text`.
- :func:`clean_text`: NUL characters removed (PostgreSQL refuses them in text)
  and lone surrogates (undecodable input) replaced by U+FFFD (they cannot be
  encoded as UTF-8, so they would fail later, far from the edge).
- :func:`fit_event`: an event cleaned the same way and bounded below Kafka's
  record limit. An InboundMessage over ``max_bytes`` is truncated, largest
  part first (``full_text``, then attachments and contacts from the end, then
  ``text``, then metadata), and flagged ``metadata["truncated"]`` naming what was cut,
  so the agent sees the message and knows it is not whole. An event that still
  does not fit is refused with :class:`EventTooLarge` (413 at the edge) before
  any producer sees it: a record the broker would refuse never abandons the
  shared producer, and no record between faust's and the broker's limits
  becomes a poison pill.
"""

from __future__ import annotations

import json
import re
from typing import Any

from omniroute.contract import InboundMessage
from omniroute_connectors.base import BadRequest, Event, PayloadTooLarge

MAX_JSON_DEPTH = 64
DEFAULT_MAX_EVENT_BYTES = 400_000
_SURROGATE = re.compile("[\ud800-\udfff]")
TRUNCATION_MARK = "\n[… truncated by omniroute: the message was too large]"


class EventTooLarge(PayloadTooLarge):
    """413: an event that cannot be bounded below the record limit, even truncated."""

    reason = "event_too_large"


def clean_text(text: str) -> str:
    """``text`` without NUL characters and with lone surrogates replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def clean_value(value: Any, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Every string of a JSON-like value cleaned; BadRequest when nested deeper than allowed.

    Iterative, so a hostile depth never reaches the interpreter's recursion limit.
    """
    root: list[Any] = [value]
    stack: list[tuple[Any, Any, int]] = [(root, 0, 0)]
    while stack:
        parent, key, depth = stack.pop()
        item = parent[key]
        if isinstance(item, str):
            parent[key] = clean_text(item)
        elif isinstance(item, (dict, list)):
            if depth >= max_depth:
                raise BadRequest(f"JSON nests deeper than {max_depth} levels", reason="too_deep")
            if isinstance(item, dict):
                if any(isinstance(k, str) and ("\x00" in k or _SURROGATE.search(k))
                       for k in item):
                    item = {clean_text(k): v for k, v in item.items()}
                    parent[key] = item
                stack.extend((item, k, depth + 1) for k in item)
            else:
                stack.extend((item, i, depth + 1) for i in range(len(item)))
    return root[0]


def load_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON body parsed and cleaned; BadRequest naming the problem."""
    try:
        value = json.loads(body)
    except RecursionError as exc:
        raise BadRequest(f"JSON nests deeper than {max_depth} levels", reason="too_deep") from exc
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", reason="invalid_json") from exc
    except ValueError as exc:  # JSONDecodeError, and integers over Python's digit limit
        raise BadRequest(f"body is not valid JSON: {exc}", reason="invalid_json") from exc
    return clean_value(value, max_depth)


def _size(event: Event) -> int:
    return len(event.to_json_bytes())


def clean_event(event: Event) -> Event:
    """``event`` with every string cleaned by :func:`clean_text` (the same object when clean)."""
    try:
        if b"\\u0000" not in event.to_json_bytes():
            return event
    except ValueError:  # a lone surrogate cannot be serialized as UTF-8
        pass
    cleaned = clean_value(event.model_dump(mode="json"), max_depth=1_000)
    return type(event).model_validate(cleaned)


def _shorten(message: InboundMessage, name: str, max_bytes: int,
             cut: list[str]) -> InboundMessage:
    """``message`` with its ``name`` text cut by what it is over ``max_bytes`` (and a mark)."""
    value = getattr(message, name)
    over = _size(message) - max_bytes
    if over <= 0 or not value:
        return message
    keep = max(0, len(value.encode()) - over - len(TRUNCATION_MARK.encode()) - 64)
    shorter = value.encode()[:keep].decode("utf-8", "ignore")
    cut.append(name)
    return message.model_copy(update={name: (shorter + TRUNCATION_MARK) if shorter or
                                      name == "text" else None})


def fit_event(event: Event, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> Event:
    """``event`` cleaned and bounded to ``max_bytes`` serialized (see the module docstring)."""
    return fit_record(event, max_bytes)[0]


def fit_record(event: Event, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> tuple[Event, bytes]:
    """:func:`fit_event` and the fitted event serialized: what a producer sends.

    An event clean and small enough (the common case) is serialized once, for the
    check and the record alike.
    """
    try:
        data = event.to_json_bytes()
        if b"\\u0000" not in data and len(data) <= max_bytes:
            return event, data
    except ValueError:  # a lone surrogate: cleaned below
        pass
    fitted = _fit(event, max_bytes)
    return fitted, fitted.to_json_bytes()


def _fit(event: Event, max_bytes: int) -> Event:
    """An event that is not clean or not small enough, cleaned and bounded."""
    event = clean_event(event)
    if _size(event) <= max_bytes:
        return event
    if not isinstance(event, InboundMessage):
        raise EventTooLarge(f"the event is {_size(event)} bytes; the limit is {max_bytes}")
    cut: list[str] = []
    message = _shorten(event, "full_text", max_bytes, cut)
    for name in ("attachments", "contacts"):
        items = list(getattr(message, name))
        while items and _size(message) > max_bytes:
            items.pop()
            message = message.model_copy(update={name: items})
            if name not in cut:
                cut.append(name)
    message = _shorten(message, "text", max_bytes, cut)
    if _size(message) > max_bytes and message.metadata:
        message = message.model_copy(update={"metadata": {}})
        cut.append("metadata")
    if cut:
        flagged = {**message.metadata, "truncated": ",".join(cut)}
        message = message.model_copy(update={"metadata": flagged})
    try:
        message = InboundMessage.model_validate(message.model_dump(mode="json"))
    except ValueError as exc:  # e.g. nothing left to show
        raise EventTooLarge(f"the message cannot be bounded to {max_bytes} bytes") from exc
    if _size(message) > max_bytes:
        raise EventTooLarge(f"the message is {_size(message)} bytes even truncated; the limit "
                            f"is {max_bytes}")
    return message
