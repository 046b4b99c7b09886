"""Staffing math on literal inputs: the published Erlang C vector, chat factors, Erlang A, simulation."""

from __future__ import annotations

import math

import pytest

from omniroute.analytics.chatsim import ChatTeam, required_agents_sim, simulate
from omniroute.analytics.erlang_a import evaluate_a, required_agents_a
from omniroute.analytics.staffing import (
    StaffingError,
    StaffingInput,
    concurrency_factor,
    erlang_c,
    evaluate,
    required_agents,
    rostered,
)

VECTOR = StaffingInput(contacts=100, aht_s=180, interval_s=1800, target_sl=0.8,
                       target_answer_s=20, max_occupancy=0.85, shrinkage=0.3)


class TestErlangC:
    def test_reproduces_the_published_vector(self) -> None:
        """100 per 30 min, 180 s, 80/20, 30 % shrinkage: 14 agents, 20 rostered (pyworkforce/CRAN)."""
        result = required_agents(VECTOR)
        assert result.agents == 14
        assert result.rostered == 20
        assert result.figures.load == pytest.approx(10.0)
        assert result.figures.p_wait == pytest.approx(0.1741319, abs=5e-8)
        assert result.figures.service_level == pytest.approx(0.8883500, abs=5e-8)
        assert result.figures.asa_s == pytest.approx(7.836, abs=5e-4)
        assert result.figures.occupancy == pytest.approx(0.7142857, abs=5e-8)

    def test_thirteen_agents_miss_the_target(self) -> None:
        """One fewer agent: service level below 80 % (so 14 is the smallest)."""
        assert evaluate(13, 10.0, 180, 20).service_level < 0.8

    def test_small_case_by_hand(self) -> None:
        """N=2, A=1: B(2,1) = 0.2, C = 2·0.2/(2 - 1·0.8) = 1/3."""
        assert erlang_c(2, 1.0) == pytest.approx(1 / 3)

    def test_overloaded_team_always_waits(self) -> None:
        """A ≥ N: everyone waits, the service level is 0 and ASA infinite."""
        figures = evaluate(5, 5.0, 180, 20)
        assert (figures.p_wait, figures.service_level, figures.asa_s) == (1.0, 0.0, math.inf)

    def test_rostered_is_not_fooled_by_float_error(self) -> None:
        """14 / 0.7 = 20.000000000000004 in floats: still 20 heads, and 15 → 22."""
        assert rostered(14, 0.3) == 20
        assert rostered(15, 0.3) == 22

    def test_no_contacts_no_agents(self) -> None:
        assert required_agents(StaffingInput(contacts=0, aht_s=180)).agents == 0

    @pytest.mark.parametrize("bad", [dict(aht_s=0), dict(shrinkage=1.0), dict(target_sl=1.5)])
    def test_inputs_without_answer_are_refused(self, bad: dict[str, float]) -> None:
        with pytest.raises(StaffingError):
            required_agents(StaffingInput(**{"contacts": 10, "aht_s": 180, **bad}))


class TestChatConcurrency:
    def test_published_factors(self) -> None:
        assert [concurrency_factor(c) for c in range(1, 6)] == [1.0, 1.7, 2.5, 2.9, 3.5]

    def test_worked_example_120_chats_per_hour(self) -> None:
        """120 chats/h, AHT 12 min, 80 % in 60 s: 29 at concurrency 1, 13 at 3 (EAHT 4.8 min)."""
        single = StaffingInput(contacts=120, aht_s=720, interval_s=3600, target_answer_s=60,
                               max_occupancy=1.0, shrinkage=0.0)
        assert required_agents(single).agents == 29
        triple = StaffingInput(**{**single.__dict__, "max_concurrent": 3})
        assert triple.effective_aht_s == pytest.approx(288.0)
        assert required_agents(triple).agents == 13

    def test_measured_factor_overrides_the_table(self) -> None:
        demand = StaffingInput(contacts=120, aht_s=720, interval_s=3600, max_concurrent=3,
                               factor=2.0)
        assert demand.effective_aht_s == 360.0


class TestErlangA:
    def test_patient_customers_approach_erlang_c(self) -> None:
        """Patience far longer than the wait: Erlang A ≈ Erlang C on the published vector."""
        a = evaluate_a(14, 100, 1800, 180, patience_s=1e7, target_answer_s=20)
        assert a.p_wait == pytest.approx(0.1741319, abs=1e-5)
        assert a.service_level == pytest.approx(0.8883500, abs=1e-5)
        assert a.asa_s == pytest.approx(7.836, abs=1e-2)
        assert a.p_abandon < 1e-5

    def test_single_agent_by_hand(self) -> None:
        """N=1, λ=μ=θ=1/s: π_k ∝ 1/k! (M/M/∞), so P_wait = 1 - 1/e, P_ab = 1/e"""
        a = evaluate_a(1, 1, 1, 1, patience_s=1, target_answer_s=0)
        assert a.p_wait == pytest.approx(1 - math.exp(-1), abs=1e-9)
        # E[Lq] = Σ (k-1) π_k = E[k] - (1 - π_0) = 1 - (1 - 1/e) = 1/e; P_ab = θ·Lq/λ = 1/e
        assert a.p_abandon == pytest.approx(math.exp(-1), abs=1e-9)
        assert a.service_level == pytest.approx(math.exp(-1), abs=1e-9)

    def test_abandonment_needs_fewer_agents_than_erlang_c(self) -> None:
        """Impatient chat visitors (60 s): fewer agents than Erlang C's 14 on the same demand."""
        a = required_agents_a(100, 1800, 180, patience_s=60, target_sl=0.8, target_answer_s=20)
        assert a.agents < 14
        assert a.service_level >= 0.8


class TestChatSimulation:
    def test_same_seed_same_figures(self) -> None:
        team = ChatTeam(agents=5, contacts=120, interval_s=3600, aht_s=720, patience_s=120)
        assert simulate(team) == simulate(team)

    def test_single_chat_no_abandon_matches_erlang_c(self) -> None:
        """Concurrency 1, infinite patience: the simulation lands near Erlang C (14 → SL 0.888)."""
        team = ChatTeam(agents=14, contacts=100, interval_s=1800, aht_s=180, max_concurrent=1,
                        target_answer_s=20, horizon_s=60 * 3600, seed=7)
        figures = simulate(team)
        assert figures.service_level == pytest.approx(0.888, abs=0.02)
        assert figures.occupancy == pytest.approx(0.714, abs=0.02)
        assert figures.abandoned == 0

    def test_concurrency_needs_fewer_agents(self) -> None:
        """Three chats at a time: the simulated team is far smaller than 29."""
        team = ChatTeam(agents=1, contacts=120, interval_s=3600, aht_s=720, max_concurrent=3,
                        patience_s=180, horizon_s=20 * 3600)
        agents, figures = required_agents_sim(team, target_sl=0.8)
        assert agents < 29
        assert figures.service_level >= 0.8
        assert 1.0 < figures.concurrency <= 3.0
