"""Rebuilding a pool-stream partition's pools on assignment: the latest complete
snapshot of each pool, then the committed inputs after it (no output).

Without snapshots the whole committed stream is replayed; without a committed
offset (a new group, or offsets expired after a long stop) the latest snapshot
round says where the router was.
"""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from omniroute.observability.logs import get_logger
from omniroute.routing import snapshot
from omniroute.routing.events import Decision
from omniroute.routing.shell import PoisonRecord
from omniroute.routing.state import PoolState
from omniroute.settings import Settings

log = get_logger("omniroute.router")
SNAPSHOTS = "omniroute.internal.routing-snapshots"


class Restorer:
    """Restores partitions; subclasses fold records with :meth:`apply`."""

    settings: Settings

    def apply(self, pools: dict[str, PoolState], record: ConsumerRecord) -> list[Decision]:
        """Fold one pool-stream record into its pool (raises PoisonRecord)."""
        raise NotImplementedError

    async def restore(self, tp: TopicPartition,
                      committed: int | None) -> tuple[dict[str, PoolState], int | None]:
        """Rebuild a partition's pools: latest snapshots, then the committed inputs after
        them (no output). Without snapshots the whole committed stream is replayed.

        Without a committed offset (a new group, or offsets expired after a long stop)
        the latest snapshot round says where the router was: its pools are restored and
        the returned position (else None) is where consuming resumes."""
        if committed is not None and committed <= 0:
            return {}, None
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                  group_id=None, enable_auto_commit=False,
                                  isolation_level="read_committed", max_poll_records=2000)
        await reader.start()
        try:
            snaps = await self.latest_snapshots(reader, tp.partition, committed)
            pools = {pool: snap.state for pool, snap in snaps.items()}
            since = {pool: snap.offset for pool, snap in snaps.items()}
            start = min(since.values(), default=0)
            until = committed if committed is not None else max(since.values(), default=0)
            replayed = 0
            if until > start:
                log_start = (await reader.beginning_offsets([tp]))[tp]
                if start < log_start:
                    start = self.expired(tp.partition, pools, since, start, log_start)
                replayed = await self.replay(reader, tp, pools, since, start, until)
        finally:
            await reader.stop()
        log.info("router.restored", partition=tp.partition, inputs=replayed, pools=len(pools),
                 snapshots=len(snaps), replay_from=start, committed=committed)
        if committed is None and snaps:
            log.warning("router.no_committed_offset", partition=tp.partition, resume_at=until)
            return pools, until
        return pools, None

    @staticmethod
    def expired(partition: int, pools: dict[str, PoolState], since: dict[str, int],
                start: int, log_start: int) -> int:
        """The pool stream no longer holds what restore needs (a router stopped for
        longer than the personal-data retention bound, or snapshots lost after a
        trim): pools whose snapshot is older than the log start begin empty and fold
        what is left, and the gap is logged as an error. Refusing to start would stop
        routing for good; what the gap held is work that waited weeks."""
        reset = sorted(pool for pool, offset in since.items() if offset < log_start)
        for pool in reset:
            del pools[pool], since[pool]
        log.error("router.history_expired", partition=partition, log_start=log_start,
                  needed_from=start, pools_reset=reset)
        return log_start

    async def latest_snapshots(self, reader: AIOKafkaConsumer, partition: int,
                               until: int | None) -> dict[str, snapshot.Snapshot]:
        """The newest complete snapshot of each pool in the partition's snapshot log (at or
        below ``until``); none at all if one cannot be loaded (a pool missing from the set
        would lose its early inputs)."""
        stp = TopicPartition(self.settings.topic(SNAPSHOTS), partition)
        reader.assign([stp])
        await reader.seek_to_beginning(stp)
        end = (await reader.end_offsets([stp]))[stp]
        newest: dict[str, tuple[int, dict[int, bytes]]] = {}
        while await reader.position(stp) < end:
            for records in (await reader.getmany(stp, timeout_ms=200)).values():
                for record in records:
                    meta = snapshot.header(record.value or b"")
                    if meta is None:
                        log.warning("router.snapshot_unusable", partition=partition,
                                    offset=record.offset)
                        continue
                    offset, pool = int(meta["offset"]), str(meta["pool"])
                    if until is not None and offset > until:
                        continue
                    if pool not in newest or newest[pool][0] < offset:
                        newest[pool] = (offset, {})
                    if newest[pool][0] == offset:
                        newest[pool][1][int(meta["part"])] = record.value or b""
        found: dict[str, snapshot.Snapshot] = {}
        for pool, (_offset, parts) in sorted(newest.items()):
            snap = snapshot.load_parts([parts[n] for n in sorted(parts)])
            if snap is None:
                log.warning("router.snapshot_unusable", partition=partition, pool=pool)
                return {}
            found[pool] = snap
        return found

    async def replay(self, reader: AIOKafkaConsumer, tp: TopicPartition,
                     pools: dict[str, PoolState], since: dict[str, int], start: int,
                     until: int) -> int:
        """Fold the committed inputs ``start..until`` into ``pools``; a pool restored from
        a snapshot skips what the snapshot already reflects."""
        reader.assign([tp])
        reader.seek(tp, start)
        replayed = 0
        while await reader.position(tp) < until:
            for records in (await reader.getmany(tp, timeout_ms=200)).values():
                for record in records:
                    if record.offset >= until:
                        continue
                    pool = (record.key or b"").decode()
                    if record.offset < since.get(pool, 0):
                        continue
                    with contextlib.suppress(PoisonRecord):
                        self.apply(pools, record)
                    replayed += 1
        return replayed
