"""CustomerEvent: identity merged a customer into another, or split it off again.

Topic ``omniroute.customers.v1``, key the customer id. The worker produces it when
an identity link merges this customer into ``merged_into`` (the survivor, whose id
agents see from then on) and when an unlink makes it a customer of its own again.
History records it (``customers.merged_into``): exporting or erasing the survivor
covers every conversation the merged-away id ever had, not only the one it handed
over. Integrations (a CRM) learn which of their people omniroute holds as one.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import model_validator

from omniroute.contract.base import Envelope, Identifier


class CustomerEventKind(StrEnum):
    """What identity did to the customer."""

    MERGED = "merged"
    """The customer is now part of ``merged_into``."""
    UNMERGED = "unmerged"
    """An unlink made the customer one of its own again."""


class CustomerEvent(Envelope):
    """One change to who a customer is."""

    customer_id: Identifier
    kind: CustomerEventKind
    merged_into: Identifier | None = None

    @model_validator(mode="after")
    def _survivor(self) -> CustomerEvent:
        if (self.kind is CustomerEventKind.MERGED) != (self.merged_into is not None):
            raise ValueError("merged_into is set exactly on a merged event")
        return self
