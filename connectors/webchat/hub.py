"""The open web chat sockets of one replica, by visitor address, and agent availability."""

from __future__ import annotations

from typing import Any, Protocol


class Socket(Protocol):
    """What the hub needs of a WebSocket."""

    async def send_json(self, data: Any) -> None:
        """Send one JSON frame."""


class Hub:
    """Sockets by visitor address (several tabs share an address)."""

    def __init__(self) -> None:
        self.sockets: dict[str, set[Socket]] = {}
        self.presence: dict[str, str] = {}

    @property
    def agents_available(self) -> bool:
        """True when at least one agent's latest presence is ``available``."""
        return any(state == "available" for state in self.presence.values())

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

    async def set_presence(self, agent_id: str, state: str) -> None:
        """Record an agent's presence; tell every visitor when availability flips."""
        before = self.agents_available
        self.presence[agent_id] = state
        if self.agents_available != before:
            frame = {"type": "presence", "agents_available": self.agents_available}
            for address in list(self.sockets):
                await self.push(address, frame)
