"""The command line against the real broker and database: results, and one clear line on failure."""

from __future__ import annotations

from pathlib import Path

from harness.cli import omniroute_env, run_omniroute
from harness.ports import free_port
from omniroute.settings import Settings


class TestFailingStartup:
    def test_malformed_setting_stops_with_one_line(self, tmp_path: Path) -> None:
        """A bad port is reported as one line naming the variable; exit code 2."""
        env = omniroute_env(OMNIROUTE_GATEWAY_PORT="eighty", OMNIROUTE_STATE_DIR=str(tmp_path))
        result = run_omniroute("db", "migrate", env=env)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "OMNIROUTE_GATEWAY_PORT" in lines[0] and "'eighty'" in lines[0]

    def test_unreachable_database_stops_with_one_line(self, tmp_path: Path) -> None:
        """A database URL nothing answers on is named, with how to fix it; exit code 1."""
        url = f"postgresql://omniroute:pw@127.0.0.1:{free_port()}/omniroute"
        env = omniroute_env(OMNIROUTE_DATABASE_URL=url, OMNIROUTE_STATE_DIR=str(tmp_path))
        result = run_omniroute("db", "migrate", env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(
            "omniroute: cannot reach PostgreSQL at postgresql://omniroute@127.0.0.1"
        )
        assert "OMNIROUTE_DATABASE_URL" in lines[0] and ":pw@" not in lines[0]


class TestEmbeddedDatabase:
    def test_commands_print_their_output_without_pgserver_log_lines(
        self, tmp_path: Path
    ) -> None:
        """Without OMNIROUTE_DATABASE_URL a one-shot command initialises, starts and stops
        the embedded PostgreSQL, and prints only its own lines: a user run's `kb import`
        ended with pgserver's "exiting ... remaining pids" and "Running commandline" lines."""
        env = omniroute_env(OMNIROUTE_STATE_DIR=str(tmp_path), OMNIROUTE_LOG_FORMAT="json")
        migrated = run_omniroute("db", "migrate", env=env)  # initdb, start, migrate, stop
        assert migrated.returncode == 0, migrated.stderr
        assert '"logger": "pgserver"' not in migrated.stdout + migrated.stderr
        *applied, summary = migrated.stderr.strip().splitlines()
        assert applied and all(line.startswith("applied ") for line in applied)
        assert summary.startswith("database postgresql://postgres@") and summary.endswith(
            f"is up to date ({len(applied)} applied)"
        )
        shown = run_omniroute("db", "url", env=env)  # the existing data: start, stop
        assert shown.returncode == 0, shown.stderr
        assert shown.stderr == ""
        assert shown.stdout.startswith("postgresql://") and len(shown.stdout.splitlines()) == 1


class TestCommands:
    def test_db_migrate_twice_applies_nothing_the_second_time(self, database_url: str) -> None:
        """`omniroute db migrate` is idempotent against a real server."""
        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url)
        result = run_omniroute("db", "migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert "is up to date (0 applied)" in result.stderr

    def test_topics_create_twice(self, settings: Settings) -> None:
        """`omniroute topics create` creates every topic once."""
        env = omniroute_env(
            OMNIROUTE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
            OMNIROUTE_TOPIC_NAMESPACE=settings.topic_namespace,
        )
        first = run_omniroute("topics", "create", "--partitions", "2", env=env)
        second = run_omniroute("topics", "create", env=env)
        assert first.returncode == second.returncode == 0, first.stderr + second.stderr
        created = first.stderr.strip().splitlines()[-1]
        assert created.endswith(" existed") and not created.startswith("0 created")
        assert second.stderr.strip().splitlines()[-1].startswith("0 created")

    def test_kafka_status_reports_health(self, kafka_bootstrap: str, tmp_path: Path) -> None:
        """Healthy against the running broker (exit 0); unhealthy where nothing listens (exit 1)."""
        healthy = run_omniroute(
            "kafka",
            "status",
            env=omniroute_env(
                OMNIROUTE_KAFKA_BOOTSTRAP=kafka_bootstrap, OMNIROUTE_STATE_DIR=str(tmp_path)
            ),
        )
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert healthy.stdout.startswith(f"kafka healthy at {kafka_bootstrap}")
        dead = f"127.0.0.1:{free_port()}"
        unhealthy = run_omniroute(
            "kafka",
            "status",
            env=omniroute_env(OMNIROUTE_KAFKA_BOOTSTRAP=dead, OMNIROUTE_STATE_DIR=str(tmp_path)),
        )
        assert unhealthy.returncode == 1
        assert unhealthy.stdout.startswith(f"kafka unhealthy at {dead}")
