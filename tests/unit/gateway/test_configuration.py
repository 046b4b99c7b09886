"""Live administration's pure core: changes to the configuration document, diffs, TOML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from omniroute.errors import ConfigurationError
from omniroute.gateway.board import agent_status, queued_in, summarize_pools, waits_for
from omniroute.gateway.configuration import (
    AgentSpec,
    BotSpec,
    PoolSpec,
    RoutingSpec,
    delete_agent,
    delete_pool,
    diff,
    from_toml,
    put_agent,
    put_pool,
    set_bot,
    set_routing,
    to_toml,
    validated,
)
from omniroute.routing.config import BUILTIN, parse_config

BASE = {"routing": {"default_pool": "support"},
        "pools": {"support": {"offer_timeout_s": 30}}, "agents": {}}


class TestChanges:
    def test_an_agent_with_caps_and_skills_is_a_valid_configuration(self) -> None:
        """put_agent writes the TOML shape the router parses; the input is not mutated."""
        spec = AgentSpec(pool="support", capacity=3, channels={"email": {"cap": 1}},
                         skills={"billing": 3}, auto_accept=True)
        after = put_agent(BASE, "ada", spec)
        assert after["agents"]["ada"] == {"pool": "support", "capacity": 3,
                                          "channels": {"email": {"weight": 1, "cap": 1}},
                                          "skills": {"billing": 3}, "auto_accept": True}
        assert BASE["agents"] == {}
        assert validated(after).agents["ada"]["skills"] == {"billing": 3}

    def test_an_agent_in_an_unknown_pool_is_refused_by_the_routers_parser(self) -> None:
        """Validation names the agent and the pool."""
        after = put_agent(BASE, "ada", AgentSpec(pool="nowhere"))
        with pytest.raises(ConfigurationError, match="agent 'ada' is in undefined pool"):
            validated(after)

    def test_bad_levels_and_unknown_keys_are_refused_before_anything_is_published(
            self) -> None:
        """Skill level 11, a typo'd key and an unknown channel are validation errors."""
        for bad in ({"pool": "p", "skills": {"x": 11}}, {"pool": "p", "capasity": 2},
                    {"pool": "p", "channels": {"pigeon": {}}}):
            with pytest.raises(ValidationError):
                AgentSpec.model_validate(bad)

    def test_a_pool_with_hours_overflow_and_a_cap(self) -> None:
        """put_pool keeps only the keys given; the router accepts it."""
        spec = PoolSpec.model_validate({
            "queue_cap": 50, "overflow": {"after_s": 120, "pool": "support"},
            "business_hours": {"timezone": "Asia/Seoul", "mon": ["09:00-18:00"]}})
        after = put_pool(BASE, "vip", spec)
        assert after["pools"]["vip"] == {
            "queue_cap": 50, "overflow": {"after_s": 120.0, "pool": "support"},
            "business_hours": {"timezone": "Asia/Seoul", "mon": ["09:00-18:00"]}}
        validated(after)

    def test_a_pool_with_agents_cannot_be_deleted(self) -> None:
        """The error names the agents to move first."""
        with_agent = put_agent(BASE, "ada", AgentSpec(pool="support"))
        with pytest.raises(ConfigurationError, match="still has agents: ada"):
            delete_pool(with_agent, "support")
        assert "support" not in delete_pool(BASE, "support")["pools"]
        with pytest.raises(KeyError):
            delete_agent(BASE, "ghost")

    def test_rules_and_default_pool(self) -> None:
        """set_routing replaces both; a rule naming an unknown pool is invalid."""
        after = set_routing(BASE, RoutingSpec(default_pool="support",
                                              rules=[{"channel": "email", "pool": "support"}]))
        assert validated(after).choose_pool("email", None, None, {}) == "support"
        with pytest.raises(ConfigurationError):
            validated(set_routing(BASE, RoutingSpec(rules=[{"pool": "ghost"}])))


