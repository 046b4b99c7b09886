"""Identity agents: inbound → the address's home customer partition; claims → graph.

An address's *home* is the customer :func:`customer_id_for` derives from it.
Its record (de-duplication window, owner) lives on the home's partition of
``omniroute.internal.customers``, beside that customer's conversation state, so
an unlinked address (nearly every message) is de-duplicated, resolved and
threaded in one hop; only a linked address forwards to its owner's partition.

- ``identity.inbound`` (``omniroute.inbound.v1``): validate, normalize the sender,
  send an ``Observe`` keyed by the home (SMS and WhatsApp of one phone meet there).
- ``identity.links`` (``omniroute.identity-links.v1``): normalize CRM claims and
  send them to the workspace's graph partition.
- :meth:`IdentityProcessor.on_address` (called by the customers agent, see
  :mod:`.conversations`): drop provider retries within the window, look up the
  address's customer, forward a new verified-identity claim to the graph; apply
  reassignments from the graph.
- ``identity.graph`` (keyed by workspace): merge and split customers, then tell
  every moved address (at its home) its new owner, every merged-away
  customer its survivor, and every split customer who its addresses belong to
  now (its shared conversation is split by who wrote it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from omniroute.contract import (
    CustomerEvent,
    CustomerEventKind,
    IdentityLink,
    InboundMessage,
    LinkAction,
)
from omniroute.contract.topics import CUSTOMER_EVENTS, IDENTITY_LINKS, INBOUND
from omniroute.conversations.commands import (
    DetachCustomer,
    MergeCustomer,
    SplitCustomer,
    ThreadMessage,
)
from omniroute.conversations.state import derived_event_id
from omniroute.identity.addresses import normalize_address
from omniroute.identity.claims import claim_from_link, claim_from_verified
from omniroute.identity.commands import CLAIM, Observe, Reassign
from omniroute.identity.customers import AddressRecord, Verdict, address_key, customer_id_for
from omniroute.identity.graph import GraphChange, IdentityGraph
from omniroute.identity.mail_trust import trusted_address, weak_email_claim
from omniroute.observability.logs import get_logger
from omniroute.worker.app import Worker
from omniroute.worker.topology import CUSTOMERS, GRAPH

GRAPH_CHANGES = Counter(
    "omniroute_identity_graph_changes_total",
    "Identity claims applied, by result (linked, unlinked, conflict, weak, ignored).", ["result"],
)
MERGES = Counter("omniroute_identity_merges_total", "Customers merged into another.")
DUPLICATES = Counter("omniroute_identity_duplicates_total",
                     "Provider retries (an event id seen within the window) dropped.")

log = get_logger("omniroute.identity")


def record_time(event: Any) -> datetime:
    """The record's Kafka timestamp (stable across replays of the same record)."""
    return datetime.fromtimestamp(event.message.timestamp, UTC)


