"""Where the batch engine starts each input when it takes over from the faust worker."""

from __future__ import annotations

from aiokafka import TopicPartition

from omniroute.worker.legacy import GroupState, start_offsets

INBOUND = TopicPartition("ns.omniroute.inbound.v1", 1)
CUSTOMERS = TopicPartition("ns.omniroute.internal.customers", 1)
LINKS = TopicPartition("ns.omniroute.identity-links.v1", 1)


class TestStartOffsets:
    def test_the_batch_groups_own_commit_wins_over_the_legacy_one(self) -> None:
        """A partition the batch engine already committed is never taken back to faust's."""
        starts, adopted = start_offsets({INBOUND: 40}, {INBOUND: 12})
        assert starts == {INBOUND: 40} and adopted == {}

    def test_an_input_without_a_commit_starts_at_the_legacy_commit_of_the_same_partition(
            self) -> None:
        """Each topic-partition takes faust's commit of that same topic-partition."""
        starts, adopted = start_offsets({INBOUND: None, CUSTOMERS: None},
                                        {INBOUND: 7, CUSTOMERS: 19})
        assert starts == {INBOUND: 7, CUSTOMERS: 19}
        assert adopted == {INBOUND: 7, CUSTOMERS: 19}

    def test_without_either_commit_an_input_starts_at_its_earliest_record(self) -> None:
        """A fresh deployment (no group has offsets) behaves as before."""
        starts, adopted = start_offsets({INBOUND: None, LINKS: None}, {})
        assert starts == {INBOUND: 0, LINKS: 0} and adopted == {}

    def test_own_and_adopted_offsets_mix_per_topic(self) -> None:
        """An input the batch engine never had a record of still starts where faust stopped."""
        starts, adopted = start_offsets({INBOUND: 40, LINKS: None}, {INBOUND: 12, LINKS: 3})
        assert starts == {INBOUND: 40, LINKS: 3} and adopted == {LINKS: 3}


class TestGroupState:
    def test_only_a_group_without_members_is_idle(self) -> None:
        """Empty and Dead (no such group) are idle; any member, or a rebalance, is not."""
        assert GroupState("Empty", 0).idle and GroupState("Dead", 0).idle
        assert not GroupState("Stable", 1).idle
        assert not GroupState("PreparingRebalance", 0).idle
        assert not GroupState("CompletingRebalance", 2).idle
