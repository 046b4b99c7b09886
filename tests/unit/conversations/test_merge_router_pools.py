"""A merge's requests through the router's own repartition and core (issue 11).

The worker's ``cancel`` and ``update`` must reach the pool where the work item
lives. Here the worker's RoutingRequests go through the router's
``translate_input`` (pool choice) and ``decide`` (the pool's state machine),
with pools chosen by channel rules, as ``omniroute router`` runs them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from omniroute.contract import Address, Channel, ConversationEvent, InboundMessage
from omniroute.contract import ConversationEventKind as Kind
from omniroute.conversations.merging import absorb, merge_away
from omniroute.conversations.state import CustomerState
from omniroute.conversations.threading import ThreadingPolicy, add_message, apply_router_event
from omniroute.routing.config import PoolRule, RoutingConfig
from omniroute.routing.engine import decide, new_pool
from omniroute.routing.events import Decision, SetPresence
from omniroute.routing.events import Kind as RouterKind
from omniroute.routing.policy import AgentCapacity, AgentProfile, PoolPolicy
from omniroute.routing.requests import RoutingRequest
from omniroute.routing.shell import translate_input
from omniroute.routing.state import PoolState
from omniroute.routing.wire import to_core
from omniroute.settings import Settings

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
SETTINGS = Settings()
CONFIG = RoutingConfig(
    pools={"email": {}, "sms": {}},
    rules=(PoolRule(pool="email", channel="email"), PoolRule(pool="sms", channel="sms")),
)


class Router:
    """The router's pools, fed the way its repartition and decide loops feed them."""

    def __init__(self, **agents: str) -> None:
        self.pools: dict[str, PoolState] = {}
        self.now = T0.timestamp()
        for pool in ("email", "sms"):
            profiles = tuple(AgentProfile(a, pool, AgentCapacity(1), {}, True)
                             for a, p in agents.items() if p == pool)
            self.pools[pool] = new_pool(PoolPolicy(pool=pool), profiles)
            for agent in (a for a, p in agents.items() if p == pool):
                self.tick()
                decide(self.pools[pool], SetPresence(at=self.now, event_id=f"on-{agent}",
                                                     agent_id=agent, presence="available"))

    def tick(self) -> float:
        self.now += 1
        return self.now

    def send(self, *requests: RoutingRequest) -> list[Decision]:
        made: list[Decision] = []
        for request in requests:
            record = SimpleNamespace(
                topic=SETTINGS.topic("omniroute.internal.routing-requests"),
                value=request.to_json_bytes(), key=request.conversation_id.encode(),
                partition=0, offset=0)
            for _topic, _key, value in translate_input(SETTINGS, CONFIG, record, self.tick()):
                pool, event = to_core(value)
                made.extend(decide(self.pools[pool], event)[1])
        return made

    def holding(self, conversation: str) -> set[str]:
        """The pools that hold a work item for ``conversation``."""
        return {name for name, state in self.pools.items() if conversation in state.work}


def message(event_id: str, channel: Channel, minute: int) -> InboundMessage:
    return InboundMessage(
        event_id=event_id, occurred_at=T0 + timedelta(minutes=minute), channel=channel,
        provider="p", channel_account="acct", sender=Address(value="x"),
        recipient=Address(value="acct"), provider_message_id=event_id, text="hi")


def write(router: Router, state: CustomerState, event_id: str, channel: Channel,
          minute: int) -> CustomerState:
    """The customer writes; the worker's requests go to the router, its news comes back."""
    out = add_message(state, message(event_id, channel, minute), ThreadingPolicy())
    state = out.state
    for decision in router.send(*out.requests):
        if decision.kind is RouterKind.ASSIGNED and state.current is not None:
            news = ConversationEvent(
                event_id=f"as-{event_id}", occurred_at=T0, conversation_id=decision.work_id or "",
                customer_id=state.customer_id, kind=Kind.ASSIGNED, agent_id=decision.agent_id,
                pool=decision.pool)
            state = apply_router_event(state, news).state
    return state


class TestCancelReachesTheWork:
    """No zombie work item, no capacity kept, in any pool."""

    def test_queued_conversation_that_changed_channel_is_cancelled_where_it_waits(self) -> None:
        """B waits in the email pool, then writes by SMS; folded into A, it leaves email."""
        router = Router()
        a = write(router, CustomerState(customer_id="cus_a", workspace="default"), "a1",
                  Channel.SMS, 0)
        b = write(router, CustomerState(customer_id="cus_b", workspace="default"), "b1",
                  Channel.EMAIL, 1)
        b = write(router, b, "b2", Channel.SMS, 2)
        assert b.current is not None and router.holding(b.current.id) == {"email"}
        _, handed = merge_away(b, "cus_a")
        router.send(*absorb(a, handed, None, {}, "m1", T0 + timedelta(hours=1)).requests)
        assert router.holding(b.current.id) == set(), "the folded work item is gone"

    def test_assigned_conversations_free_the_folded_agent_s_capacity(self) -> None:
        """A with ag-s (sms), B with ag-e (email): A keeps; ag-e is revoked and free again."""
        router = Router(**{"ag-s": "sms", "ag-e": "email"})
        a = write(router, CustomerState(customer_id="cus_a", workspace="default"), "a1",
                  Channel.SMS, 0)
        b = write(router, CustomerState(customer_id="cus_b", workspace="default"), "b1",
                  Channel.EMAIL, 1)
        b = write(router, b, "b2", Channel.SMS, 2)
        assert a.current is not None and b.current is not None
        assert (a.current.agent_id, b.current.agent_id) == ("ag-s", "ag-e")
        _, handed = merge_away(b, "cus_a")
        out = absorb(a, handed, None, {}, "m1", T0 + timedelta(hours=1))
        made = router.send(*out.requests)
        assert [(d.kind, d.agent_id) for d in made if d.kind is RouterKind.REVOKED] == [
            (RouterKind.REVOKED, "ag-e")]
        assert router.pools["email"].agents["ag-e"].load == 0
        assert router.pools["sms"].agents["ag-s"].load == 1
        assert router.holding(b.current.id) == set()
        assert out.state.current is not None and out.state.current.agent_id == "ag-s"