class TestAnswerBot:
    def test_the_bot_table_is_part_of_the_document_and_validated_with_it(self) -> None:
        """Saved as written (switched off, its settings kept), read back by the bot's own
        parser, through TOML too; a table the bot's parser refuses is refused here."""
        from omniroute.bot.policy import parse_bot

        document = set_bot(BASE, BotSpec(enabled=False, channels=["whatsapp"],
                                          threshold=0.5, hours="closed"))
        assert document["bot"] == {"enabled": False, "channels": ["whatsapp"],
                                   "hours": "closed", "threshold": 0.5, "margin": 0.05,
                                   "feedback_window_s": 300.0, "max_misses": 2}
        config = validated(document)
        assert config.document()["bot"] == document["bot"]
        policy = parse_bot(config.document())
        assert (policy.enabled, policy.channels, policy.threshold) == (
            False, frozenset({"whatsapp"}), 0.5)
        assert from_toml(to_toml(document)) == document  # the empty agents table too
        assert "bot" not in validated(BASE).document(), "no [bot] table: none written"
        with pytest.raises(ConfigurationError, match=r"\[bot\]"):
            validated({**BASE, "bot": {"threshold": 3}})
        with pytest.raises(ValidationError):
            BotSpec(hours="sometimes")  # type: ignore[arg-type]


class TestDiffAndToml:
    def test_diff_names_every_changed_leaf(self) -> None:
        """Added, changed and removed leaves, with their before and after."""
        before = put_agent(BASE, "ada", AgentSpec(pool="support", capacity=2))
        after = put_agent(delete_agent(before, "ada"), "bob", AgentSpec(pool="support"))
        after["pools"]["support"]["offer_timeout_s"] = 45
        assert diff(before, after) == [
            {"path": "agents.ada", "before": {"pool": "support", "capacity": 2,
                                              "auto_accept": False}, "after": None},
            {"path": "agents.bob", "before": None, "after": {"pool": "support", "capacity": 1,
                                                            "auto_accept": False}},
            {"path": "pools.support.offer_timeout_s", "before": 30, "after": 45}]
        assert diff(before, before) == []

    def test_toml_round_trip(self) -> None:
        """Export then import gives the same document; bad TOML names the problem."""
        document = put_agent(BASE, "ada", AgentSpec(pool="support", skills={"korean": 5}))
        assert from_toml(to_toml(document)) == document
        with pytest.raises(ConfigurationError, match="not valid TOML"):
            from_toml("[pools")
        with pytest.raises(ConfigurationError, match="unknown top-level table"):
            from_toml("[agnets.ada]\npool = 'support'\n")


class TestWarnings:
    def test_what_will_not_work_as_meant_is_named(self) -> None:
        """A rule's skill nobody has never matches; a pool the rules or the default send
        work to with nobody in it (and no auto_join) keeps it waiting; the built-in
        configuration and a staffed one have nothing to say."""
        document = {"routing": {"default_pool": "support", "rules": [
                        {"skill": "billing", "pool": "billing"},
                        {"channel": "email", "pool": "mail"},
                        {"language": "ko", "pool": "korean"}]},
                    "pools": {"support": {}, "billing": {}, "mail": {},
                              "korean": {"auto_join": True}, "spare": {}},
                    "agents": {"ada": {"pool": "support", "skills": {"korean": 3}},
                               "bo": {"pool": "billing"}}}
        assert [str(w) for w in parse_config(document).warnings()] == [
            "rule 1 (skill billing → pool billing) never matches: no agent has the skill billing",
            "pool mail has no agents: what the rules send there waits until one is added"]
        document["agents"]["bo"]["skills"] = {"billing": 1}  # type: ignore[index]
        document["agents"]["mo"] = {"pool": "mail"}  # type: ignore[index]
        assert [str(w) for w in parse_config(document).warnings()] == []
        assert BUILTIN.warnings() == []


