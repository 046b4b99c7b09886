"""Pool-state snapshots: bytes that bring a pool back to where its stream was.

A snapshot is the pickled :class:`~omniroute.routing.state.PoolState` (indexes,
timers and all) plus the pool-stream offset it reflects: the first offset *not*
yet folded into it. Restoring = load the latest snapshot, then fold the stream
from that offset. Because the core is deterministic, the result is the state the
full replay would have built, so the next decisions are the same.

The payload is pickle, compressed: it is written and read only by the router on
its own internal topic (``omniroute.internal.routing-snapshots``), which must be
writable by the router alone (pickle runs code on load). A ``format`` number
guards against loading a snapshot of an incompatible core: a mismatch is
treated as "no snapshot" and the stream is replayed from the beginning.
"""

from __future__ import annotations

import json
import pickle
import zlib
from dataclasses import dataclass

from omniroute.routing.state import PoolState

FORMAT = 1
MAX_BYTES = 7 * 1024 * 1024
"""Larger snapshots are skipped (restore then replays further back): below the
topic's ``max.message.bytes`` of 8 MiB."""


@dataclass(frozen=True)
class Snapshot:
    """One pool's state and the pool-stream offset it reflects."""

    pool: str
    offset: int
    state: PoolState


def dump(pool: str, offset: int, state: PoolState) -> bytes:
    """The snapshot record's value: a JSON header line, then the compressed state."""
    header = json.dumps({"format": FORMAT, "pool": pool, "offset": offset},
                        separators=(",", ":")).encode()
    body = zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 1)
    return header + b"\n" + body


def load(value: bytes) -> Snapshot | None:
    """A snapshot from its record value; None for another format or a damaged record."""
    try:
        header, _, body = value.partition(b"\n")
        meta = json.loads(header)
        if meta.get("format") != FORMAT:
            return None
        state = pickle.loads(zlib.decompress(body))  # router-only topic (see above)
    except (ValueError, zlib.error, pickle.UnpicklingError, EOFError, AttributeError,
            ImportError, TypeError):
        return None
    if not isinstance(state, PoolState):
        return None
    return Snapshot(str(meta["pool"]), int(meta["offset"]), state)
