"""Email attachments' bytes (``attachment_blobs``) go with the last attachment naming them.

The email intake stores each attachment's bytes once per SHA-256, before the mail is
acknowledged; ``attachments`` rows name them as ``media_id = 'sha256:<hex>'`` (the same
file mailed by two customers is one blob, two rows). Whatever deletes attachment rows
(erasure, :mod:`.privacy`; retention, :mod:`.retention`) deletes, in its transaction, the
blobs those rows named that no remaining row names.

A blob no row ever named (a mail acknowledged but never written by the sink, or an
attachment dropped to fit the event size) is deleted by retention once it is older than
:data:`ORPHAN_GRACE`, long enough for the sink to catch up after an outage.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import asyncpg

ORPHAN_GRACE = timedelta(days=7)
PREFIX = "sha256:"
_NAMED = (f"SELECT 1 FROM attachments a WHERE a.media_id LIKE '{PREFIX}%' "
          f"AND a.media_id = '{PREFIX}' || b.sha256")
_FORGET = f"""DELETE FROM attachment_blobs b
WHERE b.sha256 = ANY($1::text[]) AND NOT EXISTS ({_NAMED})"""
_ORPHANS = f"DELETE FROM attachment_blobs b WHERE b.stored_at < $1 AND NOT EXISTS ({_NAMED})"


def digests(media_ids: Iterable[str | None]) -> list[str]:
    """The distinct SHA-256 digests among attachment ``media_id`` values (email's only)."""
    return sorted({m.removeprefix(PREFIX) for m in media_ids if m and m.startswith(PREFIX)})


async def delete_unnamed(conn: asyncpg.Connection, media_ids: Iterable[str | None]) -> int:
    """Delete the blobs of ``media_ids`` (of attachment rows just deleted) that no remaining
    attachment row names; how many went."""
    wanted = digests(media_ids)
    if not wanted:
        return 0
    return int((await conn.execute(_FORGET, wanted)).split()[-1])


async def delete_orphans(conn: asyncpg.Connection, now: datetime) -> int:
    """Delete blobs older than :data:`ORPHAN_GRACE` that no attachment row names."""
    return int((await conn.execute(_ORPHANS, now - ORPHAN_GRACE)).split()[-1])
