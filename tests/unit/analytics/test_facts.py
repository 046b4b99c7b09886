"""Metric samples of literal conversations, against values computed by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from omniroute.analytics import kinds
from omniroute.analytics.facts import (
    Assignment,
    Conversation,
    Event,
    History,
    Message,
    Sample,
    samples,
)
from omniroute.analytics.formulas import OfficeHours, csat_score, nps, percentile
from omniroute.analytics.occupancy import AgentInterval, agent_intervals, load_steps
from omniroute.bot.machine import THANKED

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def by_metric(found: list[Sample]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for s in found:
        out.setdefault(s.metric, []).append(s.value)
    return out


def conv(cid: str, opened: datetime = T) -> Conversation:
    return Conversation(cid, "default", opened, "webchat", "support", "en", "billing")


HANDLED = History(
    conv("c1"),
    events=(Event(at(0), "opened"), Event(at(10), "resolved", "a1"), Event(at(10.01), "survey_sent")),
    messages=(Message(at(0), "inbound"), Message(at(5 / 60), "outbound", "bot", "answer-bot"),
              Message(at(65 / 60), "outbound", "agent", "a1"),
              Message(at(2), "inbound"), Message(at(2 + 40 / 60), "outbound", "agent", "a1"),
              Message(at(3), "inbound"), Message(at(3.5), "inbound"),
              Message(at(4), "outbound", "agent", "a1")),
    assignments=(Assignment(at(0.5), "offered", "a1"), Assignment(at(0.5), "assigned", "a1"),
                 Assignment(at(10), "completed", "a1")),
    ratings=((at(11), 5),),
)

EVENING = at(7 * 60 + 55)  # 16:55, five minutes before office hours end
TRANSFERRED = History(
    conv("c2", EVENING),
    events=(Event(EVENING, "opened"), Event(EVENING + timedelta(minutes=11), "transferred", "a2"),
            Event(EVENING + timedelta(minutes=25), "resolved"),
            Event(EVENING + timedelta(minutes=35), "reopened"),
            Event(EVENING + timedelta(minutes=45), "resolved"), Event(EVENING, "sla_breached")),
    messages=(Message(EVENING, "inbound"),
              Message(EVENING + timedelta(minutes=10), "outbound", "agent", "a2"),
              Message(EVENING + timedelta(minutes=13), "outbound", "agent", "a3")),
    assignments=(Assignment(EVENING + timedelta(minutes=3), "assigned", "a2"),
                 Assignment(EVENING + timedelta(minutes=11), "revoked", "a2"),
                 Assignment(EVENING + timedelta(minutes=12), "assigned", "a3"),
                 Assignment(EVENING + timedelta(minutes=45), "completed", "a3")),
    ratings=((EVENING + timedelta(minutes=50), 2),),
)


class TestConversationSamples:
    def test_handled_chat(self) -> None:
        """FRT skips the bot (65 s), next replies 40 s and 60 s (from the first unanswered)."""
        m = by_metric(samples(HANDLED))
        assert m["frt"] == [65.0] and m["frt_business"] == [65.0]
        assert m["next_reply"] == [40.0, 60.0]
        assert m["queue_wait"] == [30.0] and m["abandoned"] == [0.0] and m["missed"] == [0.0]
        assert m["resolution_first"] == [600.0] and m["resolution_last"] == [600.0]
        assert m["chat_duration"] == [570.0] and m["handle_time"] == [570.0]
        assert m["fcr"] == [1.0] and m["human_resolved"] == [1.0]
        assert m["csat"] == [1.0] and m["csat_score"] == [5.0] and m["survey_sent"] == [1.0]
        assert m["sla_breached"] == [0.0]
        assert m["bot_resolved"] == [0.0]  # the bot greeted (involved) but a human resolved
        funnel = [s.detail for s in samples(HANDLED) if s.metric == "funnel"]
        assert funnel == ["inbound>bot>human>resolved_human"]

    def test_an_automatic_reply_is_not_the_bot(self) -> None:
        """The acknowledgement (author kind ``bot``, no id) is no bot involvement: a user
        run's report put all 308 conversations through the bot (which answered three) and
        counted each resolved one against the bot resolution rate."""
        acknowledged = replace(HANDLED, messages=(
            Message(at(0), "inbound"), Message(at(5 / 60), "outbound", "bot"),
            Message(at(65 / 60), "outbound", "agent", "a1")))
        found = samples(acknowledged)
        m = by_metric(found)
        assert m["frt"] == [65.0] and "bot_resolved" not in m
        assert [s.detail for s in found if s.metric == "funnel"] == [
            "inbound>human>resolved_human"]

    def test_transferred_reopened_after_hours(self) -> None:
        """FRT 600 s wall-clock but 300 s in office hours; two closes and two agents: not FCR."""
        found = samples(TRANSFERRED)
        m = by_metric(found)
        assert m["frt"] == [600.0] and m["frt_business"] == [300.0]
        assert m["queue_wait"] == [180.0, 60.0]
        assert m["resolution_first"] == [1500.0] and m["resolution_last"] == [2700.0]
        handle = {s.agent: s.value for s in found if s.metric == "handle_time"}
        assert handle == {"a2": 480.0, "a3": 1980.0}
        assert m["chat_duration"] == [2520.0]
        assert m["fcr"] == [0.0] and m["transfers"] == [1.0] and m["csat"] == [0.0]
        assert m["sla_breached"] == [1.0]

    def test_abandoned_and_short_abandoned(self) -> None:
        """Left after 120 s: abandoned and missed; left after 5 s: missed but not abandoned."""
        long = History(conv("c4"), events=(Event(at(2), "abandoned"),),
                       messages=(Message(T, "inbound"),))
        short = History(conv("c3"), events=(Event(at(5 / 60), "resolved"),),
                        messages=(Message(T, "inbound"),))
        assert by_metric(samples(long))["abandoned"] == [1.0]
        assert by_metric(samples(long))["missed"] == [1.0]
        assert "abandoned" not in by_metric(samples(short))
        assert by_metric(samples(short))["missed"] == [1.0]

    def test_bot_resolved(self) -> None:
        """Bot answered and closed without a human: bot resolution, not abandoned or missed."""
        bot = History(conv("c5"), events=(Event(at(1), "bot_resolved"), Event(at(2), "resolved")),
                      messages=(Message(T, "inbound"),
                                Message(at(0.5), "outbound", "bot", "answer-bot")))
        found = samples(bot)
        m = by_metric(found)
        assert m["bot_resolved"] == [1.0] and m["human_resolved"] == [0.0] and m["fcr"] == [0.0]
        assert "abandoned" not in m and "missed" not in m and "frt" not in m
        assert [s.detail for s in found if s.metric == "funnel"] == ["inbound>bot>resolved_bot"]

    def test_a_conversation_that_only_thanked_is_no_bot_resolution(self) -> None:
        """A brand-new conversation saying only "thanks", closed by the bot without a word,
        counted as a bot resolution. It is neither a resolution nor a bot conversation; a
        conversation the bot answered and resolved, then closed again after "thanks", still
        is one."""
        thanked = (Event(at(0.1), "bot_resolved", reason=kinds.THANKS_ONLY),
                   Event(at(0.1), "resolved"))
        alone = History(conv("c8"), events=thanked, messages=(Message(T, "inbound"),))
        found = samples(alone)
        assert "bot_resolved" not in by_metric(found)
        assert [s.detail for s in found if s.metric == "funnel"] == ["inbound>resolved_other"]
        answered = History(conv("c9"), events=(
            Event(at(1), "bot_resolved", reason="the customer said it helped"),
            Event(at(1), "resolved"), Event(at(5), "reopened"),
            Event(at(5.1), "bot_resolved", reason=kinds.THANKS_ONLY),
            Event(at(5.1), "resolved")),
            messages=(Message(T, "inbound"), Message(at(0.5), "outbound", "bot", "answer-bot"),
                      Message(at(5), "inbound")))
        assert by_metric(samples(answered))["bot_resolved"] == [1.0]

    def test_the_reason_the_bot_closes_a_thanks_is_the_one_analytics_reads(self) -> None:
        assert kinds.THANKS_ONLY == THANKED

    def test_bot_handoff_is_not_bot_resolution(self) -> None:
        handoff = History(conv("c7"), events=(Event(at(1), "bot_handoff"),),
                          messages=(Message(T, "inbound"),))
        assert by_metric(samples(handoff))["bot_resolved"] == [0.0]

    def test_article_resolution_waits_for_the_24h_window(self) -> None:
        """Self-serve counts as resolved only once 24 h passed without the customer writing."""
        viewed = (Event(at(60), "article_viewed"), Event(at(30), "proactive_sent"))
        early = History(conv("c6"), events=viewed, now=at(120))
        late = History(conv("c6"), events=viewed, now=at(60 + 24 * 60))
        asked = History(conv("c6"), events=viewed, messages=(Message(at(70), "inbound"),),
                        now=at(120))
        assert "article_resolved" not in by_metric(samples(early))
        assert by_metric(samples(late))["article_resolved"] == [1.0]
        assert by_metric(samples(asked))["article_resolved"] == [0.0]
        assert [s.detail for s in samples(late) if s.metric == "funnel"] == [
            "proactive>self_serve>resolved_self_serve"]
        assert by_metric(samples(late))["proactive"] == [1.0]


class TestFormulas:
    def test_percentile_matches_percentile_cont(self) -> None:
        """percentile_cont(0.9) of 10,20,30,40: position 2.7 → 30 + 0.7·10 = 37."""
        assert percentile([40, 10, 30, 20], 0.9) == 37.0
        assert percentile([40, 10, 30, 20], 0.5) == 25.0
        assert percentile([], 0.5) is None

    def test_csat_and_nps(self) -> None:
        assert csat_score([5, 4, 3, 1]) == 0.5
        assert nps([10, 9, 8, 6, 0]) == 0.0

    def test_office_hours_across_days_and_zones(self) -> None:
        """Fri 16:00 → Mon 10:00 UTC with mon-fri 9-17: 1 h Friday + 1 h Monday."""
        hours = OfficeHours.parse("mon-fri 09:00-17:00 UTC")
        assert hours.seconds_between(at(7 * 60), at(3 * 24 * 60 + 60)) == 7200.0
        seoul = OfficeHours.parse("mon-fri 09:00-18:00 Asia/Seoul")
        # 09:00 UTC Friday is 18:00 in Seoul: closed.
        assert seoul.seconds_between(T, at(60)) == 0.0


class TestAgentIntervals:
    def test_online_chatting_engaged(self) -> None:
        """Online 09:00-09:30; one chat 09:05-09:20, a second 09:10-09:25."""
        presence = [(T, "available"), (at(30), "offline")]
        chats = [(at(5), 1), (at(10), 1), (at(20), -1), (at(25), -1)]
        got = agent_intervals(presence, chats, T, at(45))
        assert got == [AgentInterval(T, 900.0, 600.0, 600.0 + 300.0),
                       AgentInterval(at(15), 900.0, 600.0, 600.0 + 300.0)]

    def test_state_before_the_window_carries_in(self) -> None:
        """Available since 08:00 and holding one chat: 09:00-09:10 fully online and chatting."""
        got = agent_intervals([(T - timedelta(hours=1), "busy")], [(T - timedelta(hours=1), 1)],
                              T, at(10))
        assert got == [AgentInterval(T, 600.0, 600.0, 600.0)]


class TestLoadSteps:
    def test_each_conversation_counts_by_its_channel_s_weight(self) -> None:
        """Capacity 3 with email weighing 3: one email held 09:00-09:15 is a load of 3 all the
        time (900 s x 3), while one chat is 1; the conversation count is 1 either way."""
        presence = [(T, "available"), (at(15), "offline")]
        weight = {"email": 3}.get
        for channel, units in (("email", 3), ("webchat", 1)):
            held = [(T, "assigned", "c1", channel), (at(15), "completed", "c1", channel)]
            load = agent_intervals(presence, load_steps(held, lambda c: weight(c, 1)), T, at(15))
            count = agent_intervals(presence, [(T, 1), (at(15), -1)], T, at(15))
            assert [iv.engaged_s for iv in load] == [900.0 * units]
            assert [iv.engaged_s for iv in count] == [900.0]

    def test_an_end_takes_off_what_the_assignment_added(self) -> None:
        """An end without a channel (or the channel's weight changed) frees the units its
        assignment took; an end whose assignment is older than the rows weighs its own."""
        held = [(T, "assigned", "c1", "email"), (at(1), "assigned", "c2", "webchat"),
                (at(2), "revoked", "c1", ""), (at(3), "completed", "c0", "email")]
        assert load_steps(held, lambda c: 3 if c == "email" else 1) == [
            (T, 3), (at(1), 1), (at(2), -3), (at(3), -3)]
