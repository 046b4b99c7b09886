"""A report whose figures match what happened on the real chain of processes.

``omniroute worker``, ``router run``, ``sink`` and ``gateway`` run as
subprocesses (the console e2e's chain). A customer's SMS enters on
``omniroute.inbound.v1``; the agent, through the gateway's HTTP API, goes
available, accepts the router's offer, replies and resolves; a CSAT rating
arrives as a ``rated`` ConversationEvent (what a survey processor publishes).
The test notes the wall-clock bounds of each step; ``omniroute report`` then
computes from PostgreSQL a first response time, queue wait, handle time and
resolution time inside those bounds, FCR 100 % and CSAT 100 %.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from e2e.console.test_console import Chain, prepare_agent, running_chain, wait_ready
from harness.cli import omniroute_env, run_omniroute
from harness.kafka import produce
from integration.history.factories import inbound
from omniroute.contract import ConversationEvent, ConversationEventKind, Rating, utcnow
from omniroute.settings import Settings


async def poll(condition: object, what: str, chain: Chain, timeout: float = 180) -> object:
    for _ in range(int(timeout * 2)):
        chain.check()
        value = await condition()  # type: ignore[operator]
        if value:
            return value
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{chain.tails()}")


class TestReportOfARealConversation:
    async def test_figures_match_what_happened(self, topics: Settings, database_url: str,
                                               tmp_path: Path) -> None:
        token = await prepare_agent(database_url)
        headers = {"Authorization": f"Bearer {token}"}
        with running_chain(topics, database_url, tmp_path) as chain:
            await wait_ready(chain)
            async with aiohttp.ClientSession(headers=headers) as http:
                api = f"{chain.url}/api/v1"

                async def post(path: str, body: dict[str, object]) -> None:
                    async with http.post(f"{api}{path}", json=body) as r:
                        assert r.status == 202, await r.text()

                async def offers() -> list[dict[str, str]]:
                    async with http.get(f"{api}/offers") as r:
                        return list((await r.json())["offers"])

                await post("/presence", {"presence": "available"})
                await asyncio.sleep(2)
                message = inbound(0, text="Where is my parcel?", at=utcnow())
                arrived = message.occurred_at
                await produce(topics.kafka_bootstrap, topics.topic("omniroute.inbound.v1"),
                              [(message.kafka_key.encode(), message.to_json_bytes())])
                offer = (await poll(offers, "an offer", chain))[0]  # type: ignore[index]
                cid = offer["conversation_id"]
                offered_by = utcnow()
                await post(f"/offers/{offer['offer_id']}/accept", {"conversation_id": cid})

                async def assigned() -> bool:
                    async with http.get(f"{api}/conversations/{cid}") as r:
                        return r.status == 200

                await poll(assigned, "the assignment in history", chain)
                await asyncio.sleep(1.5)
                before_reply = utcnow()
                await post(f"/conversations/{cid}/replies", {"text": "It ships today."})
                after_reply = utcnow()
                await asyncio.sleep(1.5)
                before_resolve = utcnow()
                await post(f"/conversations/{cid}/resolve", {})
                rating = ConversationEvent(
                    event_id=f"rated-{cid}", conversation_id=cid, customer_id=offer.get(
                        "customer_id") or "unknown", kind=ConversationEventKind.RATED,
                    rating=Rating(score=5))

            conn = await asyncpg.connect(database_url)
            try:
                async def resolved() -> object:
                    return await conn.fetchrow(
                        "SELECT customer_id, resolved_at FROM conversations "
                        "WHERE conversation_id = $1 AND status = 'resolved'", cid)

                row = await poll(resolved, "the resolution in history", chain)
                customer = row["customer_id"]  # type: ignore[index]
                rating = rating.model_copy(update={"customer_id": customer})
                await produce(topics.kafka_bootstrap, topics.topic("omniroute.conversations.v1"),
                              [(cid.encode(), rating.to_json_bytes())])

                async def rated() -> object:
                    return await conn.fetchval(
                        "SELECT count(*) FROM csat_ratings WHERE conversation_id = $1", cid)

                await poll(rated, "the rating in history", chain)
                after_all = utcnow()
            finally:
                await conn.close()

        env = omniroute_env(OMNIROUTE_DATABASE_URL=database_url,
                            OMNIROUTE_STATE_DIR=str(tmp_path / "state"))
        start = (arrived - timedelta(hours=1)).isoformat()
        end = (after_all + timedelta(hours=1)).isoformat()
        done = run_omniroute("report", "--from", start, "--to", end, "--format", "json", env=env)
        assert done.returncode == 0, done.stderr
        total = json.loads(done.stdout)["total"]

        def seconds(a: datetime, b: datetime) -> float:
            return (b - a).total_seconds()

        assert total["conversations"] == 1
        assert seconds(arrived, before_reply) - 1 <= total["frt_median"] \
            <= seconds(arrived, after_reply) + 1
        assert 0 <= total["queue_wait_mean"] <= seconds(arrived, offered_by) + 60
        assert total["resolution_last_median"] == pytest.approx(
            total["resolution_first_median"])
        assert seconds(arrived, before_resolve) - 1 <= total["resolution_last_median"] \
            <= seconds(arrived, after_all) + 1
        assert total["handle_time_mean"] <= total["resolution_last_median"]
        assert total["fcr_rate"] == 1.0 and total["human_resolved_share"] == 1.0
        assert total["csat"] == 1.0 and total["csat_mean_score"] == 5.0
        assert total["missed"] == 0.0 and total["abandon_rate"] == 0.0
        assert total["occupancy"] is not None and 0 < total["occupancy"] <= 1
