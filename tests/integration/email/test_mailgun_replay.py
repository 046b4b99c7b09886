"""Mailgun replay protection shared by replicas in PostgreSQL, and retries after 503."""

from __future__ import annotations

import time
import uuid

from aiohttp import ClientSession
from pydantic import SecretStr

from harness.kafka import consume
from harness.ports import free_port
from omniroute.ingress.server import IngressServer
from omniroute.settings import Settings
from omniroute_connectors.email.webhooks import MailgunConnector, mailgun_signature

KEY = "key-integration-mailgun-0123456789"
MAIL = (b"From: Jane Doe <jane@example.com>\r\nTo: support@acme.test\r\n"
        b"Message-ID: <mg-1@example.com>\r\nSubject: Help\r\n\r\nMy order is late.\r\n")


def signed_form() -> tuple[str, bytes]:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex * 2
    fields = {"timestamp": timestamp, "token": token,
              "signature": mailgun_signature(KEY, timestamp, token),
              "recipient": "support@acme.test", "sender": "jane@example.com"}
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                    f"{v}\r\n".encode() for k, v in fields.items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="body-mime"\r\n\r\n'
             .encode() + MAIL + f"\r\n--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", body


async def replica(settings: Settings) -> IngressServer:
    server = IngressServer(settings, connectors=[MailgunConnector(settings)], port=free_port())
    await server.start()
    return server


async def test_failed_publish_lets_the_retry_through_and_replays_fail_on_any_replica(
    topics: Settings, database_url: str,
) -> None:
    """503 when Kafka is down records nothing; the retry on another replica is published;
    a replay to a third replica is refused from the shared ledger."""
    settings = topics.model_copy(update={
        "database_url": database_url, "mailgun_signing_key": SecretStr(KEY),
        "email_mailboxes": "support@acme.test", "ingress_publish_timeout": 2.0})
    no_kafka = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    down, first, second = (await replica(no_kafka), await replica(settings),
                           await replica(settings))
    ctype, body = signed_form()
    try:
        async with ClientSession(headers={"Content-Type": ctype}) as http:
            async def post(server: IngressServer) -> tuple[int, dict[str, str] | str]:
                url = f"http://127.0.0.1:{server.port}/webhooks/mailgun/mime"
                async with http.post(url, data=body) as response:
                    return response.status, await (
                        response.json() if response.status != 200 else response.text())

            unavailable = await post(down)
            accepted = await post(first)
            replayed = await post(second)
            replayed_same = await post(first)
    finally:
        for server in (down, first, second):
            await server.stop()
    assert unavailable[0] == 503 and unavailable[1]["error"] == "kafka_unavailable"  # type: ignore[index]
    assert accepted[0] == 200
    assert replayed == (403, {"error": "replayed_token", "detail": "token was already used"})
    assert replayed_same[0] == 403
    records = await consume(settings.kafka_bootstrap, settings.topic("omniroute.inbound.v1"), 2,
                            timeout=3)
    assert len(records) == 1
