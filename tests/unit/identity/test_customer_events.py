"""What the worker tells history about who each customer id is (omniroute.customers.v1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from omniroute.contract import CustomerEvent, CustomerEventKind, LinkAction
from omniroute.identity.claims import Claim
from omniroute.identity.customers import customer_id_for
from omniroute.identity.graph import IdentityGraph
from omniroute.worker.identity import customer_events

WS = "w"
AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
# three addresses in the order of their own customer ids: a's id is the smallest
A, B, C = sorted(("tel:+14155550101", "mailto:b@x.co", "tel:+14155550103"),
                 key=lambda address: customer_id_for(WS, address))


def own(address: str) -> str:
    return customer_id_for(WS, address)


def claim(source: str, *addresses: str, action: LinkAction = LinkAction.LINK) -> Claim:
    return Claim(workspace=WS, action=action, source=source, subject="7",
                 addresses=list(addresses), event_id=f"{source}-{action.value}")


def said(graph: IdentityGraph, change_of: Claim) -> dict[str, str | None]:
    """Customer id → the survivor it was announced merged into (None: its own again)."""
    change = (graph.link(change_of) if change_of.action is LinkAction.LINK
              else graph.unlink(change_of))
    events = customer_events(change, graph, change_of.event_id, AT)
    assert all(e.workspace == WS and e.occurred_at == AT for e in events)
    assert len({e.event_id for e in events}) == len(events)
    return {e.customer_id: e.merged_into for e in events}


class TestCustomerEvents:
    def test_each_id_is_announced_with_its_survivor_without_chains(self) -> None:
        """b-c merges C's id into B's; a-b then merges both into A's (C's directly, not
        through B's); the unlink of a-b gives B's id back and puts C's under B's again."""
        graph = IdentityGraph(WS, {}, {}, {})
        assert said(graph, claim("crm", B, C)) == {own(C): own(B)}
        assert said(graph, claim("shop", A, B)) == {own(B): own(A), own(C): own(A)}
        assert said(graph, claim("shop", A, B, action=LinkAction.UNLINK)) == {
            own(B): None, own(C): own(B)}

    def test_a_claim_that_moves_nobody_announces_nothing(self) -> None:
        """The same claim again, and a weak one, move no address."""
        graph = IdentityGraph(WS, {}, {}, {})
        said(graph, claim("crm", A, B))
        assert said(graph, claim("crm", A, B)) == {}
        weak = Claim(workspace=WS, action=LinkAction.LINK, source="mail", subject="9",
                     addresses=[A, C], strong=False, event_id="weak")
        assert said(graph, weak) == {}

    def test_the_event_ids_repeat_for_the_same_claim(self) -> None:
        """A replay of the claim (same state, same event) announces under the same ids,
        so history applies it once."""
        first = IdentityGraph(WS, {}, {}, {})
        second = IdentityGraph(WS, {}, {}, {})
        link = claim("crm", A, B)
        ids = [[e.event_id for e in customer_events(g.link(link), g, link.event_id, AT)]
               for g in (first, second)]
        assert ids[0] == ids[1] and len(ids[0]) == 1


class TestContract:
    def test_merged_names_the_survivor_and_unmerged_none(self) -> None:
        with pytest.raises(ValidationError, match="merged_into"):
            CustomerEvent(event_id="x", customer_id="cus_1", kind=CustomerEventKind.MERGED)
        with pytest.raises(ValidationError, match="merged_into"):
            CustomerEvent(event_id="x", customer_id="cus_1", kind=CustomerEventKind.UNMERGED,
                          merged_into="cus_0")
