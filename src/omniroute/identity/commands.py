"""Internal messages of identity (JSON on ``omniroute.internal.identity-*`` topics).

``Observe`` and ``Reassign`` travel on the customers topic, keyed by the
address's home customer (:func:`~omniroute.identity.customers.customer_id_for`
of the address), so the address's record lives beside that customer's state;
:class:`~.claims.Claim` travels on the graph topic, keyed by workspace.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

from omniroute.contract import InboundMessage
from omniroute.identity.claims import Claim


class Observe(BaseModel):
    """A customer message from a normalized address (and the claim it carries, if any)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["observe"] = "observe"
    address: str
    message: InboundMessage
    claim: Claim | None = None


class Reassign(BaseModel):
    """The identity graph moved an address to another customer (``owner``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["reassign"] = "reassign"
    workspace: str
    address: str
    owner: str
    event_id: str


CLAIM: TypeAdapter[Claim] = TypeAdapter(Claim)
