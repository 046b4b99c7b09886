"""A one-hop faust passthrough (the floor of any faust processor), run by bench_identity.py.

``python bench/identity/faust_passthrough.py BOOTSTRAP NAMESPACE DATADIR``: one agent,
``concurrency=1``, reads ``omniroute.inbound.v1`` and writes every record
unchanged to ``bench.faust-passthrough`` (acks=all), with one changelog-backed
table write per record, the same per-record machinery the worker uses. faust's
data directory is DATADIR (the benchmark's state directory), not one named after
the app in the working directory.
"""

from __future__ import annotations

import sys
from typing import Any

import faust


def main() -> None:
    bootstrap, namespace, datadir = sys.argv[1:4]
    app = faust.App(
        f"{namespace}bench-faust-passthrough", broker=f"kafka://{bootstrap}", store="memory://",
        datadir=datadir, web_enabled=False, topic_partitions=3, topic_disable_leader=True,
        autodiscover=False,
        consumer_auto_offset_reset="earliest", producer_acks=-1,
    )
    raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
                           "value_serializer": "raw"}
    source = app.topic(f"{namespace}omniroute.inbound.v1", **raw)
    sink = app.topic(f"{namespace}bench.faust-passthrough", **raw)
    seen = app.Table("seen", default=None, partitions=3)

    @app.agent(source, concurrency=1)
    async def process_passthrough(stream: Any) -> None:
        async for event in stream.events():
            seen[event.key.decode()] = event.message.offset
            await sink.send(key=event.key, value=event.value)

    faust.Worker(app, quiet=True, loglevel="WARNING", redirect_stdouts=False,
                 override_logging=False).execute_from_commandline()


if __name__ == "__main__":
    main()
