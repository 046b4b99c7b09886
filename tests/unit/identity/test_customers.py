"""Stable customer ids and the de-duplication window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.identity.customers import MAX_SEEN, AddressRecord, Verdict, customer_id_for

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = timedelta(hours=1)


class TestCustomerIds:
    """Unknown addresses get a new, stable customer."""

    def test_same_address_same_customer_other_workspace_other_customer(self) -> None:
        """The id depends only on workspace and address."""
        assert customer_id_for("w", "tel:+1") == customer_id_for("w", "tel:+1")
        assert customer_id_for("w", "tel:+1") != customer_id_for("x", "tel:+1")
        assert customer_id_for("w", "tel:+1").startswith("cus_")

    def test_owner_overrides_the_default(self) -> None:
        """A linked address belongs to its owner."""
        assert AddressRecord(owner="cus_x").customer("w", "tel:+1") == "cus_x"
        assert AddressRecord().customer("w", "tel:+1") == customer_id_for("w", "tel:+1")


class TestDeduplication:
    """Provider retries are dropped; crash replays are processed again."""

    def test_retry_within_window_is_a_duplicate(self) -> None:
        """The same event id at another offset is a provider retry."""
        record, verdict = AddressRecord().observe("e1", T0, 0, 10, WINDOW)
        assert verdict is Verdict.NEW
        _, verdict = record.observe("e1", T0 + timedelta(minutes=5), 0, 11, WINDOW)
        assert verdict is Verdict.DUPLICATE

    def test_same_record_again_is_a_replay(self) -> None:
        """The same partition and offset is a replay after a crash."""
        record, _ = AddressRecord().observe("e1", T0, 2, 10, WINDOW)
        _, verdict = record.observe("e1", T0, 2, 10, WINDOW)
        assert verdict is Verdict.REPLAY

    def test_after_the_window_the_id_is_new_again_and_old_entries_are_forgotten(self) -> None:
        """Entries older than the window are pruned on the next write."""
        record, _ = AddressRecord().observe("e1", T0, 0, 1, WINDOW)
        later = T0 + WINDOW + timedelta(seconds=1)
        record, verdict = record.observe("e1", later, 0, 2, WINDOW)
        assert verdict is Verdict.NEW
        record, _ = record.observe("e2", later + WINDOW + timedelta(seconds=1), 0, 3, WINDOW)
        assert set(record.seen) == {"e2"}

    def test_seen_ids_are_bounded_for_chatty_senders(self) -> None:
        """Only the most recent ids are remembered, oldest dropped first."""
        record = AddressRecord()
        for i in range(MAX_SEEN + 50):
            record, _ = record.observe(f"e{i}", T0, 0, i, WINDOW)
        assert len(record.seen) == MAX_SEEN
        assert "e0" not in record.seen and f"e{MAX_SEEN + 49}" in record.seen

    def test_claims_sent_are_bounded(self) -> None:
        """Only the most recent claim ids are kept."""
        record = AddressRecord()
        for i in range(30):
            record = record.with_claim_sent(f"c{i}", keep=5)
        assert record.claims_sent == ["c25", "c26", "c27", "c28", "c29"]