class TestBoard:
    def test_agent_status(self) -> None:
        """online, chatting (online with work), away, offline, lost (silent past grace)."""
        assert agent_status("available", 5, 60, 0) == "online"
        assert agent_status("busy", 5, 60, 2) == "chatting"
        assert agent_status("available", 61, 60, 1) == "lost"
        assert agent_status("available", None, 60, 0) == "lost"
        assert agent_status("away", 500, 60, 1) == "away"
        assert agent_status(None, None, 60, 0) == "offline"

    def test_capacity_comes_from_the_profile_or_the_pool_anyone_joins(self) -> None:
        """Configured agents have theirs; others get the auto-join pool's (3 built in)."""
        config = parse_config(put_agent(BASE, "ada", AgentSpec(pool="support", capacity=5)))
        assert config.capacity_of("ada") == 5 and config.capacity_of("zoe") == 0
        assert BUILTIN.capacity_of("zoe") == 3
        joined = parse_config({**BASE, "pools": {
            **BASE["pools"], "b": {"auto_join": True, "join_capacity": {"capacity": 7}},
            "a": {"auto_join": True}}})
        assert joined.capacity_of("zoe") == 3  # the pool they join: "a", the first by name

    def test_pools_summarize_waiting_count_oldest_wait_and_priorities(self) -> None:
        """Every configured pool appears; ages are from now; priorities highest first; work
        that missed an SLA target is counted."""
        now = datetime(2026, 1, 1, 12, tzinfo=UTC)
        waiting = [
            {"pool": "support", "priority": 0, "waiting_since": now - timedelta(seconds=30),
             "offered_to": "ada", "sla_breached": []},
            {"pool": "support", "priority": 5, "waiting_since": now - timedelta(seconds=90),
             "offered_to": None, "sla_breached": ["first_reply", "resolution"]},
            {"pool": None, "priority": 0, "waiting_since": now, "offered_to": None,
             "sla_breached": []}]
        pools = summarize_pools(parse_config(BASE), waiting, now)
        assert pools == [
            {"pool": "(no pool)", "waiting": 1, "offered": 0, "sla_breached": 0,
             "oldest_wait_s": 0.0, "by_priority": {"0": 1}},
            {"pool": "support", "waiting": 2, "offered": 1, "sla_breached": 1,
             "oldest_wait_s": 90.0, "by_priority": {"5": 1, "0": 1}}]

    def test_work_transferred_to_an_agent_is_kept_for_them_until_the_pin_ends(self) -> None:
        """A conversation reassigned to an agent waits for them for the pool's
        transfer_pin_s (300 s built in): the board names them until then, or until they go
        offline (the router ends the pin then)."""
        config = parse_config({**BASE, "pools": {**BASE["pools"], "vip": {"transfer_pin_s": 60}}})
        at = datetime(2026, 1, 1, 12, tzinfo=UTC)

        def kept(pool: str, agent: str | None, seconds: float, presence: str = "busy"
                 ) -> tuple[str | None, datetime | None]:
            work = {"pool": pool, "transferred_to": agent, "transferred_at": at if agent else None}
            waits_for(config, work, {"ada": presence}, at + timedelta(seconds=seconds))
            assert "transferred_at" not in work
            return work["transferred_to"], work["pinned_until"]

        assert kept("support", "ada", 299) == ("ada", at + timedelta(seconds=300))
        assert kept("support", "ada", 300) == (None, None)
        assert kept("vip", "ada", 59) == ("ada", at + timedelta(seconds=60))
        assert kept("vip", "ada", 61) == (None, None)
        assert kept("support", "ada", 10, "offline") == (None, None)
        assert kept("support", "ada", 10, "away") == ("ada", at + timedelta(seconds=300))
        assert kept("support", None, 10) == (None, None)

    def test_work_never_offered_shows_the_pool_the_rules_choose(self) -> None:
        """The router announces nothing while work only queues: a conversation no agent
        was offered yet is shown in the pool its channel and triage route it to (a user run
        saw it under "(no pool)"); the router's own word wins when there is one."""
        config = parse_config({**BASE, "pools": {**BASE["pools"], "korean": {}, "mail": {}},
                               "routing": {"default_pool": "support", "rules": [
                                   {"pool": "korean", "language": "ko"},
                                   {"pool": "mail", "channel": "email", "skill": "vip"}]}})

        def row(pool: str | None, channel: str | None, language: str | None = "en",
                skills: str | None = "") -> dict[str, object]:
            return {"pool": pool, "channel": channel, "intent": "other",
                    "language": language, "skills": skills}

        assert queued_in(config, row(None, "sms", "ko"))["pool"] == "korean"
        assert queued_in(config, row(None, "email", skills="billing,vip"))["pool"] == "mail"
        assert queued_in(config, row(None, "email"))["pool"] == "support"
        assert queued_in(config, row(None, "line", None, None))["pool"] == "support"
        assert queued_in(config, row("mail", "sms", "ko")) == {"pool": "mail", "channel": "sms"}
        assert queued_in(config, row(None, None))["pool"] is None  # nothing to route on

