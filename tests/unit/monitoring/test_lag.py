"""Lag arithmetic."""

from __future__ import annotations

from omniroute.monitoring.lag import age_seconds, partition_lag


class TestPartitionLag:
    def test_lag_is_end_minus_committed(self) -> None:
        """A group at offset 7 of 10 has 3 records to go."""
        assert partition_lag(committed=7, end=10, begin=0) == 3

    def test_a_group_without_commits_lags_by_everything_retained(self) -> None:
        """No commit yet: every retained record is unconsumed."""
        assert partition_lag(committed=None, end=10, begin=4) == 6

    def test_a_commit_older_than_retention_counts_from_the_log_start(self) -> None:
        """Records deleted by retention are not lag any more."""
        assert partition_lag(committed=2, end=10, begin=5) == 5

    def test_never_negative(self) -> None:
        """A commit at the end (or a racing end offset) is zero lag."""
        assert partition_lag(committed=12, end=10, begin=0) == 0


class TestAgeSeconds:
    def test_age_of_the_oldest_unconsumed_record(self) -> None:
        """Milliseconds between the record's timestamp and now, in seconds."""
        assert age_seconds(1_000, now_ms=31_000) == 30.0
        assert age_seconds(None, now_ms=31_000) == 0.0
        assert age_seconds(40_000, now_ms=31_000) == 0.0
