"""The batch engine's pure parts: its tables (per partition number) and its assignor."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from pydantic import BaseModel

from omniroute.worker.assignor import CopartitionedAssignor, deal
from omniroute.worker.state import CURRENT, ModelTable, Pending, Table, model_value


class Thing(BaseModel):
    name: str
    n: int = 0


def at(partition: int) -> object:
    """Handle a record of ``partition`` (what the loop does around each batch)."""
    return CURRENT.set(Pending(partition))


def test_writes_go_to_the_current_partition_and_yield_one_change_per_key() -> None:
    table = Table("t", "ns.t-changelog", 6)
    token = at(3)
    table["a"] = {"x": 1}
    table["a"] = {"x": 2}  # twice in one batch: one changelog record, the last value
    table["b"] = [1]
    del table["b"]
    assert table.get("a") == {"x": 2} and "b" not in table
    CURRENT.reset(token)  # type: ignore[arg-type]
    token = at(4)
    assert table.get("a") is None  # another partition's entry is not visible
    CURRENT.reset(token)  # type: ignore[arg-type]
    assert table.changes(4) == []
    assert table.changes(3) == [(b"a", json.dumps({"x": 2}, separators=(",", ":")).encode()),
                                (b"b", None)]
    assert table.changes(3) == []  # sent once


def test_writes_outside_a_record_are_refused_and_reads_see_every_partition() -> None:
    table = Table("t", "ns.t-changelog", 6)
    for partition, key in ((0, "a"), (5, "b")):
        token = at(partition)
        table[key] = partition
        CURRENT.reset(token)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        table["c"] = 1
    assert sorted(table) == ["a", "b"] and table.get("b") == 5


def test_restore_folds_the_changelog_and_drop_forgets() -> None:
    table = Table("t", "ns.t-changelog", 6)
    assert table.restore(2, iter([(b"a", b"1"), (b"b", b"2"), (b"a", None)])) == 3
    token = at(2)
    assert dict(table.items()) == {"b": 2}
    CURRENT.reset(token)  # type: ignore[arg-type]
    table.drop(2)
    assert list(table.all_items()) == []


def test_model_table_encodes_once_per_batch_and_parses_restored_bytes_once() -> None:
    table = Table("m", "ns.m-changelog", 6, encode=model_value, decode=bytes)
    models = ModelTable(table, Thing)
    table.restore(1, iter([(b"k", Thing(name="old").model_dump_json().encode())]))
    token = at(1)
    first = models.get("k")
    assert first == Thing(name="old") and models.get("k") is first  # parsed once
    models.set("k", Thing(name="new", n=1))
    models.set("k", Thing(name="new", n=2))
    CURRENT.reset(token)  # type: ignore[arg-type]
    assert [t.n for t in models.values()] == [2]
    assert table.changes(1) == [(b"k", Thing(name="new", n=2).model_dump_json().encode())]


def test_erasure_sees_entries_as_bytes_and_deletes_become_tombstones() -> None:
    table = Table("m", "ns.m-changelog", 6, encode=model_value, decode=bytes)
    ModelTable(table, Thing)

    async def erase() -> None:
        token = at(0)
        table["k"] = Thing(name="secret")
        table.changes(0)
        store = table.data
        assert store.items() == [("k", Thing(name="secret").model_dump_json().encode())]
        del store["k"]
        await asyncio.gather(table.send_changelog(0, "k", None, value_serializer="raw"))
        CURRENT.reset(token)

    asyncio.run(erase())
    assert table.changes(0) == [(b"k", None)]


def test_members_get_whole_partition_numbers_of_every_topic() -> None:
    assert deal(range(6), ["m2", "m1", "m3"]) == {"m1": [0, 3], "m2": [1, 4], "m3": [2, 5]}
    cluster = ClusterMetadata()
    topics = {"in": 6, "customers": 6, "graph": 6}
    cluster._partitions = {t: {p: None for p in range(n)} for t, n in topics.items()}
    members = {m: ConsumerProtocolMemberMetadata(0, sorted(topics), b"")
               for m in ("a", "b", "c", "d")}
    assignment = CopartitionedAssignor.assign(cluster, members)
    owned: dict[int, set[str]] = {}
    for member, given in assignment.items():
        for topic, partitions in given.assignment:
            assert topic in topics
            for partition in partitions:
                owned.setdefault(partition, set()).add(member)
        numbers = [set(parts) for _, parts in given.assignment]
        assert all(n == numbers[0] for n in numbers)  # the same numbers on every topic
        assert len(given.assignment) == 3
    assert sorted(owned) == list(range(6))
    assert all(len(members) == 1 for members in owned.values())


class TestFaustChangelogKeys:
    """The faust worker wrote table keys JSON-encoded; the batch engine writes them raw."""

    def test_a_restore_reads_faust_keys_and_raw_keys_as_the_same_key(self) -> None:
        """A key faust wrote, then the batch engine rewrote, is one key with the later value."""
        table = Table("t", "ns.t-changelog", 3)
        table.restore(1, iter([(b'"cus_1"', b'{"n":1}'), (b'"cus_2"', b'{"n":2}'),
                               (b"cus_1", b'{"n":3}'), (b'"cus_3"', b'{"n":4}'),
                               (b'"cus_3"', None)]))
        token = at(1)
        assert dict(table.items()) == {"cus_1": {"n": 3}, "cus_2": {"n": 2}}
        CURRENT.reset(token)  # type: ignore[arg-type]

    def test_the_first_write_of_a_faust_key_tombstones_faust_s_form_before_it(self) -> None:
        """So that compaction, after a later delete, cannot bring faust's value back."""
        table = Table("t", "ns.t-changelog", 3)
        table.restore(1, iter([(b'"cus_1"', b'{"n":1}'), (b"plain", b"1")]))
        token = at(1)
        table["cus_1"] = {"n": 2}
        table["plain"] = 2
        CURRENT.reset(token)  # type: ignore[arg-type]
        assert table.changes(1) == [(b'"cus_1"', None), (b"cus_1", b'{"n":2}'),
                                    (b"plain", b"2")]
        token = at(1)
        del table["cus_1"]
        CURRENT.reset(token)  # type: ignore[arg-type]
        assert table.changes(1) == [(b"cus_1", None)]  # faust's form is gone already
        rebuilt = Table("t", "ns.t-changelog", 3)
        rebuilt.restore(1, iter([(b'"cus_1"', b'{"n":1}'), (b'"cus_1"', None),
                                 (b"cus_1", b'{"n":2}'), (b"cus_1", None)]))
        assert rebuilt.parts[1] == {} and rebuilt.faust_keys[1] == set()
