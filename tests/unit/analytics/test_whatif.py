"""What-if replays through the unchanged routing core, on literal arrivals."""

from __future__ import annotations

import pytest

from omniroute.analytics.whatif import Arrival, Scenario, Shift, jain, replay

ARRIVALS = [Arrival("w1", 0, "webchat", handle_s=100), Arrival("w2", 10, "webchat", handle_s=100),
            Arrival("w3", 20, "webchat", handle_s=100, patience_s=50)]


class TestReplay:
    def test_one_agent_one_chat_at_a_time(self) -> None:
        """Capacity 1: w1 at once, w2 waits 90 s (until 100), w3 leaves at 70 (patience 50)."""
        out = replay("support", ARRIVALS, [Shift("ada", 0, 400)],
                     Scenario("recorded", capacity=1, sla_s=60), 0, 400)
        assert (out.answered, out.abandoned) == (2, 1)
        assert out.wait_mean_s == pytest.approx(45.0)
        assert out.sla_attainment == pytest.approx(1 / 3)
        assert out.occupancy == pytest.approx(200 / 400)
        assert out.handled == {"ada": 2}

    def test_more_capacity_answers_everyone_at_once(self) -> None:
        out = replay("support", ARRIVALS, [Shift("ada", 0, 400)],
                     Scenario("concurrent", capacity=3), 0, 400)
        assert (out.answered, out.abandoned, out.wait_mean_s) == (3, 0, 0.0)
        assert out.sla_attainment == 1.0

    def test_a_recorded_agent_keeps_their_own_capacity(self) -> None:
        """ada's configured 3 wins over the scenario's 1 (which the unnamed bob gets)."""
        shifts = [Shift("ada", 0, 400), Shift("bob", 0, 400)]
        out = replay("support", ARRIVALS, shifts,
                     Scenario("own", capacity=1, capacities={"ada": 3}), 0, 400)
        assert (out.answered, out.abandoned, out.wait_mean_s) == (3, 0, 0.0)
        lone = replay("support", ARRIVALS, [Shift("bob", 0, 400)],
                      Scenario("own", capacity=1, capacities={"ada": 3}), 0, 400)
        assert (lone.answered, lone.abandoned) == (2, 1)

    def test_headcount_and_policy_spread_the_work(self) -> None:
        """Three agents, capacity 1: each takes one (fairness 1); a single agent is 1/3 fair."""
        spread = replay("support", ARRIVALS, [], Scenario("3 agents", agents=3, capacity=1),
                        0, 400)
        assert sorted(spread.handled.values()) == [1, 1, 1] and spread.fairness == 1.0
        least = replay("support", ARRIVALS, [], Scenario("least", selection="least_occupied",
                                                         agents=2, capacity=3), 0, 400)
        assert sorted(least.handled.values()) == [1, 2]

    def test_same_inputs_same_outcome(self) -> None:
        """The routing core is deterministic: two replays agree exactly."""
        scenario = Scenario("rr", selection="round_robin", agents=2, capacity=1)
        assert replay("p", ARRIVALS, [], scenario, 0, 400) == replay("p", ARRIVALS, [], scenario,
                                                                    0, 400)

    def test_jain(self) -> None:
        assert jain([1, 1, 1]) == 1.0 and jain([3, 0, 0]) == pytest.approx(1 / 3)
