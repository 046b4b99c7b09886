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


def test_an_ip_uploads_at_most_its_hourly_bytes() -> None:
    from omniroute.settings import Settings
    from omniroute_connectors.webchat.limits import ChatLimits

    limits = ChatLimits(Settings(webchat_upload_bytes_per_ip_per_hour=100))
    assert limits.upload_room("10.0.0.1") and limits.uploaded("10.0.0.1", 60)
    assert not limits.uploaded("10.0.0.1", 60)  # does not fit: refused, and not counted
    assert limits.uploaded("10.0.0.1", 40)
    assert not limits.upload_room("10.0.0.1") and not limits.uploaded("10.0.0.1", 1)
    assert limits.upload_room("10.0.0.2") and limits.uploaded("10.0.0.2", 100)
