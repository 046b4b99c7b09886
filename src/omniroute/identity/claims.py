"""Link claims: statements that addresses belong (or no longer belong) together.

A claim's id is derived from its content (source, subject, addresses), so the
same statement repeated (every message of a verified web-chat visitor carries
it) is one claim. ``subject`` is who the claimant says the person is (a CRM
id, a verified identifier); two claims from the same source about different
subjects sharing an address conflict.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from omniroute.contract import IdentityLink, InboundMessage, LinkAction
from omniroute.contract.identity import Evidence
from omniroute.errors import RejectedInput
from omniroute.identity.addresses import (
    normalize_address,
    normalize_email,
    normalize_phone,
    verified_address,
)

VERIFIED_WEBCHAT_SOURCE = "webchat-verified"


class Claim(BaseModel):
    """A normalized link or unlink claim, as the identity graph stores it."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["claim"] = "claim"
    workspace: str
    action: LinkAction
    source: str
    subject: str
    addresses: list[str] = Field(min_length=1)
    strong: bool = True
    event_id: str
    occurred_at: datetime | None = None
    """When the claimant made the statement: orders a link against an unlink."""

    @property
    def claim_id(self) -> str:
        """Content-derived id: the same statement is the same claim."""
        text = "\n".join([self.workspace, self.source, self.subject, *sorted(self.addresses)])
        return "clm_" + hashlib.sha256(text.encode()).hexdigest()[:24]


def claim_from_link(link: IdentityLink, default_region: str) -> Claim:
    """An IdentityLink event (from a CRM or integration) normalized; RejectedInput if bad."""
    addresses = sorted(
        {normalize_address(a.channel, a.address, default_region) for a in link.addresses}
    )
    return Claim(
        workspace=link.workspace,
        action=link.action,
        source=link.source,
        subject=link.customer_hint,
        addresses=addresses,
        strong=link.evidence is Evidence.STRONG,
        event_id=link.event_id,
        occurred_at=link.occurred_at,
    )


def claim_from_verified(message: InboundMessage, sender: str, default_region: str) -> Claim | None:
    """The strong claim a verified web-chat identity makes, or None without one.

    The connector checked the HMAC; the identifier, and the email and phone the
    workspace attached to it, are the customer's.
    """
    identity = message.verified_identity
    if identity is None:
        return None
    addresses = {sender, verified_address(identity.identifier)}
    if identity.email:
        with contextlib.suppress(RejectedInput):
            addresses.add(normalize_email(identity.email))
    if identity.phone:
        phone = normalize_phone(identity.phone, default_region)
        if phone:
            addresses.add(f"tel:{phone}")
    return Claim(
        workspace=message.workspace,
        action=LinkAction.LINK,
        source=VERIFIED_WEBCHAT_SOURCE,
        subject=identity.identifier,
        addresses=sorted(addresses),
        event_id=message.event_id,
        occurred_at=message.occurred_at,
    )
