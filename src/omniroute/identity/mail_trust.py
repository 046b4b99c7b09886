"""Email senders are trusted only when authenticated: otherwise a weak claim, never a merge.

A ``From:`` can be forged. Ingress records the sender's SPF/DKIM/DMARC verdict
in the message's metadata (``email_auth``: ``pass`` or ``fail``; see
``omniroute_connectors.email.authentication``). Identity files an email under:

- ``mailto:{address}`` when ``email_auth`` is ``pass``: the address every strong
  claim (a verified web-chat identity, a CRM link) names, so the mail joins that
  customer and their conversations;
- ``unverified:mailto:{address}`` otherwise (``fail``, or no verdict at all: a
  producer that did not check): an address of its own, so the mail opens its
  own customer and conversation and never joins (or replies into) the
  customer who owns ``mailto:{address}``. The agent sees the sender as
  ``unverified``; beside it, a **weak** claim linking the two addresses is
  recorded in the identity graph (counted as ``weak``; never merges).
"""

from __future__ import annotations

from omniroute.contract import Channel, InboundMessage, LinkAction
from omniroute.identity.claims import Claim

UNVERIFIED = "unverified:"
"""Prefix of the address an unauthenticated sender's mail is filed under."""
UNAUTHENTICATED_EMAIL_SOURCE = "email-unauthenticated"


def is_authenticated(message: InboundMessage) -> bool:
    """Whether the mail's sender passed SPF/DKIM/DMARC (as judged at ingress)."""
    return message.metadata.get("email_auth") == "pass"


def trusted_address(message: InboundMessage, address: str) -> str:
    """The address identity files ``message`` under (see the module docstring)."""
    if message.channel is Channel.EMAIL and not is_authenticated(message):
        return UNVERIFIED + address
    return address


def weak_email_claim(message: InboundMessage, address: str) -> Claim | None:
    """The weak claim an unauthenticated mail makes (its unverified address is the
    ``From:``), or None for any other message."""
    if not address.startswith(UNVERIFIED):
        return None
    return Claim(workspace=message.workspace, action=LinkAction.LINK,
                 source=UNAUTHENTICATED_EMAIL_SOURCE, subject=address.removeprefix(UNVERIFIED),
                 addresses=sorted({address, address.removeprefix(UNVERIFIED)}), strong=False,
                 event_id=message.event_id, occurred_at=message.occurred_at)
