"""Later rounds for messages whose provider could not be reached.

Used by ``omniroute delivery`` and ``omniroute email-delivery``. A message whose
provider (an API, the SMTP relay) could not be reached after the process's own
retries is written to a retry topic (the outbound record's value; its round and
due time in the headers :data:`ROUND_HEADER` and :data:`DUE_HEADER`), and its
outbound offset is committed after that write, so the messages read after it go
on at once. The process reads the retry topic in its own group. A record not due
yet holds its partition (seek back, pause) until it is: rounds are a fixed
interval apart, so every later record of the partition is due later still. Each
round sends once; after ``delivery_retry_rounds`` rounds the message fails.

For a round's time after a provider (account) was found unreachable, a new
message to it waits its turn on the retry topic without an attempt: no time is
spent on a provider known to be down. And a message whose conversation has an
earlier message waiting for a round here waits behind it (also without an
attempt), however its own provider is doing: a message tried again in vain goes
to the end of the retry topic, after later messages of its conversation written
meanwhile, and user run 35 saw an agent's email reply reach the customer before
the acknowledgement that came first. The waiting messages are remembered by the
process (for as long as their rounds can last), and a process that is assigned
partitions of the retry topic reads what waits on them (from its group's committed
offset to the end) before it reads anything else, so after a restart or a rebalance a
new message still waits behind its conversation's earlier ones.

Every write for a round publishes a ``queued`` status on ``omniroute.delivery.v1`` (why
the message waits, and when it is tried next), so the agent sees that the reply has not
gone out yet; the next round's status, or the message's own, supersedes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import Counter

from omniroute.contract import DeliveryState, OutboundMessage
from omniroute.contract.topics import DELIVERY
from omniroute.delivery.sending import status
from omniroute.infra.topics import INTERNAL_TOPICS, create_topics
from omniroute.observability.logs import get_logger
from omniroute.settings import Settings

log = get_logger(__name__)
ROUND_HEADER = "omniroute-delivery-round"
DUE_HEADER = "omniroute-delivery-due"
"""Headers of a retry record: which round it is (1 the first one after the first try) and
when it is due (milliseconds since the epoch)."""
RECALL_SECONDS = 30.0
"""How long a process newly assigned retry partitions reads what waits on them, at most."""
DEFERRED = Counter(
    "omniroute_delivery_deferred_total",
    "Outbound messages whose provider could not be reached, written to the retry topic to "
    "be sent again later (one per message and round).",
    ["provider"],
)


def header(record: object, name: str) -> int | None:
    """The integer value of header ``name`` of a consumed ``record``, if it has one."""
    for key, value in getattr(record, "headers", None) or ():
        if key == name:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


class Rounds:
    """The retry topic ``name`` of one sending process (``consumer`` reads it in the
    process's group, ``producer`` writes it)."""

    def __init__(self, settings: Settings, name: str, consumer: AIOKafkaConsumer,
                 producer: AIOKafkaProducer, component: str) -> None:
        self.settings = settings
        self.name = name
        self.topic = settings.topic(name)
        self.consumer = consumer
        self.producer = producer
        self.component = component
        self.seconds = settings.delivery_retry_seconds
        self.rounds = settings.delivery_retry_rounds
        self._down: dict[Hashable, float] = {}
        """Provider (account) → until when (monotonic) a new message to it waits its turn
        without an attempt."""
        self._waiting: dict[str, dict[str, tuple[datetime, float]]] = {}
        """Conversation → its messages waiting for a round here: event id → (when the
        message was written, until when (monotonic) it is waited for, in case it is never
        seen again here)."""

    async def create(self) -> None:
        """Create the topic if it is missing (a deployment upgraded without ``omniroute
        topics create``)."""
        await create_topics(self.settings, [t for t in INTERNAL_TOPICS if t.name == self.name])

    def resends(self, tp: TopicPartition, record: object) -> int | None:
        """How often the message of ``record`` was tried again before (0 for an outbound
        record), or None when it is not due yet: its partition is then held until it is,
        and nothing after it is to be handled now."""
        if tp.topic != self.topic:
            return 0
        wait = (header(record, DUE_HEADER) or 0) / 1000 - time.time()
        if wait > 0:
            self.consumer.seek(tp, record.offset)  # type: ignore[attr-defined]
            self.consumer.pause(tp)
            asyncio.get_running_loop().call_later(wait, self._release, tp)
            return None
        return header(record, ROUND_HEADER) or 1

    def _release(self, tp: TopicPartition) -> None:
        if tp in self.consumer.assignment():  # (a partition revoked meanwhile is not ours)
            self.consumer.resume(tp)

    async def wait_turn(self, message: OutboundMessage, resends: int, account: Hashable,
                        provider: str) -> bool:
        """Whether ``message`` was written for a round without an attempt: an earlier message
        of its conversation waits here, or (a new message) ``account`` was found unreachable
        less than a round ago."""
        down = not resends and self._down.get(account, 0.0) > time.monotonic()
        if self.rounds > 0 and (down or self.behind(message)):
            why = (f"{provider} could not be reached less than {self.seconds:g} s ago" if down
                   else "an earlier message to this customer waits to be sent")
            await self.defer(message, max(resends, 1), provider, "waiting", why)
            return True
        return False

    async def tried(self, message: OutboundMessage, resends: int, account: Hashable,
                    provider: str, *, reached: bool, unreachable: bool,
                    code: str | None = None, why: str | None = None) -> bool:
        """Note what an attempt found (``reached``: the provider took the message;
        ``unreachable``: it could not be reached, ``code`` and ``why`` say how); whether
        ``message`` was written for a later round (it has one left)."""
        if reached:
            self._down.pop(account, None)
        elif unreachable:
            self._down[account] = time.monotonic() + self.seconds
            if resends < self.rounds:
                await self.defer(message, resends + 1, provider, code,
                                 why or f"{provider} could not be reached")
                return True
        return False

    def reason(self, text: str | None, resends: int) -> str:
        """The reason of a message failed after ``resends`` rounds: ``text`` and the rounds."""
        return f"{text}{self.spent(resends)}"[:2048]

    def behind(self, message: OutboundMessage) -> bool:
        """Whether an earlier message of ``message``'s conversation waits for a round here:
        then ``message`` waits behind it, so that the customer gets them in order."""
        waiting = self._waiting.get(message.conversation_id)
        if not waiting:
            return False
        now = time.monotonic()
        for event_id in [e for e, (_at, until) in waiting.items() if until < now]:
            del waiting[event_id]
        mine = (message.occurred_at, message.event_id)
        return any((at, event_id) < mine for event_id, (at, _until) in waiting.items())

    def settled(self, message: OutboundMessage) -> None:
        """``message`` was sent, or failed for good: nothing waits behind it any more."""
        waiting = self._waiting.get(message.conversation_id)
        if waiting is not None:
            waiting.pop(message.event_id, None)
            if not waiting:
                del self._waiting[message.conversation_id]

    def forget(self) -> None:
        """Partitions left this process: the messages it saw waiting may be another's now
        (whoever holds them keeps their order from the next one that waits)."""
        self._waiting.clear()

    async def recall(self, assigned: set[TopicPartition]) -> None:
        """Partitions of the retry topic came to this process (a restart, a rebalance):
        remember the messages that wait on them, as the process that wrote them did, so a
        new message of their conversations waits behind them (without this, a restart at
        the end of an outage let a new reply go out before the earlier one it follows).
        Read from the group's committed offset to the end, within :data:`RECALL_SECONDS`."""
        mine = [tp for tp in assigned if tp.topic == self.topic]
        if not mine or self.rounds <= 0:
            return
        ends = await self.consumer.end_offsets(mine)
        starts = {tp: await self.consumer.committed(tp) or 0 for tp in mine}
        waiting = [tp for tp in mine if starts[tp] < ends[tp]]
        if not waiting:
            return
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                  enable_auto_commit=False, auto_offset_reset="earliest")
        await reader.start()
        recalled = 0
        try:
            reader.assign(waiting)
            for tp in waiting:
                reader.seek(tp, starts[tp])
            deadline = time.monotonic() + RECALL_SECONDS
            while time.monotonic() < deadline and any(
                    [await reader.position(tp) < ends[tp] for tp in waiting]):
                for records in (await reader.getmany(timeout_ms=500)).values():
                    for record in records:
                        try:
                            self._remember(OutboundMessage.from_json_bytes(record.value))
                        except ValueError:
                            continue  # delivery dead-letters it when it reads it
                        recalled += 1
        finally:
            await reader.stop()
        log.info("delivery_rounds_recalled", component=self.component, messages=recalled,
                 partitions=sorted(tp.partition for tp in waiting))

    def _remember(self, message: OutboundMessage) -> None:
        """``message`` waits for a round here (for as long as its rounds can last)."""
        self._waiting.setdefault(message.conversation_id, {})[message.event_id] = (
            message.occurred_at, time.monotonic() + self.seconds * (self.rounds + 2))

    def spent(self, resends: int) -> str:
        """What a failed status's reason adds after its last round."""
        times = "once" if resends == 1 else f"{resends} times"
        return f" (tried again {times}, {self.seconds:g} s apart)" if resends else ""

    async def defer(self, message: OutboundMessage, resends: int, provider: str,
                    code: str | None, why: str) -> None:
        """Write ``message`` for round ``resends``, due a round from now, and its ``queued``
        status saying ``why`` (both acknowledged before this returns)."""
        due = int((time.time() + self.seconds) * 1000)
        at = datetime.fromtimestamp(due / 1000, UTC)
        queued = status(message, provider, DeliveryState.QUEUED, f"queued-{resends}",
                        error_code=code, error_message=f"{why}; next try at {at:%H:%M:%S} UTC "
                        f"(round {resends} of {self.rounds})")
        sent = [await self.producer.send(
                    self.topic, message.to_json_bytes(), key=message.conversation_id.encode(),
                    headers=[(ROUND_HEADER, str(resends).encode()),
                             (DUE_HEADER, str(due).encode())]),
                await self.producer.send(self.settings.topic(DELIVERY.name),
                                         queued.to_json_bytes(),
                                         key=queued.kafka_key.encode())]
        await asyncio.gather(*sent)
        self._remember(message)
        DEFERRED.labels(provider).inc()
        log.warning("delivery_deferred", component=self.component,
                    outbound_event_id=message.event_id, provider=provider, round=resends,
                    of=self.rounds, seconds=self.seconds)
