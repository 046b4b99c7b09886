"""The state one ingress replica shares between its web chat routes and feeds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from omniroute.contract import utcnow
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings
from omniroute_connectors.webchat.history import Transcripts
from omniroute_connectors.webchat.hub import Hub
from omniroute_connectors.webchat.indicators import TypingSignal, publish_typing

log = get_logger(__name__)


class WebChat:
    """Sockets (the hub), transcripts and the typing producer of one replica."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hub = Hub()
        self.transcripts = Transcripts(settings.database_url) if settings.database_url else None
        self.typing_producer: AIOKafkaProducer | None = None

    @property
    def has_history(self) -> bool:
        """True once the transcript pool is open."""
        return self.transcripts is not None and self.transcripts.pool is not None

    async def history(self, address: str) -> list[dict[str, Any]]:
        """The visitor's latest messages, oldest first (empty without a database)."""
        if self.transcripts is None or self.transcripts.pool is None:
            return []
        return await self.transcripts.latest(
            self.settings.workspace, address, self.settings.webchat_history_limit
        )

    async def remember(self, address: str, frame: dict[str, Any],
                       at: datetime | None = None) -> None:
        """Append a message frame to the visitor's transcript (idempotent)."""
        if self.transcripts is not None and self.transcripts.pool is not None:
            await self.transcripts.append(self.settings.workspace, address, frame,
                                          at or utcnow())

    async def visitor_typing(self, address: str, state: bool,
                             conversation_id: str | None) -> None:
        """Publish a visitor's typing state (best effort: a lost indicator harms nobody)."""
        if self.typing_producer is None:
            return
        if conversation_id is None and self.transcripts is not None and self.has_history:
            try:
                conversation_id = await self.transcripts.conversation(self.settings.workspace,
                                                                      address)
            except (asyncpg.PostgresError, OSError):
                conversation_id = None
        signal = TypingSignal.visitor(self.settings.workspace, address, state, conversation_id)
        try:
            await publish_typing(self.typing_producer, self.settings, signal)
        except Exception as exc:  # any producer failure only loses an indicator
            log.warning("webchat_typing_unpublished", error=str(exc))

    def secret(self) -> str | None:
        """The identity verification secret, when configured."""
        secret = self.settings.webchat_identity_secret
        return secret.get_secret_value() if secret else None