class IdentityProcessor:
    """The identity agents' handlers, bound to one worker and its tables."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.region = worker.settings.default_region
        self.window = timedelta(seconds=worker.settings.dedupe_window_seconds)
        self.addresses = worker.model_table("identity-addresses", AddressRecord)
        self.claims = worker.table("identity-claims")
        self.adjacency = worker.table("identity-adjacency")
        self.owners = worker.table("identity-owners")

    async def on_inbound(self, event: Any) -> str | None:
        """Validate and normalize an inbound message; send it to its address's home partition."""
        message = InboundMessage.from_json_bytes(event.value)
        address = normalize_address(
            message.channel, message.sender, self.region, message.channel_account
        )
        address = trusted_address(message, address)  # unauthenticated mail: weak, no merge
        claim = claim_from_verified(message, address, self.region) or weak_email_claim(
            message, address)
        observe = Observe(address=address, message=message, claim=claim)
        home = customer_id_for(message.workspace, address)
        await self.worker.send(CUSTOMERS, home, observe.model_dump_json().encode(),
                               message.channel.value)
        return str(message.channel.value)

    async def on_link(self, event: Any) -> None:
        """Normalize a CRM link or unlink claim and send it to the workspace's graph."""
        claim = claim_from_link(IdentityLink.from_json_bytes(event.value), self.region)
        await self.worker.send(GRAPH, claim.workspace, claim.model_dump_json().encode())

    async def on_address(self, command: Observe | Reassign, event: Any) -> ThreadMessage | None:
        """Apply an address command at the address's home partition.

        Returns the message to thread (for the address's current customer), or
        None when there is nothing to thread (a provider retry, a reassign).
        A new verified-identity claim the message carries goes to the graph.
        """
        if isinstance(command, Reassign):
            key = address_key(command.workspace, command.address)
            record = self.addresses.get(key) or AddressRecord()
            default = customer_id_for(command.workspace, command.address)
            owner = None if command.owner == default else command.owner
            self.addresses.set(key, record.model_copy(update={"owner": owner}))
            return None
        message = command.message
        key = address_key(message.workspace, command.address)
        record = self.addresses.get(key) or AddressRecord()
        record, verdict = record.observe(
            message.event_id, record_time(event), event.message.partition, event.message.offset,
            self.window,
        )
        if verdict is Verdict.DUPLICATE:
            DUPLICATES.inc()
            return None
        claim = command.claim
        if claim and (verdict is Verdict.REPLAY or claim.claim_id not in record.claims_sent):
            await self.worker.send(GRAPH, claim.workspace, claim.model_dump_json().encode())
            record = record.with_claim_sent(claim.claim_id)
        self.addresses.set(key, record)
        return ThreadMessage(workspace=message.workspace,
                             customer_id=record.customer(message.workspace, command.address),
                             address=command.address, message=message)

    async def on_claim(self, event: Any) -> None:
        """Apply a claim to the workspace's identity graph and announce what moved."""
        claim = CLAIM.validate_json(event.value)
        graph = IdentityGraph(claim.workspace, self.claims, self.adjacency, self.owners)
        change = graph.link(claim) if claim.action is LinkAction.LINK else graph.unlink(claim)
        GRAPH_CHANGES.labels(change.status).inc()
        if change.conflict:
            log.warning("identity_conflict", claim_id=claim.claim_id, source=claim.source,
                        reason=change.conflict)
        ws, at = claim.workspace, record_time(event)
        for address, owner in sorted(change.reassigned.items()):
            reassign = Reassign(workspace=ws, address=address, owner=owner,
                                event_id=derived_event_id(claim.event_id, "reassign"))
            await self.worker.send(CUSTOMERS, customer_id_for(ws, address),
                                   reassign.model_dump_json().encode())
        for loser, survivor in sorted(change.merged.items()):
            MERGES.inc()
            merge = MergeCustomer(workspace=ws, customer_id=loser, survivor=survivor, at=at,
                                  event_id=derived_event_id(claim.event_id, f"merge.{loser}"))
            await self.worker.send(CUSTOMERS, loser, merge.model_dump_json().encode())
        for customer in change.detached:
            detach = DetachCustomer(workspace=ws, customer_id=customer,
                                    event_id=derived_event_id(claim.event_id, "detach"))
            await self.worker.send(CUSTOMERS, customer, detach.model_dump_json().encode())
        for event in customer_events(change, graph, claim.event_id, at):
            await self.worker.send(CUSTOMER_EVENTS.name, event.customer_id, event.to_json_bytes())
        for customer, owners in sorted(splits(change, graph).items()):
            split = SplitCustomer(workspace=ws, customer_id=customer, owners=owners, at=at,
                                  event_id=derived_event_id(claim.event_id, f"split.{customer}"))
            await self.worker.send(CUSTOMERS, customer, split.model_dump_json().encode())


def customer_events(change: GraphChange, graph: IdentityGraph, claim_event_id: str,
                    at: datetime) -> list[CustomerEvent]:
    """Who each moved address's own customer id belongs to now (``omniroute.customers.v1``).

    Every customer id history holds is the own id (:func:`customer_id_for`) of one of its
    addresses, so one event per address whose owner changed says, without chains, which
    customer each id is part of: ``merged`` into the survivor, or ``unmerged`` when the
    address is its own customer again. Sent in the claim's transaction: a replay says the
    same under the same event ids.
    """
    events = []
    for address, before in sorted(change.before.items()):
        now = graph.owner(address)
        if now == before:
            continue
        own = customer_id_for(graph.workspace, address)
        merged = own != now
        kind = CustomerEventKind.MERGED if merged else CustomerEventKind.UNMERGED
        events.append(CustomerEvent(
            event_id=derived_event_id(claim_event_id, f"customer-{kind.value}.{own}"),
            workspace=graph.workspace, occurred_at=at, customer_id=own, kind=kind,
            merged_into=now if merged else None))
    return events


def splits(change: GraphChange, graph: IdentityGraph) -> dict[str, dict[str, str]]:
    """Customers whose addresses now belong to two or more customers → address → owner now
    (their shared conversation is split by who wrote it)."""
    groups: dict[str, dict[str, str]] = {}
    for address, before in change.before.items():
        groups.setdefault(before, {})[address] = graph.owner(address)
    return {customer: owners for customer, owners in groups.items()
            if len(set(owners.values())) > 1}


def register(worker: Worker) -> None:
    """Add the identity agents to the worker."""
    identity = IdentityProcessor(worker)
    worker.components["identity"] = identity
    worker.agent(INBOUND.name, "identity.inbound", identity.on_inbound, stage="identity")
    worker.agent(IDENTITY_LINKS.name, "identity.links", identity.on_link, stage="identity")
    worker.agent(GRAPH, "identity.graph", identity.on_claim, stage="identity")
