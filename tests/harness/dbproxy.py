"""A TCP proxy in front of the test PostgreSQL that a test can cut: a database outage.

``cut()`` closes the listener and resets every proxied connection, so clients see
what they see when the server goes away (connections reset, new ones refused);
``restore()`` listens again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit, urlunsplit

from harness.ports import free_port


class DatabaseProxy:
    """Forwards 127.0.0.1:``port`` to the server of ``url`` (TCP or Unix socket)."""

    def __init__(self, url: str) -> None:
        self.target = url
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """``url`` through the proxy (same user and database, no socket directory)."""
        parts = urlsplit(self.target)
        user = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
        return urlunsplit((parts.scheme, f"{user}@127.0.0.1:{self.port}", parts.path, "", ""))

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        parts = urlsplit(self.target)
        socket_dir = parse_qs(parts.query).get("host", [""])[0]
        port = parts.port or 5432
        if socket_dir.startswith("/"):
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{port}")
        return await asyncio.open_connection(parts.hostname or "127.0.0.1", port)

    async def start(self) -> None:
        """Listen (again) on the proxy's port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._open()
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def cut(self) -> None:
        """The database goes away: stop listening and reset every connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        """Close everything."""
        await self.cut()
