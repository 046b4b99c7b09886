"""Web chat against the real broker and PostgreSQL: durable history, statuses, typing."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, WSCloseCode, WSMsgType
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from harness.kafka import consume, produce
from harness.ports import free_port
from omniroute.contract import (
    Address,
    Author,
    AuthorKind,
    Channel,
    DeliveryState,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
)
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.webchat import WebChatConnector
from omniroute_connectors.webchat.indicators import TYPING_TOPIC, TypingSignal, publish_typing
from omniroute_connectors.webchat.protocol import visitor_id_for

TOKEN = "VisitorTokenForDurableHistory01"
ADDRESS = visitor_id_for(TOKEN)


def reply(event_id: str, text: str) -> OutboundMessage:
    return OutboundMessage(
        event_id=event_id, conversation_id="conv-9", channel=Channel.WEBCHAT,
        channel_account="shop.test", recipient=Address(value=ADDRESS),
        author=Author(kind=AuthorKind.AGENT, id="agent-1", name="Sam"), text=text,
    )


async def next_frame(ws: ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next frame of ``kind`` (presence and other frames may come first)."""
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=30)
        if frame["type"] == kind:
            return frame


async def history_with(session: ClientSession, port: int, event_id: str) -> list[dict[str, Any]]:
    """Reload the widget (a new socket) until the history holds ``event_id`` (30 s).

    A count of tries bounded nothing in time: 200 reloads took about a second on an idle
    machine, and a recorder a little slower (CI run J) left the last reply out."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        async with session.ws_connect(f"http://127.0.0.1:{port}/webchat/ws") as ws:
            await ws.send_json({"type": "hello", "visitor_token": TOKEN, "site": "shop.test"})
            history: list[dict[str, Any]] = (await next_frame(ws, "welcome"))["history"]
        if any(m["event_id"] == event_id for m in history):
            return history
        if asyncio.get_running_loop().time() > deadline:
            return history
        await asyncio.sleep(0.1)


@pytest.fixture
async def chat_settings(topics: Settings, database_url: str) -> Settings:
    return topics.model_copy(update={"database_url": database_url})


async def test_reply_published_while_no_ingress_runs_is_in_history(
    chat_settings: Settings,
) -> None:
    """A reply written while every replica is down is recorded from Kafka after a restart."""
    settings = chat_settings
    await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                  [(b"conv-9", reply("offline-reply", "We shipped it.").to_json_bytes())])
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    try:
        async with ClientSession() as session:
            history = await history_with(session, server.port, "offline-reply")
    finally:
        await server.stop()
    assert [(m["direction"], m["text"]) for m in history] == [("agent", "We shipped it.")]
    assert "conversation_id" not in history[0]


async def test_replies_are_recorded_after_a_refused_commit(chat_settings: Settings) -> None:
    """The broker refuses the recorder's offset commit once: later replies still reach the
    visitor's history (the recorder used to stop for good)."""
    settings = chat_settings
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    [feed] = server.services
    recorder = feed.recorder  # type: ignore[attr-defined]
    consumer = recorder._consumer
    commit, refused = consumer.commit, []

    async def refuses_once(*args: Any) -> None:
        if not refused:
            refused.append(args)
            raise KafkaConnectionError("the coordinator went away")
        await commit(*args)

    consumer.commit = refuses_once
    try:
        await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                      [(b"conv-9", reply("before-refusal", "One moment.").to_json_bytes())])
        async with ClientSession() as session:
            await history_with(session, server.port, "before-refusal")
            await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                          [(b"conv-9", reply("after-refusal", "Done.").to_json_bytes())])
            history = await history_with(session, server.port, "after-refusal")
    finally:
        await server.stop()
    assert refused, "a commit was refused"
    assert [m["event_id"] for m in history] == ["before-refusal", "after-refusal"]


async def test_live_replies_go_on_while_the_transcript_cannot_be_written(
        chat_settings: Settings) -> None:
    """PostgreSQL refuses the live path's transcript write: the reply is pushed all the same,
    and so is the next one (the live feed used to end on that error)."""
    settings = chat_settings
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    [feed] = server.services
    chat = feed.chat  # type: ignore[attr-defined]
    remember, refused = chat.remember, []

    async def database_gone(*args: Any) -> None:
        """The live path's transcript write (the recorder's own writes retry on their own)."""
        if not refused:
            refused.append(args)
            raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
        await remember(*args)

    try:
        async with ClientSession() as session, session.ws_connect(
                f"http://127.0.0.1:{server.port}/webchat/ws") as ws:
            await ws.send_json({"type": "hello", "visitor_token": TOKEN, "site": "shop.test"})
            await next_frame(ws, "welcome")
            chat.remember = database_gone
            await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                          [(b"conv-9", reply("during-outage", "Still here.").to_json_bytes()),
                           (b"conv-9", reply("after-outage", "All good.").to_json_bytes())])
            first = await asyncio.wait_for(next_frame(ws, "message"), timeout=30)
            second = await asyncio.wait_for(next_frame(ws, "message"), timeout=30)
    finally:
        await server.stop()
    assert refused, "a transcript write was refused"
    assert [first["event_id"], second["event_id"]] == ["during-outage", "after-outage"]


