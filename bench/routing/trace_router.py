"""Run ``omniroute router ...`` with timestamps of every stage of its transactions, and
report them (diagnosis for ``bench_e2e.py --trace``; not for production).

Run as the router: ``python bench/routing/trace_router.py router run ...`` with
``OMNIROUTE_TRACE_OUT=file.json``. It wraps, in the router process only: aiokafka's
transactional request handlers (AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit,
EndTxn: each attempt, with its retry back-off) and produce requests (with the error
codes of retried partitions: 19 NOT_ENOUGH_REPLICAS, 51 CONCURRENT_TRANSACTIONS), the
loops' ``poll`` and ``Loop.commit``, an event-loop lag probe (a 1 ms sleep's overshoot)
and the process's CPU time. Times are ``time.perf_counter()`` (CLOCK_MONOTONIC), so
they compare with the benchmark's own. Works with this checkout's router and with
older ones (``--previous``).
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import json
import os
import re
import resource
import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Any

IDS = re.compile(rb'"(?:conversation_id|work_id)":"(c\d+)"')
"""The benchmark's measured conversations (``c<n>``) in records of either loop."""
REQUESTS = ("AddPartitionsToTxnHandler", "AddOffsetsToTxnHandler", "Produce",
            "TxnOffsetCommitHandler", "EndTxnHandler")
now = time.perf_counter


