"""What the public ingress port shows (issue 16): operations off it in production,
/readyz without connection details, logs without addresses."""

from __future__ import annotations

import aiohttp

from harness.ports import free_port
from omniroute.ingress.server import IngressServer
from omniroute.observability.health import Health
from omniroute.observability.redaction import redact, redact_addresses
from omniroute.settings import Settings


class TestOperationsPort:
    async def test_production_serves_operations_off_the_public_port(self) -> None:
        settings = Settings(env="production", identity_key="k7Qw9-real-identity-key",
                            kafka_bootstrap=f"127.0.0.1:{free_port()}",
                            ingress_publish_timeout=0.5, metrics_port=free_port())
        server = IngressServer(settings, connectors=[], port=free_port())
        await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                for path in ("/metrics", "/readyz", "/healthz", "/health"):
                    async with http.get(f"http://127.0.0.1:{server.port}{path}") as response:
                        assert response.status == 404, path
                async with http.get(f"http://127.0.0.1:{settings.metrics_port}/metrics") as r:
                    assert r.status == 200
                async with http.get(f"http://127.0.0.1:{settings.metrics_port}/healthz") as r:
                    assert r.status == 200
        finally:
            await server.stop()


class TestReadiness:
    async def test_failures_name_the_check_and_class_only(self) -> None:
        health = Health()

        async def database() -> None:
            raise OSError('connection to host "db.internal" as user "omniroute" refused')

        health.add("database", database)
        assert await health.failures() == {"database": "OSError"}


class TestRedaction:
    def test_emails_and_phone_numbers_are_masked(self) -> None:
        assert redact("550 <bob.smith+x@shop.example.com>: no such user") == (
            "550 <<email>>: no such user")
        assert redact("to whatsapp:+14155550100 and +44 7700 900123") == (
            "to whatsapp:<phone> and <phone>")
        assert redact("event twilio:SM123 at 2026-12-02") == "event twilio:SM123 at 2026-12-02"

    def test_processor_masks_every_string_value(self) -> None:
        event = redact_addresses(None, "info", {"event": "sent", "error": "a@b.test refused",
                                                "count": 2})
        assert event == {"event": "sent", "error": "<email> refused", "count": 2}
