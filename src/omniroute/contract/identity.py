"""IdentityLink: a claim that addresses belong (or no longer belong) to one person.

Topic ``omniroute.identity-links.v1``, key ``customer_hint``. Integrations (a CRM,
verified web chat) produce it; identity merges on ``link`` and splits on
``unlink``. Only strong claims merge customers; weak ones are recorded.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from omniroute.contract.base import ChannelAddress, Envelope, Identifier


class LinkAction(StrEnum):
    """Whether the claim joins addresses or separates them."""

    LINK = "link"
    UNLINK = "unlink"


class Evidence(StrEnum):
    """How much a claim is worth: only strong evidence merges customers."""

    STRONG = "strong"
    WEAK = "weak"


class IdentityLink(Envelope):
    """A link or unlink claim about a set of addresses."""

    action: LinkAction
    customer_hint: Identifier = Field(description="The claimant's id for the person (CRM id).")
    addresses: Annotated[list[ChannelAddress], Field(min_length=1, max_length=100)]
    source: Annotated[str, Field(min_length=1, max_length=64)]
    evidence: Evidence = Evidence.STRONG
    reason: Annotated[str, Field(max_length=1000)] | None = None
