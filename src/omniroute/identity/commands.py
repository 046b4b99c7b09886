"""Internal messages of identity (JSON on ``omniroute.internal.identity-*`` topics).

``Observe`` and ``Reassign`` travel on the address topic, keyed by
:func:`~omniroute.identity.customers.address_key`; :class:`~.claims.Claim`
travels on the graph topic, keyed by workspace.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

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


AddressCommand = Annotated[Observe | Reassign, Field(discriminator="kind")]
ADDRESS_COMMAND: TypeAdapter[Observe | Reassign] = TypeAdapter(AddressCommand)
CLAIM: TypeAdapter[Claim] = TypeAdapter(Claim)
