"""Upload ids bind a stored file to the visitor who uploaded it."""

from __future__ import annotations

import hashlib

from omniroute_connectors.webchat.uploads import sniff, upload_id_for, uploaded_digest

KEY = b"identity-key-of-this-deployment"
DIGEST = hashlib.sha256(b"%PDF-1.7 invoice").hexdigest()


def test_an_upload_id_names_its_file_for_its_visitor_only() -> None:
    upload_id = upload_id_for(KEY, "visitor-rin", DIGEST)
    assert upload_id.startswith(f"sha256:{DIGEST}.")
    assert uploaded_digest(KEY, "visitor-rin", upload_id) == DIGEST
    assert uploaded_digest(KEY, "visitor-mallory", upload_id) is None
    assert uploaded_digest(b"another deployment's key", "visitor-rin", upload_id) is None
    other_file = hashlib.sha256(b"another file").hexdigest()
    assert uploaded_digest(KEY, "visitor-rin", upload_id.replace(DIGEST, other_file)) is None


def test_bare_digests_and_malformed_ids_name_nothing() -> None:
    for upload_id in (f"sha256:{DIGEST}", f"sha256:{DIGEST}.", f"sha256:{DIGEST}.{'g' * 32}",
                      f"md5:{DIGEST}.{'0' * 32}", ""):
        assert uploaded_digest(KEY, "visitor-rin", upload_id) is None


def test_the_type_comes_from_the_bytes() -> None:
    assert sniff(b"%PDF-1.7 invoice") == "application/pdf"
    assert sniff(b"<html>") is None
