"""The identity graph: link claims join addresses into customers; unlinks split them.

Addresses are nodes, strong claims are hyperedges. A customer is a connected
component, and its id is the smallest :func:`customer_id_for` of its
addresses: the same claims give the same customer ids whatever order they
arrived in, and an unlink gives back exactly the ids the addresses had before
the link.

The graph works on three mutable mappings so the stream shell can hand it
changelog-backed tables (values are always reassigned, never mutated in place):

- ``claims``: claim id → ``{"claim": ..., "status": linked|conflict|weak|unlinked}``
- ``adjacency``: address key → ids of the linked claims touching it
- ``owners``: address key → customer id, only where it differs from the default

Weak claims are recorded and never merge. A strong claim that shares an address
with a linked claim from the same source about another subject is a conflict:
recorded, flagged, not merged. Unlinking is sticky: a repeat of an unlinked
claim (same content) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from omniroute.identity.claims import Claim
from omniroute.identity.customers import address_key, customer_id_for


@dataclass
class GraphChange:
    """What a claim changed: addresses that moved, customers merged away or set free."""

    reassigned: dict[str, str] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    detached: list[str] = field(default_factory=list)
    conflict: str | None = None
    status: str = "ignored"


class IdentityGraph:
    """One workspace's identity graph over three mappings (see the module docstring)."""

    def __init__(
        self,
        workspace: str,
        claims: MutableMapping[str, Any],
        adjacency: MutableMapping[str, Any],
        owners: MutableMapping[str, Any],
    ) -> None:
        self.workspace = workspace
        self.claims = claims
        self.adjacency = adjacency
        self.owners = owners

    def owner(self, address: str) -> str:
        """The customer ``address`` belongs to now."""
        owner = self.owners.get(address_key(self.workspace, address))
        return str(owner) if owner else customer_id_for(self.workspace, address)

    def _edges(self, address: str) -> list[str]:
        return list(self.adjacency.get(address_key(self.workspace, address)) or [])

    def _members(self, claim_id: str) -> list[str]:
        return list(self.claims[claim_id]["claim"]["addresses"])

    def component(self, start: Iterable[str]) -> set[str]:
        """Every address connected to ``start`` by linked claims."""
        seen: set[str] = set()
        todo = list(start)
        while todo:
            address = todo.pop()
            if address in seen:
                continue
            seen.add(address)
            for claim_id in self._edges(address):
                todo.extend(self._members(claim_id))
        return seen

    def _conflict(self, claim: Claim) -> str | None:
        for address in claim.addresses:
            for claim_id in self._edges(address):
                other = self.claims[claim_id]["claim"]
                if other["source"] == claim.source and other["subject"] != claim.subject:
                    return (
                        f"{address} is already linked by {claim.source} to subject "
                        f"{other['subject']!r}, not {claim.subject!r}"
                    )
        return None

    def _record(self, claim: Claim, status: str, reason: str | None = None) -> None:
        self.claims[claim.claim_id] = {
            "claim": claim.model_dump(mode="json"), "status": status, "reason": reason,
        }

    def link(self, claim: Claim) -> GraphChange:
        """Apply a link claim; a strong, consistent one merges customers."""
        if claim.claim_id in self.claims:
            return GraphChange()
        if not claim.strong:
            self._record(claim, "weak")
            return GraphChange(status="weak")
        conflict = self._conflict(claim)
        if conflict:
            self._record(claim, "conflict", conflict)
            return GraphChange(conflict=conflict, status="conflict")
        before = {a: self.owner(a) for a in self.component(claim.addresses)}
        self._record(claim, "linked")
        for address in claim.addresses:
            key = address_key(self.workspace, address)
            self.adjacency[key] = sorted({*self._edges(address), claim.claim_id})
        change = self._settle(before | {a: self.owner(a) for a in claim.addresses})
        change.status = "linked"
        return change

    def unlink(self, claim: Claim) -> GraphChange:
        """Remove every linked claim joining two or more of ``claim.addresses``."""
        targets = set(claim.addresses)
        removed = sorted({
            claim_id
            for address in targets
            for claim_id in self._edges(address)
            if len(targets & set(self._members(claim_id))) >= 2
        })
        if not removed:
            return GraphChange()
        affected = {a for claim_id in removed for a in self._members(claim_id)}
        before = {a: self.owner(a) for a in self.component(affected)}
        for claim_id in removed:
            for address in self._members(claim_id):
                key = address_key(self.workspace, address)
                self.adjacency[key] = [c for c in self._edges(address) if c != claim_id]
            self.claims[claim_id] = {**self.claims[claim_id], "status": "unlinked"}
        change = self._settle(before)
        change.status = "unlinked"
        return change

    def _settle(self, before: dict[str, str]) -> GraphChange:
        """Recompute the components of ``before``'s addresses and say what moved."""
        change = GraphChange()
        survivors: dict[str, str] = {}
        pending = set(before)
        while pending:
            component = self.component([min(pending)])
            pending -= component
            survivor = min(customer_id_for(self.workspace, a) for a in component)
            for address in component:
                survivors[address] = survivor
                key = address_key(self.workspace, address)
                if survivor == customer_id_for(self.workspace, address):
                    self.owners.pop(key, None)
                else:
                    self.owners[key] = survivor
                if before.get(address, survivor) != survivor:
                    change.reassigned[address] = survivor
        old, new = set(before.values()), set(survivors.values())
        for address, owner in before.items():
            if owner not in new:
                change.merged[owner] = survivors[address]
        change.detached = sorted(new - old)
        return change
