"""Signed webhooks through a running ingress into the real broker, and Kafka outages → 503."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import pytest

from harness.kafka import consume, consume_all
from harness.ports import free_port
from omniroute.contract import InboundMessage
from omniroute.infra.probe import probe
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.line import LineConnector
from omniroute_connectors.signatures import line_signature, meta_signature, twilio_signature
from omniroute_connectors.telegram import TelegramConnector
from omniroute_connectors.twilio import TwilioConnector
from omniroute_connectors.whatsapp import WhatsAppConnector

TOKEN = "integration-token"


@pytest.fixture
async def ingress(topics: Settings) -> AsyncIterator[tuple[str, Settings]]:
    port = free_port()
    settings = Settings(kafka_bootstrap=topics.kafka_bootstrap,
                        topic_namespace=topics.topic_namespace, twilio_auth_token=TOKEN,
                        line_channel_secret="line-secret", ingress_publish_timeout=3.0,
                        public_base_url=f"http://127.0.0.1:{port}")
    server = IngressServer(settings, [TwilioConnector(settings), LineConnector(settings)],
                           port=port)
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        await server.stop()


async def post_sms(session: aiohttp.ClientSession, base: str, sid: str) -> int:
    pairs = [("MessageSid", sid), ("From", "+14155550100"), ("To", "+14155550199"),
             ("Body", f"message {sid}")]
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": twilio_signature(TOKEN, f"{base}/webhooks/twilio", pairs)}
    async with session.post(f"{base}/webhooks/twilio", data=urlencode(pairs),
                            headers=headers) as response:
        return response.status


class TestIngressToKafka:
    """Webhooks become acknowledged Kafka records."""

    async def test_operations_endpoints(self, ingress) -> None:
        """/metrics carries build info and ingress counters; /healthz and /readyz answer."""
        base, _settings = ingress
        async with aiohttp.ClientSession() as session:
            assert await post_sms(session, base, "SMops") == 200
            async with session.get(f"{base}/metrics") as response:
                metrics = await response.text()
            async with session.get(f"{base}/healthz") as response:
                assert response.status == 200
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 200
                assert (await response.json())["checks"] == ["kafka"]
        assert re.search(r'omniroute_build_info\{[^}]*component="ingress"', metrics)
        assert re.search(r'omniroute_ingress_requests_total\{provider="twilio",status="200"\}',
                         metrics)
        assert re.search(r'omniroute_messages_total\{channel="sms",component="ingress",'
                         r'direction="out",topic="omniroute.inbound.v1"\} [1-9]', metrics)

    async def test_readiness_includes_the_database_when_configured(
            self, topics: Settings, database_url: str) -> None:
        """With OMNIROUTE_DATABASE_URL set, /readyz also checks that PostgreSQL answers."""
        port = free_port()
        settings = Settings(kafka_bootstrap=topics.kafka_bootstrap,
                            topic_namespace=topics.topic_namespace, database_url=database_url)
        server = IngressServer(settings, [], port=port)
        await server.start()
        try:
            url = f"http://127.0.0.1:{port}/readyz"
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                assert response.status == 200
                assert (await response.json())["checks"] == ["database", "kafka"]
            server.settings = settings.model_copy(
                update={"database_url": "postgresql://nobody@127.0.0.1:1/none"})
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                assert response.status == 503
                assert "database" in (await response.json())["failing"]
        finally:
            await server.stop()

    async def test_signed_webhooks_land_on_their_topics(self, ingress) -> None:
        """A Twilio SMS lands on inbound.v1 keyed by sender; a LINE batch splits per event."""
        base, settings = ingress
        line_body = json.dumps({"destination": "Ubot", "events": [
            {"type": "message", "webhookEventId": f"01H{i}", "timestamp": 1700000000000,
             "source": {"type": "user", "userId": "Ucust"}, "replyToken": "r",
             "message": {"id": f"m{i}", "type": "text", "text": f"t{i}"}} for i in range(2)]
        }).encode()
        async with aiohttp.ClientSession() as session:
            assert await post_sms(session, base, "SMint1") == 200
            async with session.post(f"{base}/webhooks/line", data=line_body, headers={
                    "Content-Type": "application/json",
                    "x-line-signature": line_signature("line-secret", line_body)}) as response:
                assert response.status == 200
            async with session.post(f"{base}/webhooks/line", data=line_body, headers={
                    "Content-Type": "application/json",
                    "x-line-signature": "bad"}) as response:
                assert response.status == 403
        records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                                3, timeout=20)
        messages = {InboundMessage.from_json_bytes(r.value).event_id: r for r in records}
        assert set(messages) == {"twilio:SMint1", "line:01H0", "line:01H1"}
        assert messages["twilio:SMint1"].key == b"sms:+14155550100"
        assert not await consume(settings.kafka_bootstrap,
                                 settings.topic("omniroute.delivery.v1"), 1, timeout=1)

    async def test_a_whatsapp_photo_s_caption_is_the_message_s_text(self, topics: Settings) -> None:
        """A WhatsApp image with a caption reaches omniroute.inbound.v1 with the caption as its
        text (triage, offers and the history read text); a user run's "wrong item in my box,
        see photo" was kept only on the attachment, and its offer showed no words at all."""
        port = free_port()
        settings = Settings(kafka_bootstrap=topics.kafka_bootstrap,
                            topic_namespace=topics.topic_namespace, meta_app_secret="app-secret")
        server = IngressServer(settings, [WhatsAppConnector(settings)], port=port)
        await server.start()
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "14155550199", "phone_number_id": "11223"},
                "contacts": [{"profile": {"name": "Marco Bianchi"}, "wa_id": "14155551002"}],
                "messages": [{"from": "14155551002", "id": "wamid.photo1", "timestamp": "1700000000",
                              "type": "image", "image": {
                                  "caption": "wrong item in my box, see photo",
                                  "mime_type": "image/jpeg", "sha256": "HgJ0rAq3Pxm4k4=",
                                  "id": "987652"}}]}}]}]}).encode()
        try:
            async with aiohttp.ClientSession() as session, session.post(
                    f"http://127.0.0.1:{port}/webhooks/whatsapp", data=body, headers={
                        "Content-Type": "application/json",
                        "X-Hub-Signature-256": meta_signature("app-secret", body)}) as response:
                assert response.status == 200
        finally:
            await server.stop()
        records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                                1, timeout=20)
        message = InboundMessage.from_json_bytes(records[0].value)
        assert message.event_id == "whatsapp:wamid.photo1"
        assert message.text == "wrong item in my box, see photo"
        assert [(a.kind.value, a.media_id) for a in message.attachments] == [("image", "987652")]

    async def test_a_telegram_button_tap_is_answered_in_the_webhook_response(
            self, topics: Settings) -> None:
        """A tap on an inline button (the CSAT survey's rating) reaches Kafka as the
        customer's choice, and the webhook's 200 answers the callback query: Telegram
        clients spin on the button until the bot does (user run 13's rating tap was
        published but never answered)."""
        port = free_port()
        settings = Settings(kafka_bootstrap=topics.kafka_bootstrap,
                            topic_namespace=topics.topic_namespace,
                            telegram_secret_token="tg-secret", telegram_bot_token="7000001:x")
        server = IngressServer(settings, [TelegramConnector(settings)], port=port)
        await server.start()
        user = {"id": 734493536, "is_bot": False, "first_name": "Ivan"}
        body = json.dumps({"update_id": 90001, "callback_query": {
            "id": "4382bfdwdsb323b2d9", "from": user, "chat_instance": "-53",
            "data": "csat:5", "message": {
                "message_id": 41, "date": 1700000000, "chat": {**user, "type": "private"},
                "from": {"id": 7000001, "is_bot": True, "first_name": "Acme"},
                "text": "How would you rate our support?"}}}).encode()
        try:
            async with aiohttp.ClientSession() as session, session.post(
                    f"http://127.0.0.1:{port}/webhooks/telegram", data=body, headers={
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": "tg-secret"}) as response:
                assert response.status == 200
                assert await response.json() == {"method": "answerCallbackQuery",
                                                 "callback_query_id": "4382bfdwdsb323b2d9"}
        finally:
            await server.stop()
        records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                                1, timeout=20)
        message = InboundMessage.from_json_bytes(records[0].value)
        assert message.interactive is not None and message.interactive.payload == "csat:5"

    async def test_broker_down_503_then_retry_accepted_once(
            self, ingress, broker, caplog: pytest.LogCaptureFixture) -> None:
        """Kafka killed while webhooks flow: each is answered 200 (and on the topic) or 503,
        and asyncio logs no error about the sends given up (it logged one per abandoned
        record, paging whoever alerts on error lines); after the restart the provider's retry
        is accepted, and the 503 of the outage is never written."""
        if broker is None:
            pytest.skip("an external broker cannot be stopped by the tests")
        base, settings = ingress
        async with aiohttp.ClientSession() as session:
            assert await post_sms(session, base, "SMwarm") == 200

            async def provider(n: int) -> int:  # a webhook every 50 ms, across the kill
                await asyncio.sleep(n * 0.05)
                return await post_sms(session, base, f"SMburst{n}")

            burst = [asyncio.create_task(provider(n)) for n in range(120)]
            await asyncio.sleep(1.0)
            broker.kill()
            try:
                answers = await asyncio.gather(*burst)
                assert set(answers) == {200, 503}, answers
                gc.collect()  # asyncio reports an unretrieved failure when the future goes
                await asyncio.sleep(0.1)
                noise = [r.getMessage() for r in caplog.records
                         if r.name == "asyncio" and r.levelno >= logging.ERROR]
                assert noise == [], noise[:2]
                assert await post_sms(session, base, "SMoutage") == 503
                async with session.get(f"{base}/readyz") as response:
                    assert response.status == 503
                    assert "kafka" in (await response.json())["failing"]
            finally:
                await asyncio.to_thread(broker.start, progress=lambda _line: None)
                await probe(settings.kafka_bootstrap, timeout=10)
            statuses = []
            for _ in range(20):  # the provider retries until it gets a 2xx
                statuses.append(await post_sms(session, base, "SMoutage"))
                if statuses[-1] == 200:
                    break
                await asyncio.sleep(1)
            assert statuses[-1] == 200
            async with session.get(f"{base}/readyz") as response:
                assert response.status == 200  # the readiness probe is back without help
        # every 200 came after Kafka had the record: everything so far is everything
        records = await consume_all(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
                                    where=lambda r: b"SMoutage" in r.value or b"SMwarm" in r.value)
        ids = [InboundMessage.from_json_bytes(r.value).event_id for r in records]
        # The 503 while the broker was dead is never written. A retry answered 503 after the
        # restart may be: the broker, recovering thousands of partitions late in the suite,
        # can take a request in its socket past the publish bound and write it later (CI of
        # 2026-12-07); the copy has the same event id, which the worker keeps once.
        assert 1 <= ids.count("twilio:SMoutage") <= 1 + statuses.count(503), statuses
        assert ids.count("twilio:SMwarm") == 1
        burst_ids = {InboundMessage.from_json_bytes(r.value).event_id for r in await consume_all(
            settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"),
            where=lambda r: b"SMburst" in r.value)}
        missing = [n for n, a in enumerate(answers) if a == 200 and f"twilio:SMburst{n}" not in burst_ids]
        assert missing == [], "every webhook answered 200 is on the topic"
        # A 503 was written only if the broker had logged it before the SIGKILL and its answer
        # was lost (one webhook every 50 ms: a few at most), never later by a producer the
        # ingress gave up on (that wrote 43 of them when abandoning was taken out, checked).
        written = [n for n, a in enumerate(answers) if a == 503 and f"twilio:SMburst{n}" in burst_ids]
        assert len(written) <= 5, written



class TestRecordBounds:
    """An event over the record limit never reaches the producer (issue 16)."""

    async def test_oversized_events_do_not_abandon_the_producer(self, topics: Settings) -> None:
        from omniroute.contract import Address, Channel
        from omniroute.ingress.publisher import KafkaPublisher

        settings = topics.model_copy(update={"max_event_bytes": 400_000})
        publisher = KafkaPublisher(settings)
        await publisher.start()
        try:
            def mail(n: int, text: str, full: str | None) -> InboundMessage:
                return InboundMessage(
                    event_id=f"email:big{n}", channel=Channel.EMAIL, provider="smtp",
                    channel_account="s@x.test", sender=Address(value="a@x.test"),
                    recipient=Address(value="s@x.test"), provider_message_id=f"m{n}",
                    text=text, full_text=full)

            producer = publisher._producer
            assert producer is not None
            await publisher.publish([mail(1, "é" * 65_536, "é" * 262_144)])
            await publisher.publish([mail(3, "small", None)])
            assert publisher._producer is producer  # never abandoned
            records = await consume(settings.kafka_bootstrap,
                                    settings.topic("omniroute.inbound.v1"), 2)
            big = json.loads(records[0].value)
            assert big["metadata"]["truncated"] == "full_text"
            assert len(records[0].value) <= 400_000
        finally:
            await publisher.stop()

    async def test_a_webhook_whose_event_cannot_fit_is_413_and_publishes_nothing(
            self, topics: Settings) -> None:
        """The ingress bounds events once, in the publisher (which also serializes them for
        the record); an event that cannot fit (a delivery status is never truncated) answers
        413 and nothing reaches the topic, while a webhook after it is published as usual."""
        from harness.kafka import consume_all

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(kafka_bootstrap=topics.kafka_bootstrap,
                            topic_namespace=topics.topic_namespace, twilio_auth_token=TOKEN,
                            public_base_url=base)
        # below the smallest limit a deployment may set (64 KiB), so that a delivery status
        # within the contract's bounds is over it
        settings = settings.model_copy(update={"max_event_bytes": 1_000})
        server = IngressServer(settings, [TwilioConnector(settings)], port=port)
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                pairs = [("MessageSid", "SMhuge"), ("MessageStatus", "failed"),
                         ("To", "+14155550199"), ("ErrorCode", "30008"),
                         ("ErrorMessage", "unknown error " * 140)]
                sig = twilio_signature(TOKEN, f"{base}/webhooks/twilio", pairs)
                async with session.post(f"{base}/webhooks/twilio", data=urlencode(pairs),
                                        headers={"X-Twilio-Signature": sig, "Content-Type":
                                                 "application/x-www-form-urlencoded"}) as r:
                    assert r.status == 413, await r.text()
                    assert (await r.json())["error"] == "event_too_large"
                assert await post_sms(session, base, "SMafter") == 200
        finally:
            await server.stop()
        ids = [InboundMessage.from_json_bytes(r.value).event_id for r in await consume_all(
            settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"))]
        assert ids == ["twilio:SMafter"]
        assert not await consume_all(settings.kafka_bootstrap,
                                     settings.topic("omniroute.delivery.v1"))