async def test_statuses_and_typing_flow_both_ways(chat_settings: Settings) -> None:
    """sent/delivered/read carry the conversation; agent typing reaches the visitor and
    visitor typing reaches the typing topic keyed by conversation."""
    settings = chat_settings
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with ClientSession() as session, session.ws_connect(
                f"http://127.0.0.1:{server.port}/webchat/ws") as ws:
            await ws.send_json({"type": "hello", "visitor_token": TOKEN, "site": "shop.test"})
            await next_frame(ws, "welcome")
            await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                          [(b"conv-9", reply("live-reply", "Hello!").to_json_bytes())])
            pushed = await next_frame(ws, "message")
            assert pushed["event_id"] == "live-reply" and "conversation_id" not in pushed
            await ws.send_json({"type": "delivered", "event_ids": ["live-reply", "not-mine"]})
            await ws.send_json({"type": "read", "event_ids": ["live-reply"]})
            await ws.send_json({"type": "read", "event_ids": ["live-reply"]})  # a repeat

            await publish_typing(producer, settings,
                                 TypingSignal.agent("default", "conv-9", "agent-1", True, "Sam"))
            typing = await next_frame(ws, "typing")
            assert typing == {"type": "typing", "state": True, "author": "Sam"}
            await ws.send_json({"type": "typing", "state": True})
            (record,) = await consume(settings.kafka_bootstrap, settings.topic(TYPING_TOPIC), 1,
                                      where=lambda r: b'"visitor"' in r.value)
            signal = TypingSignal.from_json_bytes(record.value)
            assert (record.key, signal.visitor_address, signal.state) == (b"conv-9", ADDRESS,
                                                                        True)
    finally:
        await producer.stop()
        await server.stop()
    records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.delivery.v1"),
                            4, timeout=5)
    statuses = [DeliveryStatus.from_json_bytes(r.value) for r in records]
    assert sorted(s.state.value for s in statuses) == ["delivered", "read", "read", "sent"]
    assert {(s.conversation_id, s.outbound_event_id) for s in statuses} == {
        ("conv-9", "live-reply")}
    assert {r.key for r in records} == {b"conv-9"}
    reads = {s.event_id for s in statuses if s.state is DeliveryState.READ}
    assert len(reads) == 1  # the repeat has the same event id: downstream de-duplicates


async def test_an_answer_at_the_questions_own_time_is_listed_after_it(
    chat_settings: Settings,
) -> None:
    """User run 38: after a reload, every answer of the answer bot was listed above the
    question it answered. An automatic reply carries its message's time (the event time),
    and the visitor's message was stored at the time the ingress stored it, a few ms later.
    Now the question is stored at its own time, and at one instant it comes first."""
    settings = chat_settings
    token = "VisitorTokenForAnswerOrder0001"
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    try:
        async with ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{server.port}/webchat/ws") as ws:
                await ws.send_json({"type": "hello", "visitor_token": token, "site": "shop.test"})
                await next_frame(ws, "welcome")
                await ws.send_json({"type": "message", "client_message_id": "q1",
                                    "text": "How long does delivery take?"})
                await next_frame(ws, "ack")
            (record,) = await consume(settings.kafka_bootstrap,
                                      settings.topic("omniroute.inbound.v1"), 1,
                                      where=lambda r: b"How long does delivery" in r.value)
            question = InboundMessage.from_json_bytes(record.value)
            answer = OutboundMessage(  # as the bot writes it: the question's time, an id of its own
                event_id="conv:bot:1.answer", occurred_at=question.occurred_at,
                conversation_id="conv-q", channel=Channel.WEBCHAT, channel_account="shop.test",
                recipient=question.sender, author=Author(kind=AuthorKind.BOT),
                text="Standard delivery takes 2-3 business days.")
            await produce(settings.kafka_bootstrap, settings.topic("omniroute.outbound.v1"),
                          [(b"conv-q", answer.to_json_bytes())])
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                async with session.ws_connect(
                        f"http://127.0.0.1:{server.port}/webchat/ws") as ws:
                    await ws.send_json({"type": "hello", "visitor_token": token,
                                        "site": "shop.test"})
                    history = (await next_frame(ws, "welcome"))["history"]
                if len(history) == 2 or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.1)
    finally:
        await server.stop()
    assert [(m["direction"], m["text"]) for m in history] == [
        ("visitor", "How long does delivery take?"),
        ("agent", "Standard delivery takes 2-3 business days.")]


async def test_stopping_the_ingress_closes_visitor_sockets_at_once(
        chat_settings: Settings) -> None:
    """A stopping ingress closes its visitors' sockets with 1001 (going away) and exits:
    the widget reconnects at once. It used to wait for every visitor to leave (aiohttp's
    60 s shutdown timeout), refusing webhooks meanwhile: 31 s with two visitors in user
    run 55."""
    settings = chat_settings
    server = IngressServer(settings, connectors=[WebChatConnector(settings)], port=free_port())
    await server.start()
    stopping: asyncio.Task[None] | None = None
    try:
        async with ClientSession() as session, session.ws_connect(
                f"http://127.0.0.1:{server.port}/webchat/ws") as ws:
            await ws.send_json({"type": "hello", "visitor_token": TOKEN, "site": "shop.test"})
            await next_frame(ws, "welcome")
            stopping = asyncio.create_task(server.stop())
            closing = await ws.receive(timeout=10)
            assert closing.type is WSMsgType.CLOSE and closing.data == WSCloseCode.GOING_AWAY
            await asyncio.wait_for(asyncio.shield(stopping), 10)
    finally:
        if stopping is None:
            await server.stop()
