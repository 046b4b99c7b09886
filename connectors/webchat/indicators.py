"""Typing indicators on ``omniroute.internal.typing`` (pure format + a producer function).

One JSON record per change of state, keyed by the conversation id (the visitor's
address when a visitor types before any conversation is known)::

    {"type": "typing", "workspace": "default", "conversation_id": "conv-1",
     "actor": "agent", "agent_id": "agent-7", "agent_name": "Sam",
     "visitor_address": null, "state": true, "at": "2025-01-01T12:00:00+00:00"}

``actor`` is ``agent`` (the gateway calls :func:`publish_typing` with
:meth:`TypingSignal.agent`; every web chat replica pushes a ``typing`` frame to
the visitor's sockets) or ``visitor`` (written by the replica holding the
visitor's socket, for agent consoles). The topic keeps records for a minute:
a typing indicator is worthless after that, and nobody replays it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from omniroute.contract import utcnow
from omniroute.settings import Settings

TYPING_TOPIC = "omniroute.internal.typing"
ACTORS = ("agent", "visitor")


@dataclass(frozen=True)
class TypingSignal:
    """Someone started (``state`` true) or stopped typing in a conversation."""

    workspace: str
    actor: str
    state: bool
    conversation_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    visitor_address: str | None = None
    at: str = ""

    @classmethod
    def agent(cls, workspace: str, conversation_id: str, agent_id: str, state: bool,
              agent_name: str | None = None) -> TypingSignal:
        """An agent's typing state in a conversation (what the gateway publishes)."""
        return cls(workspace, "agent", state, conversation_id, agent_id, agent_name,
                   at=utcnow().isoformat())

    @classmethod
    def visitor(cls, workspace: str, address: str, state: bool,
                conversation_id: str | None) -> TypingSignal:
        """A web chat visitor's typing state."""
        return cls(workspace, "visitor", state, conversation_id, visitor_address=address,
                   at=utcnow().isoformat())

    @property
    def key(self) -> bytes:
        """The Kafka key: the conversation id, else the visitor address."""
        return (self.conversation_id or self.visitor_address or self.workspace).encode()

    def to_json_bytes(self) -> bytes:
        """The record value."""
        return json.dumps({"type": "typing", **asdict(self)}).encode()

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> TypingSignal:
        """Parse a record value; ValueError naming the problem."""
        data: Any = json.loads(raw)
        if not isinstance(data, dict) or data.get("type") != "typing":
            raise ValueError("not a typing record")
        if data.get("actor") not in ACTORS or not isinstance(data.get("state"), bool):
            raise ValueError("typing record needs actor agent|visitor and a boolean state")
        fields: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)

    def visitor_frame(self) -> dict[str, Any]:
        """The frame a visitor's widget receives for an agent's typing."""
        return {"type": "typing", "state": self.state, "author": self.agent_name or ""}


class Producer(Protocol):
    """What :func:`publish_typing` needs: an AIOKafkaProducer fits."""

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None) -> Any:
        """Write one record and wait for the acknowledgement."""


async def publish_typing(producer: Producer, settings: Settings, signal: TypingSignal) -> None:
    """Write ``signal`` to the (namespaced) typing topic, keyed by conversation.

    The agent gateway calls this with ``TypingSignal.agent(workspace, conversation_id,
    agent_id, state)`` when an agent starts or stops typing.
    """
    await producer.send_and_wait(settings.topic(TYPING_TOPIC), signal.to_json_bytes(),
                                 key=signal.key)

