"""Property-based fuzz of the gateway's OpenAPI (issue 16): schemathesis, no 500, no hang.

The gateway runs on the real PostgreSQL and Kafka in a thread of its own;
schemathesis generates requests from ``/openapi.json`` for every operation, in
positive and negative modes (bodies that match the schema and ones that do
not), authenticated as a supervisor and without a token. Every answer must come
within 10 s and be below 500. Examples per operation:
``OMNIROUTE_FUZZ_EXAMPLES`` (default 25, short for CI).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from harness.ports import free_port
from omniroute.gateway.admin import create_token
from omniroute.gateway.auth import Role
from omniroute.gateway.server import running_gateway
from omniroute.settings import Settings

EXAMPLES = int(os.environ.get("OMNIROUTE_FUZZ_EXAMPLES", "25"))


@pytest.fixture
async def token(database_url: str) -> AsyncIterator[str]:
    conn = await asyncpg.connect(database_url)
    try:
        yield await create_token(conn, "boss", Role.SUPERVISOR)
    finally:
        await conn.close()


@pytest.fixture
def gateway_url(topics: Settings, database_url: str, token: str) -> Iterator[str]:
    """The gateway served from its own thread and event loop."""
    port = free_port()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    failure: list[BaseException] = []

    async def serve() -> None:
        try:
            async with running_gateway(topics, database_url, port=port):
                ready.set()
                await stop.wait()
        except BaseException as exc:  # surfaced to the test below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    assert ready.wait(90) and not failure, failure
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(stop.set)
    thread.join(60)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_no_operation_answers_500_or_hangs(gateway_url: str, token: str) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    session = requests.Session()
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode), signed=st.booleans())
            def run(case: schemathesis.Case, signed: bool) -> None:
                headers = {"Authorization": f"Bearer {token}"} if signed else {}
                response = case.call(base_url=gateway_url, session=session, headers=headers,
                                     timeout=10)
                assert response.status_code < 500, (case.method, case.formatted_path,
                                                    response.status_code, response.text[:300])

            run()
        checked.append(operation.label)
    assert len(checked) >= 10  # every operation of the document was fuzzed
