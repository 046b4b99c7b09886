"""Customer ids are a keyed hash (issue 16): not reversible without OMNIROUTE_IDENTITY_KEY."""

from __future__ import annotations

import hashlib

from omniroute.identity.customers import customer_id_for


class TestKeyedCustomerIds:
    def test_the_id_depends_on_the_key(self) -> None:
        address = "tel:+14155550100"
        one = customer_id_for("default", address, key=b"key-one-0123456789")
        assert one == customer_id_for("default", address, key=b"key-one-0123456789")
        assert one != customer_id_for("default", address, key=b"key-two-0123456789")

    def test_the_unkeyed_hash_no_longer_names_the_customer(self) -> None:
        """Hashing every phone number without the key finds nothing."""
        address = "tel:+14155550100"
        unkeyed = hashlib.sha256(f"default\n{address}".encode()).hexdigest()[:24]
        assert customer_id_for("default", address) != f"cus_{unkeyed}"
