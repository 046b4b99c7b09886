"""Which customers the graph tells to split their conversation after a change."""

from __future__ import annotations

from omniroute.contract import LinkAction
from omniroute.identity.claims import Claim
from omniroute.identity.customers import customer_id_for
from omniroute.identity.graph import IdentityGraph
from omniroute.worker.identity import splits

WS = "w"
PHONE, MAIL, OTHER = "tel:+14155550123", "mailto:sam@x.co", "mailto:z@x.co"


def claim(*addresses: str, action: LinkAction = LinkAction.LINK) -> Claim:
    return Claim(workspace=WS, action=action, source="crm", subject="7",
                 addresses=list(addresses), event_id="e")


class TestSplits:
    """Only a customer whose addresses now belong to two or more customers splits."""

    def test_unlink_splits_the_customer_that_held_both(self) -> None:
        """The surviving customer is told each address's owner now."""
        g = IdentityGraph(WS, {}, {}, {})
        g.link(claim(PHONE, MAIL))
        survivor = g.owner(PHONE)
        change = g.unlink(claim(PHONE, MAIL, action=LinkAction.UNLINK))
        assert splits(change, g) == {survivor: {PHONE: customer_id_for(WS, PHONE),
                                                MAIL: customer_id_for(WS, MAIL)}}

    def test_a_merge_splits_nobody(self) -> None:
        """Links only join: no split command."""
        g = IdentityGraph(WS, {}, {}, {})
        assert splits(g.link(claim(PHONE, MAIL)), g) == {}
        assert splits(g.link(claim(MAIL, OTHER)), g) == {}
