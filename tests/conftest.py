"""The test harness: one real Kafka broker and one real PostgreSQL for the whole run.

- Tests under ``tests/unit`` are marked ``unit``, ``tests/integration``
  ``integration``, ``tests/e2e`` ``e2e`` (select with ``-m``).
- The broker and the database start lazily, once per session, only when a test
  asks for them; ``OMNIROUTE_TEST_KAFKA_BOOTSTRAP`` / ``OMNIROUTE_TEST_DATABASE_URL``
  point the suite at running ones instead.
- Isolation: each test gets its own topic namespace (``settings.topic(...)``)
  and its own database cloned from a migrated template.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from harness.cli import drop_shell_settings
from harness.ports import free_port
from omniroute.infra.broker import LocalBroker
from omniroute.infra.jars import fetch_jars
from omniroute.infra.migrations import migrate
from omniroute.infra.postgres import start_embedded
from omniroute.infra.topics import create_topics
from omniroute.settings import Settings

TESTS = Path(__file__).parent
SHARED_FIXTURES = TESTS.parent.parent / "shared" / "fixtures"
TEMPLATE_DB = "omniroute_template"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pytest_configure(config: pytest.Config) -> None:
    """Give every pytest process its own temp root.

    pytest's default root keeps only the last three runs and deletes older ones,
    which pulls the data directory out from under a broker or database another
    pytest process (a parallel run) is still using. Roots of dead runs are
    removed here, and a broker such a run left behind is killed first.
    """
    drop_shell_settings(os.environ)
    if config.option.basetemp is not None:
        return
    root = Path(tempfile.gettempdir()) / "omniroute-tests"
    root.mkdir(exist_ok=True)
    for old in root.glob("run-*"):
        pid = int(old.name.removeprefix("run-")) if old.name[4:].isdigit() else 0
        if pid and _alive(pid):
            continue
        for pid_file in old.glob("**/broker.pid"):
            broker_pid = int(pid_file.read_text().strip() or 0)
            if broker_pid and _alive(broker_pid):
                os.kill(broker_pid, signal.SIGKILL)
        shutil.rmtree(old, ignore_errors=True)
    config.option.basetemp = str(root / f"run-{os.getpid()}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the layer its directory names."""
    for item in items:
        layer = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        if layer in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """``../shared/fixtures``: real provider payloads and emails."""
    assert SHARED_FIXTURES.is_dir(), f"{SHARED_FIXTURES} is missing (clone beside shared/)"
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker | None]:
    """The session's local broker, or None when an external one is configured."""
    if os.environ.get("OMNIROUTE_TEST_KAFKA_BOOTSTRAP"):
        yield None
        return
    port = free_port()
    controller = free_port()
    local = LocalBroker(
        home=tmp_path_factory.mktemp("kafka"),
        libs=fetch_jars(Settings().cache_dir),
        port=port,
        controller_port=controller,
        # the suite leaves every test's topics behind (thousands of partitions by its end):
        # 512 MiB ran out of heap near the end of CI run M (2026-12-07), the broker froze
        heap="1g",
        ephemeral=True,
    )
    local.start(progress=lambda _line: None)
    try:
        yield local
    finally:
        local.stop(progress=lambda _line: None)


@pytest.fixture(scope="session")
def kafka_bootstrap(broker: LocalBroker | None) -> str:
    """Bootstrap address of the session's broker."""
    return os.environ.get("OMNIROUTE_TEST_KAFKA_BOOTSTRAP") or broker.bootstrap  # type: ignore[union-attr]


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of the session's PostgreSQL server (maintenance database)."""
    return os.environ.get("OMNIROUTE_TEST_DATABASE_URL") or start_embedded(
        tmp_path_factory.mktemp("pg") / "data"
    )


def _with_database(url: str, name: str) -> str:
    """``url`` pointed at database ``name`` (works for socket and TCP URLs)."""
    base, sep, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}{sep}{query}"


@pytest.fixture(scope="session")
def template_database(postgres_server_url: str) -> str:
    """A migrated template every test's database is cloned from."""

    async def build() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
            await admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        finally:
            await admin.close()
        conn = await asyncpg.connect(_with_database(postgres_server_url, TEMPLATE_DB))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(build())
    return TEMPLATE_DB


@pytest.fixture
async def database_url(postgres_server_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template_database}")
    finally:
        await admin.close()
    yield _with_database(postgres_server_url, name)
    admin = await asyncpg.connect(postgres_server_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
def namespace() -> str:
    """A topic namespace no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> Settings:
    """Settings for one integration test: the session broker, a private namespace."""
    return Settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_namespace=namespace,
        state_dir=tmp_path / "state",
    )


@pytest.fixture
async def topics(settings: Settings) -> Settings:
    """Every omniroute topic created in the test's namespace; returns the settings."""
    await create_topics(settings, partitions=3)
    return settings