def install(out: str) -> None:
    """Wrap the router's Kafka calls; write the events to ``out`` at exit."""
    import aiokafka.producer.sender as sender

    from omniroute.routing import processor, transactions

    events: list[Any] = []

    def txn_id(handler: Any) -> str | None:
        manager = handler._sender._txn_manager
        return manager.transactional_id if manager is not None else None

    def timed(cls: Any, name: str | None) -> None:
        original = cls.do

        async def do(self: Any, node_id: int) -> Any:
            began = now()
            result = await original(self, node_id)
            events.append((name or type(self).__name__, txn_id(self), began, now(),
                           bool(result) if name is None else len(self._to_reenqueue)))
            return result
        cls.do = do

    timed(sender.BaseHandler, None)
    timed(sender.SendProduceReqHandler, "Produce")

    def errors(cls: Any, name: str, field: str) -> None:
        original = cls.handle_response

        def handle_response(self: Any, response: Any) -> Any:
            for _, partitions in getattr(response, field):
                for info in partitions:
                    if info[1]:
                        events.append((name, txn_id(self), now(), now(), info[1]))
            return original(self, response)
        cls.handle_response = handle_response

    errors(sender.SendProduceReqHandler, "ProduceError", "topics")
    errors(sender.AddPartitionsToTxnHandler, "AddPartitionsError", "errors")

    commit = transactions.Loop.commit

    async def traced_commit(self: Any, tp: Any, out: Any) -> bool:
        began = now()
        ids = sorted({m.decode() for r in out.records for m in IDS.findall(r[2])})
        done: bool = await commit(self, tp, out)
        events.append(("commit", self.transactional_id(tp), began, now(), [self.name, ids]))
        return done
    transactions.Loop.commit = traced_commit  # type: ignore[method-assign]

    poll = processor.poll
    takes_loop = len(inspect.signature(poll).parameters) == 1

    async def traced_poll(*args: Any) -> Any:
        began = now()
        batch = await poll(*args)
        consumer = args[0].consumer if takes_loop else args[0]
        ids = [m.decode() for records in batch.values() for r in records
               for m in IDS.findall(r.value or b"")]
        events.append(("poll", consumer._client._client_id, began, now(), ids))
        return batch
    processor.poll = traced_poll  # type: ignore[assignment]

    decide = processor.run_decide

    async def probe() -> None:
        while True:
            began = now()
            await asyncio.sleep(0.001)
            events.append(("lag", None, began, now(), None))

    async def traced_decide(*args: Any, **kwargs: Any) -> None:
        task = asyncio.create_task(probe())
        try:
            await decide(*args, **kwargs)
        finally:
            task.cancel()
    processor.run_decide = traced_decide

    def cpu() -> None:
        while True:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            events.append(("cpu", None, now(), usage.ru_utime + usage.ru_stime, None))
            time.sleep(0.5)
    threading.Thread(target=cpu, daemon=True).start()

    def dump() -> None:
        with open(out, "w") as file:
            json.dump(events, file)
    atexit.register(dump)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def report(path: str, sent: dict[str, float], hop: dict[str, float],
           got: dict[str, float]) -> None:
    """Print where the time of the measured requests went (``sent``, ``hop`` (pool record
    readable) and ``got`` (assignment readable): perf_counter times per conversation)."""
    with open(path) as file:
        events = json.load(file)
    start, end = min(sent.values()), max(got.values())
    window = [e for e in events if start - 0.5 <= e[2] <= end + 0.5]
    by_txn: dict[str, list[Any]] = defaultdict(list)
    for e in window:
        if e[0] in REQUESTS or e[0].endswith("Error"):
            by_txn[e[1]].append(e)
    commits = [e for e in window if e[0] == "commit"]
    print("\nper transaction (ms)                     p50     p90   (requests serial unless "
          "overlapped)")
    for loop in ("repartition", "decide"):
        mine = [c for c in commits if c[4][0] == loop and c[4][1]]
        steps: dict[str, list[float]] = defaultdict(list)
        tally: Counter[str] = Counter()
        for c in mine:
            inside = [e for e in by_txn[c[1]] if c[2] - 1e-4 <= e[2] and e[3] <= c[3] + 1e-3]
            first = {}
            for e in sorted(inside, key=lambda e: e[2]):
                first.setdefault(e[0], e)
                if e[0].endswith("Error"):
                    tally[f"{e[0]} {e[4]}"] += 1
                elif e[0] in REQUESTS:
                    steps[e[0]].append(e[3] - e[2])
                    tally[e[0]] += 1
            if "AddPartitionsToTxnHandler" in first:
                steps["commit() -> first AddPartitionsToTxn"].append(
                    first["AddPartitionsToTxnHandler"][2] - c[2])
            steps["commit() total"].append(c[3] - c[2])
        print(f"  {loop}: {len(mine)} transactions; attempts and retried errors: "
              f"{dict(tally)}")
        for name, values in steps.items():
            print(f"    {name:<38} {pct(values, 50) * 1000:6.1f} {pct(values, 90) * 1000:7.1f}")
    first_poll: dict[tuple[str, str], Any] = {}
    for e in window:
        if e[0] == "poll":
            for i in e[4]:
                first_poll.setdefault(("repartition" if "repartition" in e[1] else "decide",
                                       i), e)
    committed: dict[tuple[str, str], Any] = {}
    for c in commits:
        for i in c[4][1]:
            committed.setdefault((c[4][0], i), c)
    stages: dict[str, list[float]] = defaultdict(list)
    for i, at in sent.items():
        keys = [("repartition", i), ("decide", i)]
        if i not in hop or i not in got or not all(k in first_poll and k in committed
                                                   for k in keys):
            continue
        rp, rc = first_poll[keys[0]], committed[keys[0]]
        dp, dc = first_poll[keys[1]], committed[keys[1]]
        stages["1 sent -> repartition poll returns it"].append(rp[3] - at)
        stages["2 ... -> its transaction begins"].append(rc[2] - rp[3])
        stages["3 repartition transaction"].append(rc[3] - rc[2])
        stages["4 ... -> decide poll returns it"].append(dp[3] - rc[3])
        stages["5 ... -> its transaction begins"].append(dc[2] - dp[3])
        stages["6 decide transaction"].append(dc[3] - dc[2])
        stages["7 ... -> assignment readable (bench)"].append(got[i] - dc[3])
        stages["  total"].append(got[i] - at)
    print("\nper request (ms)                          p50     p90     p99")
    for name, values in stages.items():
        print(f"  {name:<38} {pct(values, 50) * 1000:6.1f} {pct(values, 90) * 1000:7.1f} "
              f"{pct(values, 99) * 1000:7.1f}")
    lag = [(e[3] - e[2] - 0.001) * 1000 for e in window if e[0] == "lag"]
    cpu = [e for e in window if e[0] == "cpu"]
    if lag:
        print(f"  router event-loop lag (1 ms sleep overshoot): p50 {pct(lag, 50):.1f}, "
              f"p90 {pct(lag, 90):.1f}, p99 {pct(lag, 99):.1f} ms")
    if len(cpu) > 1:
        share = (cpu[-1][3] - cpu[0][3]) / (cpu[-1][2] - cpu[0][2])
        print(f"  router CPU: {share * 100:.0f}% of one core")


if __name__ == "__main__":
    install(os.environ["OMNIROUTE_TRACE_OUT"])
    from omniroute.cli import main
    sys.argv = ["omniroute", *sys.argv[1:]]
    raise SystemExit(main())
