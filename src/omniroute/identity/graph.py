"""The identity graph: link claims join addresses into customers; unlinks split them.

Addresses are nodes, strong claims are hyperedges. A customer is a connected
component, and its id is the smallest :func:`customer_id_for` of its
addresses: the same claims give the same customer ids whatever order they
arrived in, and an unlink gives back exactly the ids the addresses had before
the link.

The graph works on three mutable mappings so the stream shell can hand it
changelog-backed tables (values are always reassigned, never mutated in place):

- ``claims``: claim id → ``{"claim", "status": linked|conflict|weak|unlinked,
  "members": the addresses it links, "refused": the ones it could not}``, and
  ``unlink:{claim id}`` → an unlink's tombstone (the unlink claim, its time)
- ``adjacency``: address key → ids of the linked claims touching it, and
  ``pending:{address key}`` → claims to look at again when that address changes
  (conflicting or partly refused claims, unlink tombstones)
- ``owners``: address key → customer id, only where it differs from the default

Rules:

- **Weak** claims are recorded and never merge; the same statement arriving
  later as strong evidence (same content, same claim id) is applied.
- **One source, one subject per customer.** An address whose customer already
  carries another subject of the claim's source (a CRM's person 42, the claim
  says 43) is *refused* and the rest of the claim links: a shared switchboard
  number refuses only itself. A claim whose addresses would join two customers
  that one source (any source) keeps apart is a **conflict** as a whole.
- A conflicting or partly refused claim is **re-evaluated** when an unlink
  changes one of its addresses, and when it is sent again.
- **Unlink vs link by** ``occurred_at``: an unlink removes the links that
  happened before it and leaves a tombstone, so a link that happened earlier
  but arrives later stays undone; a link that happened after the unlink links.
  Unlinking is sticky: a repeat of an unlinked claim (same content) changes
  nothing.
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
    refused: list[str] = field(default_factory=list)
    status: str = "ignored"
    before: dict[str, str] = field(default_factory=dict)
    """Every address the change looked at → its customer before the change."""


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

    def _pending(self, address: str) -> list[str]:
        return list(self.adjacency.get("pending:" + address_key(self.workspace, address)) or [])

    def _set_pending(self, claim_id: str, addresses: Iterable[str], on: bool) -> None:
        for address in addresses:
            key = "pending:" + address_key(self.workspace, address)
            ids = {*self._pending(address)} - {claim_id} | ({claim_id} if on else set())
            if ids:
                self.adjacency[key] = sorted(ids)
            else:
                self.adjacency.pop(key, None)

    def _members(self, claim_id: str) -> list[str]:
        record = self.claims[claim_id]
        return list(record.get("members", record["claim"]["addresses"]))

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

    def _subjects(self, addresses: Iterable[str]) -> dict[str, set[str]]:
        """Source → the subjects its linked claims give the customers of ``addresses``."""
        found: dict[str, set[str]] = {}
        for address in self.component(addresses):
            for claim_id in self._edges(address):
                other = self.claims[claim_id]["claim"]
                found.setdefault(other["source"], set()).add(other["subject"])
        return found

    def _admit(self, claim: Claim) -> tuple[list[str], list[str], str | None]:
        """Which addresses of ``claim`` may link (kept, refused) and why not all."""
        refused, reason = [], None
        for address in claim.addresses:
            others = self._subjects([address]).get(claim.source, set()) - {claim.subject}
            if others:
                refused.append(address)
                reason = (f"{address} is already linked by {claim.source} to subject "
                          f"{sorted(others)[0]!r}, not {claim.subject!r}")
        kept = [a for a in claim.addresses if a not in refused]
        subjects = self._subjects(kept)
        subjects.setdefault(claim.source, set()).add(claim.subject)
        split = sorted(source for source, names in subjects.items() if len(names) > 1)
        if kept and split:
            names = sorted(subjects[split[0]])
            return [], list(claim.addresses), (
                f"the claim would join customers that {split[0]} keeps apart "
                f"(subjects {names[0]!r} and {names[1]!r})")
        return kept, refused, reason

    def _tombstone(self, claim: Claim) -> Claim | None:
        """An unlink that happened after ``claim`` and separates two of its addresses."""
        targets = set(claim.addresses)
        for address in claim.addresses:
            for key in self._pending(address):
                record = self.claims.get(key) if key.startswith("unlink:") else None
                if record is None:
                    continue
                unlink = Claim.model_validate(record["claim"])
                if len(targets & set(unlink.addresses)) >= 2 and _before(claim, unlink):
                    return unlink
        return None

    def _record(self, claim: Claim, status: str, reason: str | None = None,
                members: list[str] | None = None, refused: list[str] | None = None) -> None:
        self.claims[claim.claim_id] = {
            "claim": claim.model_dump(mode="json"), "status": status, "reason": reason,
            "members": members or [], "refused": refused or [],
        }

    def _unhook(self, claim_id: str) -> None:
        """Remove a claim's edges (before it is evaluated again or unlinked)."""
        for address in self._members(claim_id):
            key = address_key(self.workspace, address)
            edges = [c for c in self._edges(address) if c != claim_id]
            if edges:
                self.adjacency[key] = edges
            else:
                self.adjacency.pop(key, None)

    def _apply(self, claim: Claim) -> GraphChange:
        """Evaluate a strong link claim against the graph (no settling)."""
        if claim.claim_id in self.claims:
            self._unhook(claim.claim_id)
        kept, refused, reason = self._admit(claim)
        if len(kept) < 2 and refused:
            self._record(claim, "conflict", reason, kept, refused)
            self._set_pending(claim.claim_id, claim.addresses, True)
            return GraphChange(conflict=reason, refused=refused, status="conflict")
        self._record(claim, "linked", reason, kept, refused)
        self._set_pending(claim.claim_id, claim.addresses, bool(refused))
        for address in kept:
            key = address_key(self.workspace, address)
            self.adjacency[key] = sorted({*self._edges(address), claim.claim_id})
        return GraphChange(conflict=reason, refused=refused, status="linked")

    def link(self, claim: Claim) -> GraphChange:
        """Apply a link claim; a strong, consistent one merges customers."""
        known = self.claims.get(claim.claim_id)
        if known is not None and not _worth_another_look(known, claim):
            return GraphChange()
        if not claim.strong:
            self._record(claim, "weak")
            return GraphChange(status="weak")
        unlink = self._tombstone(claim)
        if unlink is not None:
            self._record(claim, "unlinked", f"undone by the unlink of {unlink.occurred_at}")
            return GraphChange(status="unlinked")
        touched = {*claim.addresses, *(known or {}).get("members", [])}
        before = {a: self.owner(a) for a in self.component(touched)}
        applied = self._apply(claim)
        change = self._settle(before | {a: self.owner(a) for a in claim.addresses})
        change.conflict, change.refused, change.status = (
            applied.conflict, applied.refused, applied.status)
        return change

    def unlink(self, claim: Claim) -> GraphChange:
        """Remove every linked claim that joins two or more of ``claim.addresses`` and
        happened before the unlink; remember the unlink; look again at pending claims."""
        targets = set(claim.addresses)
        tombstone = self.claims.get("unlink:" + claim.claim_id)
        if tombstone is None or _before(Claim.model_validate(tombstone["claim"]), claim):
            self.claims["unlink:" + claim.claim_id] = {"claim": claim.model_dump(mode="json"),
                                                       "status": "unlink"}
        self._set_pending("unlink:" + claim.claim_id, claim.addresses, True)
        removed = sorted({
            claim_id
            for address in targets
            for claim_id in self._edges(address)
            if len(targets & set(self._members(claim_id))) >= 2
            and _before(Claim.model_validate(self.claims[claim_id]["claim"]), claim)
        })
        if not removed:
            return GraphChange()
        affected = self.component({a for claim_id in removed for a in self._members(claim_id)})
        pending = sorted({c for a in affected for c in self._pending(a)
                          if not c.startswith("unlink:") and c not in removed})
        waiting = [Claim.model_validate(self.claims[c]["claim"]) for c in pending]
        start = affected | {a for c in waiting for a in c.addresses}
        before = {a: self.owner(a) for a in self.component(start)}
        for claim_id in removed:
            self._unhook(claim_id)
            self.claims[claim_id] = {**self.claims[claim_id], "status": "unlinked"}
            self._set_pending(claim_id, self.claims[claim_id]["claim"]["addresses"], False)
        for waiting_claim in waiting:
            self._apply(waiting_claim)
        change = self._settle(before)
        change.status = "unlinked"
        return change

    def _settle(self, before: dict[str, str]) -> GraphChange:
        """Recompute the components of ``before``'s addresses and say what moved."""
        change = GraphChange(before=dict(before))
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


def _before(link: Claim, unlink: Claim) -> bool:
    """The link happened no later than the unlink (an unknown time counts as earlier)."""
    if link.occurred_at is None or unlink.occurred_at is None:
        return True
    return link.occurred_at <= unlink.occurred_at


def _worth_another_look(known: dict[str, Any], claim: Claim) -> bool:
    """A known claim is applied again when it was weak and is now strong, or when it
    was (partly) refused: the graph may have changed since."""
    status = known["status"]
    if status == "weak":
        return claim.strong
    return status == "conflict" or (status == "linked" and bool(known.get("refused")))
