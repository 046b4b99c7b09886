"""The retention horizon the sink applies: the job's rule, in pure code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.history.retention import Horizon, Policy

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_the_most_specific_policy_decides_else_the_default() -> None:
    horizon = Horizon.of([Policy("acme", "sms", 90), Policy("acme", "*", 7)], 31, NOW)
    ten_days = NOW - timedelta(days=10)
    assert not horizon.expired("acme", "sms", ten_days)  # channel policy: 90 days
    assert horizon.expired("acme", "whatsapp", ten_days)  # workspace policy: 7 days
    assert not horizon.expired("other", "whatsapp", ten_days)  # default: 31 days
    assert horizon.expired("other", "sms", NOW - timedelta(days=31, seconds=1))
    assert not horizon.expired("other", "sms", NOW - timedelta(days=30, hours=23))
