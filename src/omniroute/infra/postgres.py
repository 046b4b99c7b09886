"""PostgreSQL: the embedded server (pgserver) by default, any server by URL.

:func:`resolve_database_url` starts the embedded server under the state
directory when ``OMNIROUTE_DATABASE_URL`` is unset. :func:`connect` translates
connection failures into a :class:`DatabaseError` that says what to do.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from omniroute.errors import DatabaseError
from omniroute.settings import Settings

_embedded: dict[Path, Any] = {}

UNAVAILABLE = (
    OSError, asyncio.TimeoutError, DatabaseError, asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
    asyncpg.InternalClientError,
)
"""Errors that mean "the database is not there right now" (refused, reset, starting up,
shutting down, a connection lost): retry later, nothing about the request was wrong.
``InternalClientError`` ("cannot switch to state 12; another operation (2) is in
progress") is a pooled connection left mid-operation by a server that died: seen when
the embedded PostgreSQL was SIGKILLed under load, and answered 500 by the gateway."""


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``data_dir``; return its URL.

    The server keeps running while any process holds it and stops when the last
    one exits.
    """
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (it falls back to /tmp),
        # a stray line on every `omniroute up` outside a login session.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver

    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if data_dir not in _embedded:
        forget_dead_holders(data_dir)
        try:
            _embedded[data_dir] = pgserver.get_server(  # type: ignore[attr-defined]
                data_dir, cleanup_mode="stop"
            )
        except Exception as exc:
            raise DatabaseError(
                f"the embedded PostgreSQL in {data_dir} did not start: {exc}",
                hint="see the server log in that directory, or set OMNIROUTE_DATABASE_URL",
            ) from exc
    uri: str = _embedded[data_dir].get_uri()
    return uri


def forget_dead_holders(data_dir: Path) -> list[int]:
    """Drop the processes that died holding the embedded server in ``data_dir``; their pids.

    pgserver stops the server when the last process holding it exits, and counts the
    holders in ``.handle_pids.json``, from which each removes itself at exit. One that was
    SIGKILLed (or a machine that lost power) never does, and from then on no exit was the
    last: Ctrl-C of ``omniroute up`` left PostgreSQL running for good (user run 14, after
    every process of the stack was SIGKILLed once). Done under pgserver's own lock.
    """
    import psutil  # type: ignore[import-untyped]
    from pgserver.postgres_server import PostgresServer

    holders = data_dir / ".handle_pids.json"
    with PostgresServer._lock:
        try:
            pids = [int(pid) for pid in json.loads(holders.read_text())]
        except (OSError, ValueError, TypeError):  # none yet, or unreadable: pgserver's call
            return []
        dead = [pid for pid in pids if not _alive(psutil, pid)]
        if dead:
            holders.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    return dead


def _alive(psutil: Any, pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # not ours to ask: it holds the server as far as we know
        return True


def embedded_running(data_dir: Path) -> bool:
    """Whether the embedded server this process started in ``data_dir`` still runs."""
    server = _embedded.get(data_dir.resolve())
    if server is None:
        return False
    info = server.get_postmaster_info()
    return bool(info.is_running())


def restart_embedded(data_dir: Path) -> None:
    """Start the embedded server in ``data_dir`` again after it died (it recovers from its
    write-ahead log; a stale ``postmaster.pid`` is cleared by PostgreSQL)."""
    server = _embedded.get(data_dir.resolve())
    if server is None:
        start_embedded(data_dir)
        return
    try:
        server.ensure_postgres_running()
    except Exception as exc:
        raise DatabaseError(
            f"the embedded PostgreSQL in {data_dir} did not start again: {exc}",
            hint="see the server log in that directory",
        ) from exc


def resolve_database_url(settings: Settings) -> str:
    """The URL to connect to, starting the embedded server if none is configured."""
    if settings.database_url is not None:
        return settings.database_url
    return start_embedded(settings.state_dir / "postgres")


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.username or ''}@{host}{port}{parts.path}"


async def connect(url: str, timeout: float = 10.0) -> asyncpg.Connection:
    """Open one connection or raise a DatabaseError naming the server and the fix."""
    try:
        return await asyncpg.connect(url, timeout=timeout)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        reason = str(exc) or type(exc).__name__
        raise DatabaseError(
            f"cannot reach PostgreSQL at {describe(url)}: {reason}",
            hint="check OMNIROUTE_DATABASE_URL (or unset it to use the embedded server)",
        ) from exc


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 5,
                      timeout: float = 10.0) -> asyncpg.Pool:
    """A connection pool, failing like :func:`connect` when the server is unreachable."""
    try:
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size,
                                         timeout=timeout)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise DatabaseError(
            f"cannot reach PostgreSQL at {describe(url)}: {exc or type(exc).__name__}",
            hint="check OMNIROUTE_DATABASE_URL (or unset it to use the embedded server)",
        ) from exc
    assert pool is not None
    return pool
