"""aiokafka's default partitioner, with the keys' hashes remembered.

aiokafka hashes every key with a pure-Python murmur2 (a few microseconds per
key), and the batch engine's outputs repeat their keys: every event of a
conversation is keyed by its id, every command of a customer by the
customer's. :class:`KeyHashes` picks exactly the partition aiokafka's
:class:`~aiokafka.partitioner.DefaultPartitioner` picks (murmur2 of the key,
masked to 31 bits, modulo the topic's partition count; a random available
partition for no key), looking each key's hash up first.
"""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2

LIMIT = 1 << 15
"""Hashes remembered; past this the memory starts over (it only saves hashing)."""


class KeyHashes:
    """A producer's ``partitioner`` (see the module docstring)."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.hashes: dict[bytes, int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int],
                 available: list[int]) -> int:
        """The partition of ``key`` among ``all_partitions`` (sorted by id)."""
        if key is None:
            return int(DefaultPartitioner()(key, all_partitions, available))
        found = self.hashes.get(key)
        if found is None:
            if len(self.hashes) >= self.limit:
                self.hashes.clear()
            found = self.hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[found % len(all_partitions)]
