"""Asking a Kafka address whether a broker answers there, and whether it is this machine's."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.client import AIOKafkaClient

from omniroute.errors import BrokerError, ConfigurationError

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def parse_local_bootstrap(bootstrap: str) -> tuple[str, int]:
    """Host and port of a bootstrap address this machine can run a broker on."""
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if host not in LOCAL_HOSTS:
        raise ConfigurationError(
            f"OMNIROUTE_KAFKA_BOOTSTRAP={bootstrap} is not a local address",
            hint="omniroute only starts a broker on 127.0.0.1; point at your cluster instead",
        )
    return host, int(port)


async def probe(bootstrap: str, timeout: float = 5.0, *, expect_none: bool = False
                ) -> tuple[int, int]:
    """Ask the broker for metadata; return (brokers, topics) or raise BrokerError.

    ``expect_none``: no broker answering is an expected answer (``omniroute up``
    checking for one before starting its own, or waiting for it to come up), so
    aiokafka's own connection errors are not logged: they read as a failure on
    every first start.
    """
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(timeout * 1000),
        metadata_max_age_ms=1000,
        connections_max_idle_ms=int(timeout * 4000),
    )
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    if expect_none:
        aiokafka_log.setLevel(logging.CRITICAL)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
        return len(metadata.brokers()), len(metadata.topics())
    except Exception as exc:
        raise BrokerError(
            f"no Kafka broker answers at {bootstrap}: {exc or type(exc).__name__}"
        ) from exc
    finally:
        await client.close()
        aiokafka_log.setLevel(level)
