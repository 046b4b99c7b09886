"""Snapshot rounds encoded off the decide loop, in a forked child process.

Encoding a pool of 100,000 agents takes seconds of CPU (JSON + zlib); done in the
decide loop it stalls every decision of the process for that long. A thread would
not help: the C JSON encoder holds the GIL until it is done. Instead the loop forks:
the child is an instant, immutable, copy-on-write image of the partition's pools at
the round's offset; it encodes them with :func:`omniroute.routing.snapshot.dump_parts`
(the one encoding; readers are unchanged) and streams the records back through a
pipe, read by a thread. The loop only pays for the ``fork`` itself (page tables) and
goes on deciding; the round is published in the partition's next transaction after it
is ready (its records carry their own offset, below what that transaction commits).
Where ``fork`` is unavailable the round is encoded in place, as before.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
from dataclasses import dataclass

from omniroute.observability.logs import get_logger
from omniroute.routing import snapshot
from omniroute.routing.state import PoolState

log = get_logger("omniroute.router")
FRAME = struct.Struct(">II")
Parts = list[tuple[bytes, bytes]]
"""A round's records: (key ``pool#part``, value)."""


def encode(pools: dict[str, PoolState], offset: int) -> Parts:
    """Every pool's snapshot records at ``offset`` (all or none make a round)."""
    return [(f"{pool}#{n}".encode(), value)
            for pool, state in sorted(pools.items())
            for n, value in enumerate(snapshot.dump_parts(pool, offset, state))]


def _child(fd: int, pools: dict[str, PoolState], offset: int) -> None:
    """In the forked child: encode, write frames, exit without running any cleanup."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)  # the parent's event loop must not see our signals
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        with os.fdopen(fd, "wb", buffering=1 << 20) as pipe:
            for key, value in encode(pools, offset):
                pipe.write(FRAME.pack(len(key), len(value)) + key + value)
        code = 0
    finally:
        os._exit(code)


def _collect(fd: int, pid: int) -> Parts | None:
    """In a thread: read the child's frames to the end and reap it (None: it failed)."""
    with os.fdopen(fd, "rb", buffering=1 << 20) as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    parts: Parts = []
    at = 0
    while at < len(data):
        klen, vlen = FRAME.unpack_from(data, at)
        at += FRAME.size
        parts.append((data[at:at + klen], data[at + klen:at + klen + vlen]))
        at += klen + vlen
    return parts


@dataclass
class Round:
    """A snapshot round under way: the pool-stream offset it reflects and its encoding."""

    offset: int
    task: asyncio.Future[Parts | None]


def begin(pools: dict[str, PoolState], offset: int) -> Round:
    """Start encoding ``pools`` as they are now (the caller keeps mutating them)."""
    loop = asyncio.get_running_loop()
    try:
        read, write = os.pipe()
        pid = os.fork()
    except OSError as exc:  # no fork here: encode in place (blocks the loop, as before)
        log.warning("router.snapshot_inline", error=repr(exc))
        done: asyncio.Future[Parts | None] = loop.create_future()
        done.set_result(encode(pools, offset))
        return Round(offset, asyncio.ensure_future(done))
    if pid == 0:  # pragma: no cover (the child never returns)
        os.close(read)
        _child(write, pools, offset)
    os.close(write)
    return Round(offset, asyncio.ensure_future(asyncio.to_thread(_collect, read, pid)))
