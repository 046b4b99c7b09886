"""The identity graph: deterministic merges, unlink, conflicts, weak claims."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.contract import LinkAction
from omniroute.identity.claims import Claim
from omniroute.identity.customers import customer_id_for
from omniroute.identity.graph import IdentityGraph

WS = "w"


def graph() -> IdentityGraph:
    return IdentityGraph(WS, {}, {}, {})


def claim(*addresses: str, source: str = "crm", subject: str = "h1", strong: bool = True,
          action: LinkAction = LinkAction.LINK) -> Claim:
    return Claim(workspace=WS, action=action, source=source, subject=subject,
                 addresses=list(addresses), strong=strong, event_id="e")


def cid(address: str) -> str:
    return customer_id_for(WS, address)


class TestLink:
    """Strong links merge customers onto the smallest id."""

    def test_link_merges_onto_the_smallest_customer_id(self) -> None:
        """Both addresses end with one owner; the other customer is merged into it."""
        g = graph()
        change = g.link(claim("tel:+1", "mailto:a@b.co"))
        survivor = min(cid("tel:+1"), cid("mailto:a@b.co"))
        loser = max(cid("tel:+1"), cid("mailto:a@b.co"))
        assert g.owner("tel:+1") == g.owner("mailto:a@b.co") == survivor
        assert change.merged == {loser: survivor}
        assert len(change.reassigned) == 1 and set(change.reassigned.values()) == {survivor}

    def test_repeating_a_claim_changes_nothing(self) -> None:
        """The same statement is the same claim."""
        g = graph()
        g.link(claim("tel:+1", "mailto:a@b.co"))
        change = g.link(claim("tel:+1", "mailto:a@b.co"))
        assert change.status == "ignored" and not change.reassigned and not change.merged

    def test_weak_claims_are_recorded_never_merged(self) -> None:
        """A typed email links nothing."""
        g = graph()
        change = g.link(claim("tel:+1", "mailto:a@b.co", strong=False))
        assert change.status == "weak" and not change.merged
        assert g.owner("mailto:a@b.co") == cid("mailto:a@b.co")
        assert any(v["status"] == "weak" for v in g.claims.values())

    def test_conflicting_claims_are_flagged_not_merged(self) -> None:
        """One source cannot say an address is two different people."""
        g = graph()
        g.link(claim("tel:+1", "mailto:a@b.co", subject="h1"))
        change = g.link(claim("tel:+1", "mailto:z@b.co", subject="h2"))
        assert change.status == "conflict" and change.conflict and "h1" in change.conflict
        assert g.owner("mailto:z@b.co") == cid("mailto:z@b.co")

    def test_another_source_may_extend_a_customer(self) -> None:
        """Two sources agreeing transitively join three addresses."""
        g = graph()
        g.link(claim("tel:+1", "mailto:a@b.co", source="crm"))
        g.link(claim("mailto:a@b.co", "verified:u1", source="webchat-verified", subject="u1"))
        owners = {g.owner(a) for a in ("tel:+1", "mailto:a@b.co", "verified:u1")}
        assert owners == {min(cid(a) for a in ("tel:+1", "mailto:a@b.co", "verified:u1"))}


class TestUnlink:
    """Unlink splits customers back into the ids they had."""

    def test_unlink_gives_back_the_original_customers(self) -> None:
        """After link then unlink every address owns its default id again."""
        g = graph()
        g.link(claim("tel:+1", "mailto:a@b.co"))
        change = g.unlink(claim("tel:+1", "mailto:a@b.co", action=LinkAction.UNLINK))
        assert g.owner("tel:+1") == cid("tel:+1")
        assert g.owner("mailto:a@b.co") == cid("mailto:a@b.co")
        assert change.detached == [max(cid("tel:+1"), cid("mailto:a@b.co"))]
        assert not change.merged and not g.owners

    def test_unlink_is_sticky(self) -> None:
        """A repeat of the unlinked claim does not merge again."""
        g = graph()
        g.link(claim("tel:+1", "mailto:a@b.co"))
        g.unlink(claim("tel:+1", "mailto:a@b.co", action=LinkAction.UNLINK))
        g.link(claim("tel:+1", "mailto:a@b.co"))
        assert g.owner("tel:+1") != g.owner("mailto:a@b.co")

    def test_unlink_of_unlinked_addresses_changes_nothing(self) -> None:
        """Nothing to remove, nothing changes."""
        assert graph().unlink(claim("tel:+1", "tel:+2", action=LinkAction.UNLINK)).status == (
            "ignored"
        )


ADDRESSES = [f"tel:+1415555{i:04d}" for i in range(8)]
pairs = st.lists(
    st.tuples(st.sampled_from(ADDRESSES), st.sampled_from(ADDRESSES)).filter(lambda p: p[0] != p[1]),
    min_size=1, max_size=8, unique=True,
)


class TestOrderIndependence:
    """The same claims give the same customers whatever their order."""

    @settings(max_examples=60, deadline=None)
    @given(pairs, st.randoms(use_true_random=False))
    def test_final_owners_do_not_depend_on_arrival_order(self, links, rnd) -> None:  # type: ignore[no-untyped-def]
        """Shuffled link claims end with identical owners, each the component's minimum."""
        claims = [claim(a, b, source=f"s{i}") for i, (a, b) in enumerate(links)]
        first, second = graph(), graph()
        for c in claims:
            first.link(c)
        shuffled = list(claims)
        rnd.shuffle(shuffled)
        for c in shuffled:
            second.link(c)
        for address in ADDRESSES:
            assert first.owner(address) == second.owner(address)
            component = first.component([address])
            assert first.owner(address) == min(cid(a) for a in component)

    @settings(max_examples=40, deadline=None)
    @given(pairs)
    def test_unlinking_everything_restores_every_default(self, links) -> None:  # type: ignore[no-untyped-def]
        """Unlink every claim and each address is its own customer again."""
        g = graph()
        for i, (a, b) in enumerate(links):
            g.link(claim(a, b, source=f"s{i}"))
        for a, b in links:
            g.unlink(claim(a, b, action=LinkAction.UNLINK))
        assert all(g.owner(a) == cid(a) for a in ADDRESSES)
