"""Property-based fuzz of the web chat socket's frames (issue 16): a precise error or a
valid event, never another exception (which would close the visitor's socket).

Any bytes, and JSON objects built from the protocol's own field names with
values of every shape, go through the socket's path: ``parse_frame``, then
``open_session`` (the hello, with and without identity verification), then
``inbound_from_frame`` or ``receipt_statuses``. Each step either returns or
raises :class:`FrameError` with a code.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omniroute_connectors.webchat.protocol import (
    FrameError,
    inbound_from_frame,
    open_session,
    parse_frame,
    receipt_statuses,
)

EXAMPLES = int(os.environ.get("OMNIROUTE_FUZZ_EXAMPLES", "40")) * 5
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=os.environ.get("OMNIROUTE_FUZZ_RANDOM") is None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SECRET = "webchat-fuzz-secret-0123456789"
FIELDS = st.sampled_from([
    "type", "visitor_token", "identity_token", "identifier", "identifier_hash", "email",
    "name", "phone", "client_message_id", "text", "event_ids", "page", "locale"])
TYPES = st.sampled_from(["hello", "message", "offline_form", "read", "delivered", "typing",
                         "ping", "shout"])
LEAVES = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
          | st.text(max_size=60) | TYPES | st.sampled_from(["c1", "a@b.co", "x" * 300]))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
FRAMES = st.dictionaries(FIELDS, VALUES, max_size=7).flatmap(
    lambda frame: TYPES.map(lambda kind: {**frame, "type": frame.get("type", kind)}))


def through_the_socket(hello: str | bytes, then: str | bytes, secret: str | None) -> None:
    """What the socket handler does with a hello and one more frame; FrameError is fine."""
    try:
        visitor = open_session(parse_frame(hello), secret, "default")
        frame = parse_frame(then)
        if frame["type"] in ("message", "offline_form"):
            inbound_from_frame(frame, visitor, "default")
        elif frame["type"] in ("read", "delivered"):
            receipt_statuses(frame, visitor, "default", {"e1": "conv-1"})
    except FrameError as error:
        assert error.code and error.frame()["type"] == "error"


class TestFrames:
    """Any frame is answered with a precise error code or becomes a valid event."""

    @FUZZ
    @given(hello=FRAMES, then=FRAMES, verified=st.booleans())
    def test_json_frames_of_every_shape(self, hello: dict[str, object],
                                        then: dict[str, object], verified: bool) -> None:
        through_the_socket(json.dumps(hello), json.dumps(then), SECRET if verified else None)

    @FUZZ
    @given(hello=st.binary(max_size=300) | st.text(max_size=300),
           then=st.binary(max_size=300) | st.text(max_size=300))
    def test_any_bytes(self, hello: str | bytes, then: str | bytes) -> None:
        through_the_socket(hello, then, SECRET)
