"""Roles and token lifetimes: the pure parts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from omniroute.gateway.auth import Principal, Role, parse_duration, token_id


class TestRoles:
    def test_supervisors_and_admins_see_everything_only_admins_administer(self) -> None:
        """supervisor: sees all; admin: sees all and administers; agent: neither."""
        rights = {r: (Principal("x", r).supervisor, Principal("x", r).admin) for r in Role}
        assert rights == {Role.AGENT: (False, False), Role.SUPERVISOR: (True, False),
                          Role.ADMIN: (True, True)}


class TestDurations:
    def test_units(self) -> None:
        """30d, 12h, 90m, 2w and 45s are what they say."""
        assert [parse_duration(t) for t in ("30d", "12h", "90m", "2w", "45s")] == [
            timedelta(days=30), timedelta(hours=12), timedelta(minutes=90),
            timedelta(weeks=2), timedelta(seconds=45)]

    @pytest.mark.parametrize("text", ["", "30", "d", "0d", "1y", "-1d", "1.5h"])
    def test_anything_else_is_refused(self, text: str) -> None:
        """No unit, zero, unknown units and fractions are errors, not a default."""
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(text)

    def test_token_id_is_the_start_of_the_hash(self) -> None:
        """Twelve hex digits: enough to name a token, useless to replay it."""
        assert token_id("ab" * 32) == "abababababab"
