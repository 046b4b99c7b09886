"""What an unlink does to the conversation two people shared (issue 11).

Before the fix the customer keeping the id kept the whole conversation (the
other person's messages, last channel and reply target), the person who never
wrote could inherit it, and neither the router nor the holding agent heard of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniroute.contract import Address, Channel, ConversationEvent, InboundMessage
from omniroute.contract import ConversationEventKind as Kind
from omniroute.conversations.merging import absorb
from omniroute.conversations.splitting import split
from omniroute.conversations.state import CustomerState
from omniroute.conversations.threading import ThreadingPolicy, add_message, apply_router_event
from omniroute.routing.requests import RoutingRequestKind as Req

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
POLICY = ThreadingPolicy()
PAT_PHONE, PAT_MAIL, SAM_MAIL = "tel:+14155550123", "mailto:pat@x.co", "mailto:sam@x.co"
C, D = "cus_c", "cus_d"
AT = T0 + timedelta(hours=1)


def message(event_id: str, channel: Channel, minute: int, sender: str) -> InboundMessage:
    return InboundMessage(
        event_id=event_id, occurred_at=T0 + timedelta(minutes=minute), channel=channel,
        provider="p", channel_account="acct", sender=Address(value=sender),
        recipient=Address(value="acct"), provider_message_id=f"pm-{event_id}", text="hi",
    )


def shared(*, agent: str | None = "ag-1", sam_first: bool = False) -> CustomerState:
    """Customer C, wrongly linked: Pat (SMS + email) and Sam (email) wrote in one conversation."""
    state = CustomerState(customer_id=C, workspace="w")
    writes = [("p1", Channel.SMS, 0, "+14155550123", PAT_PHONE),
              ("s1", Channel.EMAIL, 2, "Sam <sam@x.co>", SAM_MAIL),
              ("p2", Channel.EMAIL, 3, "pat@x.co", PAT_MAIL),
              ("s2", Channel.EMAIL, 4, "sam@x.co", SAM_MAIL)]
    if sam_first:
        writes = [("s0", Channel.EMAIL, -1, "sam@x.co", SAM_MAIL), *writes]
    for event_id, channel, minute, sender, address in writes:
        state = add_message(state, message(event_id, channel, minute, sender), POLICY,
                            address).state
    if agent:
        assert state.current is not None
        event = ConversationEvent(event_id="as1", occurred_at=T0 + timedelta(minutes=5),
                                  conversation_id=state.current.id, customer_id=C,
                                  kind=Kind.ASSIGNED, agent_id=agent, pool="sms")
        state = apply_router_event(state, event).state
    return state


OWNERS = {PAT_PHONE: C, PAT_MAIL: C, SAM_MAIL: D}


class TestSplit:
    """Each person's conversation holds what that person wrote."""

    def test_the_opener_keeps_the_conversation_with_only_their_messages(self) -> None:
        """Pat opened it: Pat keeps id, agent and pool; counts and reply channel are Pat's."""
        before = shared()
        out, handoffs = split(before, OWNERS, "u1", AT)
        kept = out.state.current
        assert kept is not None and before.current is not None
        assert kept.id == before.current.id and kept.agent_id == "ag-1" and kept.pool == "sms"
        assert kept.message_count == 2 and set(kept.authors) == {PAT_PHONE, PAT_MAIL}
        assert kept.last_channel is Channel.EMAIL
        assert kept.authors[PAT_MAIL].sender == "pat@x.co"
        assert set(handoffs) == {D}

    def test_the_other_person_gets_a_conversation_of_their_own_routed_for_them(self) -> None:
        """Sam gets a new open conversation: opened (customer D), route, reply target Sam."""
        before = shared()
        out, handoffs = split(before, OWNERS, "u1", AT)
        sam = handoffs[D]
        assert before.current is not None and sam.id != before.current.id
        assert sam.message_count == 2 and set(sam.authors) == {SAM_MAIL}
        assert sam.authors[SAM_MAIL].sender == "sam@x.co" and sam.last_channel is Channel.EMAIL
        assert sam.agent_id is None and sam.is_open
        opened = [e for e in out.events if e.kind is Kind.OPENED]
        assert [(e.conversation_id, e.customer_id) for e in opened] == [(sam.id, D)]
        [route] = [r for r in out.requests if r.kind is Req.ROUTE]
        assert (route.conversation_id, route.customer_id, route.channel) == (
            sam.id, D, Channel.EMAIL)
        assert route.last_agent_id == "ag-1"

    def test_the_router_and_the_holding_agent_are_told(self) -> None:
        """An update for the kept conversation (in its pool) and a note naming the split."""
        before = shared()
        out, handoffs = split(before, OWNERS, "u1", AT)
        assert before.current is not None
        [update] = [r for r in out.requests if r.kind is Req.UPDATE]
        assert update.conversation_id == before.current.id and update.pool == "sms"
        [note] = [e for e in out.events if e.kind is Kind.NOTE_ADDED]
        assert note.conversation_id == before.current.id and note.note is not None
        assert handoffs[D].id in note.note

    def test_when_the_other_person_opened_it_they_keep_it_and_the_survivor_starts_anew(
        self,
    ) -> None:
        """Sam wrote first: the conversation (and its agent) go to Sam's customer; Pat's
        messages become Pat's own conversation, and the id-keeping customer holds that."""
        before = shared(sam_first=True)
        out, handoffs = split(before, OWNERS, "u1", AT)
        assert before.current is not None and out.state.current is not None
        assert handoffs[D].id == before.current.id and handoffs[D].agent_id == "ag-1"
        assert set(handoffs[D].authors) == {SAM_MAIL} and handoffs[D].message_count == 3
        mine = out.state.current
        assert mine.id != before.current.id and set(mine.authors) == {PAT_PHONE, PAT_MAIL}
        routes = [r for r in out.requests if r.kind is Req.ROUTE]
        assert [(r.conversation_id, r.customer_id) for r in routes] == [(mine.id, C)]

    def test_someone_who_never_wrote_inherits_nothing(self) -> None:
        """An address that wrote nothing here leaves the conversation where it is."""
        before = shared()
        owners = {**OWNERS, SAM_MAIL: C, "tel:+19995550000": D}
        out, handoffs = split(before, owners, "u1", AT)
        assert handoffs == {} and out.state == before and not out.events and not out.requests

    def test_a_replayed_split_emits_the_same(self) -> None:
        """After a crash the same events, requests and handoffs, under the same ids."""
        once, handed = split(shared(), OWNERS, "u1", AT)
        twice, again = split(once.state, OWNERS, "u1", AT)
        assert twice.state == once.state and again == handed
        assert twice.events == once.events and twice.requests == once.requests

    def test_the_split_off_customer_takes_its_conversation_over(self) -> None:
        """D (merged into C before) is freed by the handoff and holds its conversation."""
        _out, handoffs = split(shared(), OWNERS, "u1", AT)
        d = CustomerState(customer_id=D, workspace="w", merged_into=C)
        taken = absorb(d, handoffs[D], "ag-1", {}, "u1", AT, detach_from=C)
        assert taken.redirect is None and taken.state.merged_into is None
        assert taken.state.current == handoffs[D]

    def test_after_the_split_each_person_s_next_message_joins_their_own(self) -> None:
        """Pat writes again: Pat's conversation; replies go to Pat's latest channel."""
        out, _handoffs = split(shared(), OWNERS, "u1", AT)
        pat = add_message(out.state, message("p3", Channel.SMS, 70, "+14155550123"), POLICY,
                          PAT_PHONE)
        assert out.state.current is not None and pat.state.current is not None
        assert pat.events[0].conversation_id == out.state.current.id
        assert pat.state.current.last_channel is Channel.SMS
        assert pat.state.current.message_count == 3


