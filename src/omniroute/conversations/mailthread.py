"""Our own outbound email Message-IDs: deterministic, and naming their conversation.

The email connector gives every reply ``Message-ID: <omniroute.{digest}.{conversation}@{domain}>``
(:func:`outbound_message_id`): the digest comes from the outbound ``event_id``
(a retried send carries the same id, and a bounce of it finds it again), the
conversation id lets threading recognize a customer's reply to our mail
(``In-Reply-To``/``References``) at any age, without a lookup
(:func:`conversation_of_message_id`).
"""

from __future__ import annotations

import hashlib
import re

from omniroute.contract.base import Channel
from omniroute.contract.inbound import InboundMessage, ThreadHints

PREFIX = "omniroute."
MAX_REFERENCES = 10
"""References a reply carries: the thread's first message and the latest ones (RFC 5322
lets a long chain be shortened so; mail clients thread on the first and the last)."""
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_OURS = re.compile(r"^<?omniroute\.[0-9a-f]{32}\.([A-Za-z0-9_-]{1,64})@[^>\s]+>?$")


def outbound_message_id(event_id: str, conversation_id: str, channel_account: str) -> str:
    """The Message-ID (without brackets) of an outbound email."""
    domain = channel_account.rpartition("@")[2] or "omniroute.invalid"
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    if _SAFE.match(conversation_id):
        return f"{PREFIX}{digest}.{conversation_id}@{domain}"
    return f"{PREFIX}{digest}@{domain}"


def conversation_of_message_id(message_id: str) -> str | None:
    """The conversation named by one of our Message-IDs, or None for anyone else's."""
    found = _OURS.match(message_id.strip())
    return found.group(1) if found else None


def reply_thread(mail: ThreadHints | None) -> ThreadHints | None:
    """The thread of a reply to ``mail`` (the hints of an inbound email): its subject, and
    its Message-ID after its own chain, so the customer's mail client shows the reply under
    their mail. Its reply token is not kept: a reply names its own conversation."""
    if mail is None or (mail.message_id is None and mail.subject is None):
        return None
    chain = list(dict.fromkeys([*mail.references, *mail.in_reply_to]))
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1):]]
    return ThreadHints(message_id=mail.message_id, references=chain, subject=mail.subject)


def thread_of(message: InboundMessage) -> ThreadHints | None:
    """The thread a reply to ``message`` goes in: :func:`reply_thread` of an email's hints,
    None on every other channel (they have no threads)."""
    return reply_thread(message.thread) if message.channel == Channel.EMAIL else None
