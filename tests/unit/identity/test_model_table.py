"""ModelTable: JSON bytes in the changelog, decoded models reused until the value changes."""

from __future__ import annotations

from omniroute.identity.customers import AddressRecord
from omniroute.worker.tables import ModelTable


class TestModelTable:
    """A dict stands in for the faust table (a mapping of key to stored value)."""

    def test_a_written_model_is_read_back_without_parsing(self) -> None:
        """The stored value is the model's JSON; reading it back returns the same object."""
        table: dict[str, object] = {}
        models = ModelTable(table, AddressRecord)
        record = AddressRecord(owner="cus_1")
        models.set("ws/tel:+1", record)
        assert table["ws/tel:+1"] == record.model_dump_json().encode()
        assert models.get("ws/tel:+1") is record

    def test_a_value_restored_from_the_changelog_is_parsed(self) -> None:
        """Bytes this process did not write (a changelog restore) are validated afresh."""
        table: dict[str, object] = {}
        models = ModelTable(table, AddressRecord)
        models.set("k", AddressRecord(owner="cus_1"))
        table["k"] = AddressRecord(owner="cus_2").model_dump_json().encode()
        restored = models.get("k")
        assert restored is not None and restored.owner == "cus_2"

    def test_missing_and_json_decoded_values(self) -> None:
        """No value reads as None; a value faust decoded to a dict still validates."""
        table: dict[str, object] = {"d": {"owner": "cus_3"}}
        models = ModelTable(table, AddressRecord)
        assert models.get("nothing") is None
        restored = models.get("d")
        assert restored is not None and restored.owner == "cus_3"