class TestInFlight:
    """A message of the split-off person still reaching the old customer follows them."""

    def test_message_in_flight_during_the_split_is_redirected(self) -> None:
        """Sam's next message reaching C after the split goes to D."""
        out, _handoffs = split(shared(), OWNERS, "u1", AT)
        late = add_message(out.state, message("s3", Channel.EMAIL, 61, "sam@x.co"), POLICY,
                           SAM_MAIL)
        assert late.redirect == D and not late.events

    def test_a_message_ahead_of_the_handoff_is_folded_into_the_split_off_part(self) -> None:
        """Sam (detached from C) writes before the split's part reaches D: that message opens
        a conversation of its own, and the part (opened at the unlink, earlier) absorbs it."""
        _out, handoffs = split(shared(), OWNERS, "u1", AT)
        d = CustomerState(customer_id=D, workspace="w")
        early = add_message(d, message("s3", Channel.EMAIL, 61, "sam@x.co"), POLICY, SAM_MAIL)
        [opened] = [e for e in early.events if e.kind is Kind.OPENED]
        taken = absorb(early.state, handoffs[D], "ag-1", {}, "u1", AT, detach_from=C)
        [merged] = [e for e in taken.events if e.kind is Kind.MERGED]
        assert (merged.conversation_id, merged.merged_into) == (opened.conversation_id,
                                                                 handoffs[D].id)
        assert taken.state.current is not None and taken.state.current.id == handoffs[D].id
        assert taken.state.current.message_count == handoffs[D].message_count + 1
        assert [r.kind for r in taken.requests if r.conversation_id == opened.conversation_id] == [
            Req.CANCEL], "the router drops the one folded away"

    def test_a_later_merge_ends_the_redirect(self) -> None:
        """Linked again (D absorbed into C): Sam's messages thread at C again."""
        out, handoffs = split(shared(), OWNERS, "u1", AT)
        merged = absorb(out.state, handoffs[D], None, {}, "relink", AT + timedelta(minutes=5))
        again = add_message(merged.state, message("s3", Channel.EMAIL, 70, "sam@x.co"), POLICY,
                            SAM_MAIL)
        assert again.redirect is None and again.events


class TestHistoryFollows:
    """The split re-files each moved message (``message_moved``), so history and replies follow."""

    def test_each_message_of_the_split_off_person_is_moved(self) -> None:
        """Sam's two messages move to Sam's conversation under customer D; Pat's stay."""
        out, handoffs = split(shared(), OWNERS, "u1", AT)
        moves = [e for e in out.events if e.kind is Kind.MESSAGE_MOVED]
        assert sorted((e.message.source_event_id, e.conversation_id, e.customer_id)
                      for e in moves if e.message) == [
            ("s1", handoffs[D].id, D), ("s2", handoffs[D].id, D)]

    def test_when_the_conversation_changes_hands_the_other_s_messages_move(self) -> None:
        """Sam opened it and keeps it: Pat's messages move to Pat's new conversation."""
        out, _handoffs = split(shared(sam_first=True), OWNERS, "u1", AT)
        assert out.state.current is not None
        moves = [e for e in out.events if e.kind is Kind.MESSAGE_MOVED]
        pats = [e for e in moves if e.conversation_id == out.state.current.id]
        assert sorted(e.message.source_event_id for e in pats if e.message) == ["p1", "p2"]
        kept = [e for e in moves if e.conversation_id == _handoffs[D].id]
        assert sorted(e.message.source_event_id for e in kept if e.message) == [
            "s0", "s1", "s2"], "the kept conversation's messages now belong to customer D"
        assert {e.customer_id for e in kept} == {D}
