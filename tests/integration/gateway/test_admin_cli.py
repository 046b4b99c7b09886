"""`omniroute agents|admin|dlq` as a user runs them, on the real broker and database."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from harness.cli import omniroute_env, run_omniroute
from harness.kafka import consume_all
from omniroute.contract import DeadLetter
from omniroute.history.store import write_batch
from omniroute.routing.live import read_config
from omniroute.settings import Settings

CONFIG = """
[routing]
default_pool = "support"

[pools.support]
queue_cap = 10

[agents.ada]
pool = "support"
capacity = 2
skills = { korean = 4 }
"""


def env_of(settings: Settings, database_url: str) -> dict[str, str]:
    return omniroute_env(OMNIROUTE_DATABASE_URL=database_url,
                         OMNIROUTE_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
                         OMNIROUTE_TOPIC_NAMESPACE=settings.topic_namespace)


class TestTokenCommands:
    def test_roles_expiry_listing_and_revoking_one_token(self, database_url: str) -> None:
        """--role admin --expires 30d is listed with its expiry; --token revokes only it."""
        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url)
        issued = run_omniroute("agents", "token", "lee", "--role", "admin", "--expires", "30d",
                               "--label", "laptop", env=env)
        assert issued.returncode == 0 and "(admin, expires in 30d)" in issued.stderr
        assert run_omniroute("agents", "token", "lee", env=env).returncode == 0
        listed = [json.loads(line) for line in run_omniroute(
            "agents", "tokens", "lee", "--json", env=env).stdout.splitlines()]
        assert sorted((t["role"], t["label"] or "", t["expires_at"] is None) for t in listed) \
            == [("admin", "laptop", False), ("agent", "", True)]
        admin_id = next(t["token_id"] for t in listed if t["role"] == "admin")
        revoked = run_omniroute("agents", "revoke", "--token", admin_id, env=env)
        assert revoked.returncode == 0 and f"revoked token {admin_id} of lee" in revoked.stderr
        states = {t["role"]: t["state"] for t in (json.loads(x) for x in run_omniroute(
            "agents", "tokens", "lee", "--json", env=env).stdout.splitlines())}
        assert states == {"admin": "revoked", "agent": "active"}
        bad = run_omniroute("agents", "token", "lee", "--expires", "soon", env=env)
        assert bad.returncode == 2 and "--expires: 'soon' is not a duration" in bad.stderr


class TestAdminCommands:
    async def test_import_export_agent_and_audit(self, topics: Settings, database_url: str,
                                                 tmp_path: Path) -> None:
        """import publishes version 1 with a diff; the same file again changes nothing;
        admin agent adds a version; export gives it back; admin bot switches the answer bot
        off; audit lists who did what."""
        env = env_of(topics, database_url)
        path = tmp_path / "routing.toml"
        path.write_text(CONFIG)
        first = run_omniroute("admin", "import", str(path), "--actor", "lee", env=env)
        assert first.returncode == 0, first.stderr
        assert "published configuration version 1" in first.stderr
        assert 'agents.ada: null -> {"pool": "support"' in first.stderr
        again = run_omniroute("admin", "import", str(path), env=env)
        assert "no change: the configuration stays at version 1" in again.stderr
        added = run_omniroute("admin", "agent", "bob", "--pool", "support", "--skill",
                              "billing=3", "--cap", "email=1", "--auto-accept", env=env)
        assert added.returncode == 0 and "version 2" in added.stderr, added.stderr
        version, config = await read_config(topics)
        assert version == 2 and config.agents["bob"] == {
            "pool": "support", "capacity": 1, "channels": {"email": {"weight": 1, "cap": 1}},
            "skills": {"billing": 3}, "auto_accept": True}
        exported = run_omniroute("admin", "export", env=env).stdout
        assert "version 2" in exported and "[agents.bob]" in exported
        stale = run_omniroute("admin", "import", str(path), "--if-version", "1", env=env)
        assert stale.returncode == 1 and "is at version 2, not 1" in stale.stderr
        path.write_text(CONFIG.replace('pool = "support"\ncapacity', 'pool = "sales"\ncapacity'))
        invalid = run_omniroute("admin", "import", str(path), env=env)
        assert invalid.returncode == 2 and "undefined pool 'sales'" in invalid.stderr
        off = run_omniroute("admin", "bot", "--off", "--channel", "whatsapp", "--actor", "lee",
                            env=env)
        assert off.returncode == 0 and "version 3" in off.stderr, off.stderr
        assert (await read_config(topics))[1].bot == {
            "enabled": False, "channels": ["whatsapp"], "hours": "always", "threshold": 0.4,
            "margin": 0.05, "feedback_window_s": 300.0, "max_misses": 2}
        wrong = run_omniroute("admin", "bot", "--on", "--channel", "pigeon", env=env)
        assert wrong.returncode == 2 and "channels" in wrong.stderr, wrong.stderr
        audit = [json.loads(line) for line in run_omniroute(
            "admin", "audit", "--action", "config", env=env).stdout.splitlines()]
        assert [(a["actor"], a["subject"]) for a in audit] == [
            ("cli:lee", "version 3"),
            ("cli:" + audit[1]["actor"].removeprefix("cli:"), "version 2"),
            ("cli:lee", "version 1")]


    async def test_restore_publishes_an_earlier_version_again_audited(
            self, topics: Settings, database_url: str, tmp_path: Path) -> None:
        """admin restore N: version N again as the new live one, its diff printed and
        audited (the console's Restore from a shell); --if-version guards it; a version the
        history lacks names the ones there are and publishes nothing."""
        env = env_of(topics, database_url)
        path = tmp_path / "routing.toml"
        path.write_text(CONFIG)
        assert run_omniroute("admin", "import", str(path), env=env).returncode == 0  # v1
        removed = run_omniroute("admin", "remove-agent", "ada", env=env)  # v2
        assert removed.returncode == 0, removed.stderr
        assert ("warning: pool support has no agents: what the rules send there waits until "
                "one is added") in removed.stderr  # the default pool, emptied
        stale = run_omniroute("admin", "restore", "1", "--if-version", "1", env=env)
        assert stale.returncode == 1 and "is at version 2, not 1" in stale.stderr
        missing = run_omniroute("admin", "restore", "7", env=env)
        assert missing.returncode == 2 and "(the history has v1 to v2" in missing.stderr
        restored = run_omniroute("admin", "restore", "1", "--if-version", "2", "--actor", "lee",
                                 "--reason", "ada is back", env=env)
        assert restored.returncode == 0, restored.stderr
        assert "published configuration version 3" in restored.stderr
        assert 'agents.ada: null -> {"pool": "support"' in restored.stderr
        version, config = await read_config(topics)
        assert version == 3 and config.agents["ada"]["skills"] == {"korean": 4}
        (last, *_) = [json.loads(line) for line in run_omniroute(
            "admin", "audit", "--action", "config", env=env).stdout.splitlines()]
        assert (last["actor"], last["subject"], last["detail"]["reason"]) == (
            "cli:lee", "version 3", "rollback to v1: ada is back")


class TestDeadLetterCommands:
    async def test_list_show_replay_once(self, topics: Settings, database_url: str) -> None:
        """list shows the letter, show decodes it, replay sends the bytes once."""
        topic = topics.topic("omniroute.inbound.v1")
        letter = DeadLetter.for_record(processor="worker", topic=topic, partition=0, offset=3,
                                       key=b"sms:+1", value=b'{"not": "an inbound message"}',
                                       error="ValidationError: channel missing")
        conn = await asyncpg.connect(database_url)
        try:
            await write_batch(conn, [("dlq", letter)])
        finally:
            await conn.close()
        env = env_of(topics, database_url)
        listed = run_omniroute("dlq", "list", "--processor", "worker", env=env)
        assert letter.event_id in listed.stdout and "not replayed" in listed.stdout
        shown = json.loads(run_omniroute("dlq", "show", letter.event_id, env=env).stdout)
        assert shown["original"] == {"not": "an inbound message"}
        replayed = run_omniroute("dlq", "replay", letter.event_id, env=env)
        assert replayed.returncode == 0 and f"to {topic}" in replayed.stderr, replayed.stderr
        twice = run_omniroute("dlq", "replay", letter.event_id, env=env)
        assert twice.returncode == 1 and "already replayed" in twice.stderr
        records = await consume_all(topics.kafka_bootstrap, topic)
        assert [(r.key, r.value) for r in records] == [(b"sms:+1",
                                                        b'{"not": "an inbound message"}')]
        missing = run_omniroute("dlq", "show", "dlq:nope", env=env)
        assert missing.returncode == 1 and "no dead letter 'dlq:nope'" in missing.stderr
