"""The stored bytes of email attachments go with the last attachment row naming them: when
erasure or retention deletes attachment rows, against the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from integration.history.factories import T0, added, opened
from omniroute.contract import Address, Attachment, AttachmentKind, Channel, InboundMessage
from omniroute.history.privacy import erase_customer
from omniroute.history.retention import run_retention
from omniroute.history.store import write_batch

ONLY_JANES, SHARED, ORPHAN_OLD, ORPHAN_NEW = "a1" * 32, "b2" * 32, "c3" * 32, "d4" * 32
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def mail(n: int, sender: str, *digests: str, at: datetime = T0) -> InboundMessage:
    """Customer mail number ``n`` carrying a PDF per digest."""
    return InboundMessage(
        event_id=f"email:{n:040d}", occurred_at=at + timedelta(minutes=n), channel=Channel.EMAIL,
        provider="smtp", channel_account="support@acme.test", sender=Address(value=sender),
        recipient=Address(value="support@acme.test"), provider_message_id=f"<{n}@example.com>",
        text="see attached", attachments=[
            Attachment(kind=AttachmentKind.FILE, media_id=f"sha256:{d}",
                       content_type="application/pdf", filename=f"{d[:4]}.pdf")
            for d in digests])


async def store_blobs(conn: asyncpg.Connection, stored: dict[str, datetime]) -> None:
    """Blobs as the email intake stores them, each ``stored_at`` the given time."""
    await conn.executemany(
        "INSERT INTO attachment_blobs (sha256, content_type, size_bytes, bytes, stored_at) "
        "VALUES ($1, 'application/pdf', 4, '%PDF', $2)", list(stored.items()))


async def kept(conn: asyncpg.Connection) -> set[str]:
    return {r["sha256"] for r in await conn.fetch("SELECT sha256 FROM attachment_blobs")}


async def test_erasing_a_customer_deletes_the_blobs_only_their_messages_named(
        database_url: str) -> None:
    """Jane's own PDF goes with her; the PDF Bob mailed too stays for Bob's message."""
    jane, bob = mail(1, "jane@example.com", ONLY_JANES, SHARED), mail(2, "bob@example.com",
                                                                      SHARED)
    conn = await asyncpg.connect(database_url)
    try:
        await store_blobs(conn, {ONLY_JANES: T0, SHARED: T0})
        await write_batch(conn, [  # type: ignore[arg-type]
            ("conversations", opened("c1", "cust-jane")), ("inbound", jane),
            ("conversations", added(jane, conversation="c1", customer="cust-jane")),
            ("conversations", opened("c2", "cust-bob")), ("inbound", bob),
            ("conversations", added(bob, conversation="c2", customer="cust-bob"))])
        detail = await erase_customer(conn, "cust-jane", actor="dpo")
        assert detail is not None
        assert (detail["counts"]["attachments"], detail["counts"]["attachment_blobs"]) == (2, 1)
        assert await kept(conn) == {SHARED}
        assert await erase_customer(conn, "cust-bob", actor="dpo") is not None
        assert await kept(conn) == set()
    finally:
        await conn.close()


async def test_retention_deletes_expired_attachments_blobs_and_old_orphans(
        database_url: str) -> None:
    """Attachment rows past the longest policy take the blobs no newer row names; a blob no
    row names is deleted once older than the grace, not before."""
    old = mail(1, "jane@example.com", ONLY_JANES, SHARED, at=NOW - timedelta(days=40))
    recent = mail(2, "bob@example.com", SHARED, at=NOW - timedelta(days=2))
    conn = await asyncpg.connect(database_url)
    try:
        await store_blobs(conn, {ONLY_JANES: NOW - timedelta(days=40),
                                 SHARED: NOW - timedelta(days=40),
                                 ORPHAN_OLD: NOW - timedelta(days=8),
                                 ORPHAN_NEW: NOW - timedelta(hours=1)})
        await write_batch(conn, [("inbound", old), ("inbound", recent)])
        await run_retention(conn, now=NOW)
        assert await conn.fetchval("SELECT count(*) FROM attachments") == 1
        assert await kept(conn) == {SHARED, ORPHAN_NEW}
    finally:
        await conn.close()
