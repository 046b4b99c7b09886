"""The open web chat sockets of one replica, by visitor address, and agent availability."""

from __future__ import annotations

from typing import Any, Protocol

from omniroute.routing.stats import TRUSTED_S


class Socket(Protocol):
    """What the hub needs of a WebSocket."""

    async def send_json(self, data: Any) -> None:
        """Send one JSON frame."""


class Hub:
    """Sockets by visitor address (several tabs share an address)."""

    def __init__(self) -> None:
        self.sockets: dict[str, set[Socket]] = {}
        self.on_duty: dict[str, tuple[int, float]] = {}
        """Pool -> agents on duty as its router last published them, and when."""
        self._available = False

    @property
    def agents_available(self) -> bool:
        """True when a router published, within ``TRUSTED_S``, a pool with an agent on duty
        (available, not lost); the last answer while no router publishes."""
        return self._available

    def add(self, address: str, socket: Socket) -> None:
        """Register a visitor's socket."""
        self.sockets.setdefault(address, set()).add(socket)

    def remove(self, address: str, socket: Socket) -> None:
        """Forget a closed socket."""
        group = self.sockets.get(address)
        if group is not None:
            group.discard(socket)
            if not group:
                del self.sockets[address]

    async def push(self, address: str, frame: dict[str, Any], skip: Socket | None = None) -> int:
        """Send ``frame`` to every socket of ``address``; how many received it."""
        sent = 0
        for socket in list(self.sockets.get(address, ())):
            if socket is skip:
                continue
            try:
                await socket.send_json(frame)
                sent += 1
            except (ConnectionError, RuntimeError):
                self.remove(address, socket)
        return sent

    async def set_on_duty(self, pool: str, agents: int, published_at: float, now: float) -> None:
        """Record a router's count of ``pool``'s agents on duty; tell every visitor when
        availability flips. Pools not published for ``TRUSTED_S`` (retired, or moved to a
        router that has not published yet) do not count; with none fresh, nothing flips."""
        self.on_duty[pool] = (agents, published_at)
        fresh = [count for count, at in self.on_duty.values() if now - at <= TRUSTED_S]
        available = any(fresh) if fresh else self._available
        if available != self._available:
            self._available = available
            frame = {"type": "presence", "agents_available": available}
            for address in list(self.sockets):
                await self.push(address, frame)
