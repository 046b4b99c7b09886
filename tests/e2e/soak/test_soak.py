"""Soak and faults through public interfaces only: signed webhooks in; topics, history, gateway out.

Each pass is a freshly initialized stack (a new topic namespace with the
default partition count, a new database): 500 messages from 200 customers on
SMS, WhatsApp, Telegram and LINE (a quarter of them on both SMS and WhatsApp
with one phone), three concurrent senders, and a SIGKILL of the worker, the
router, the sink and the ingress while traffic flows. The second pass runs two
processes each of worker, router and sink, on the default worker engine (the
transactional batch engine). The legacy faust engine is not soaked here: it is at
least once, and this test found it losing an acknowledged message under SIGKILL
(docs/operations.md, "The batch worker engine"). The long form is ``bench/soak``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import soak


@pytest.mark.parametrize("engine", ["batch"])
@pytest.mark.parametrize("replicas", [1, 2], ids=["one-of-each", "two-of-each"])
async def test_nothing_lost_duplicated_split_or_double_assigned(
    replicas: int, engine: str, kafka_bootstrap: str, namespace: str, database_url: str, tmp_path: Path
) -> None:
    """0 lost, 0 duplicated, 0 split, 0 double-assigned, every conversation routed, history
    complete, and the gateway shows each conversation held by exactly one agent."""
    kills = ("worker-1", "router-1", "sink-1", "ingress")
    if replicas == 2:
        kills = ("worker-2", "router-1", "sink-2", "ingress")
    scenario = soak.Scenario(replicas=replicas, kills=kills, engine=engine)
    outcome = await soak.run(scenario, kafka_bootstrap=kafka_bootstrap, namespace=namespace,
                             database_url=database_url, state=tmp_path / "state")
    findings = outcome.findings
    assert outcome.killed == list(kills)
    assert findings.acknowledged == scenario.messages
    assert findings.customers == scenario.customers
    assert findings.lost == []
    assert findings.duplicated == []
    assert findings.split == []
    assert findings.double_assigned == []
    assert findings.unrouted == []
    assert findings.history_missing == []
    assert findings.conversations == scenario.customers
    assert outcome.gateway_problems == []
