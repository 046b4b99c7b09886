"""The load generator's arithmetic: percentiles, milestones from topic records, the report."""

from __future__ import annotations

import json

from omniroute.loadgen.drive import Report
from omniroute.loadgen.observe import Seen, percentiles


class TestPercentiles:
    """Nearest-rank percentiles over what was measured."""

    def test_nearest_rank_and_max(self) -> None:
        """p50 of 1..100 is 50, p99 is 99, max is 100; nothing measured gives nothing."""
        values = [float(v) for v in range(100, 0, -1)]
        assert percentiles(values) == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
        assert percentiles([]) == {}
        assert percentiles([0.2]) == {"p50": 0.2, "p95": 0.2, "p99": 0.2, "max": 0.2}


def _record(**fields: object) -> bytes:
    return json.dumps(fields).encode()


class TestSeen:
    """Milestones in broker time, by token and conversation."""

    def test_threaded_routed_and_resolved(self) -> None:
        """First message_added per token; request → first offer per conversation; resolved."""
        seen = Seen()
        added = _record(kind="message_added", message={"text": "soak lg1-7 hello from customer 3"})
        seen.fold("ns.omniroute.conversations.v1", 10_000, added)
        seen.fold("ns.omniroute.conversations.v1", 12_000, added)  # a replay: the first counts
        seen.fold("ns.omniroute.internal.routing-requests", 10_500, _record(conversation_id="c1"))
        seen.fold("ns.omniroute.assignments.v1", 10_800, _record(kind="offered",
                                                                 conversation_id="c1"))
        seen.fold("ns.omniroute.assignments.v1", 11_800, _record(kind="assigned",
                                                                 conversation_id="c1"))
        seen.fold("ns.omniroute.assignments.v1", 11_000, _record(kind="offered",
                                                                 conversation_id="never-asked"))
        # a request the worker wrote straight into its pool; ticks and forwards are not
        seen.fold("ns.omniroute.internal.routing-pool-events", 14_000,
                  _record(t="route", pool="p", at=14.0, id="rr-c2", body={"work_id": "c2"}))
        seen.fold("ns.omniroute.internal.routing-pool-events", 14_100,
                  _record(t="tick", pool="p", at=14.1, id="tick-1", body={}))
        seen.fold("ns.omniroute.internal.routing-pool-events", 14_200,
                  _record(t="route", pool="q", at=14.2, id="fwd:p:3", body={"work_id": "c3"}))
        seen.fold("ns.omniroute.assignments.v1", 14_150, _record(kind="assigned",
                                                                 conversation_id="c2"))
        seen.fold("ns.omniroute.assignments.v1", 14_300, _record(kind="offered",
                                                                 conversation_id="c3"))
        seen.fold("ns.omniroute.conversations.v1", 13_000, _record(kind="resolved"))
        assert seen.threaded == {"lg1-7": 10.0}
        assert seen.routed == {"c1": 10.8, "c2": 14.15}
        assert [round(x, 3) for x in seen.router_latencies] == [0.3, 0.15]
        assert seen.resolved == 1


class TestReport:
    """The printed report names every stage, latency and group."""

    def test_lines(self) -> None:
        """Throughput, latency rows (a dash when nothing was measured), stage times and lag."""
        nan = float("nan")
        report = Report(seconds=10.0, answer_seconds=[0.1, 0.2],
                        throughput={"ingress": 5.0}, lag={"g": (3, 1.5)},
                        stages={"router": {"p50": 0.01, "p99": 0.2, "slow": 0.005},
                                "webchat": {"p50": nan, "p99": nan, "slow": nan}})
        text = "\n".join(report.lines())
        assert "ingress" in text and "5.0" in text
        assert "webhook answered             2   0.100   0.200   0.200   0.200" in text
        assert "routing request -> offer     0       —       —       —       —" in text
        assert "webchat                  p50       —  p99       —  over 500 ms      —" in text
        assert "nan" not in text
        assert "router" in text and "0.50%" in text
        assert "g" in text and "3 msgs" in text
