"""The public contract: one pydantic model per public topic payload.

Import from here; the submodules are an implementation detail.
"""

from omniroute.contract.agents import (
    AgentEvent,
    AgentEventKind,
    Capacity,
    ChannelCapacity,
    Presence,
)
from omniroute.contract.assignments import AssignmentEvent, AssignmentKind, Decision
from omniroute.contract.base import (
    DEFAULT_WORKSPACE,
    Address,
    Channel,
    ChannelAddress,
    ContractModel,
    Envelope,
    utcnow,
)
from omniroute.contract.conversations import (
    ConversationEvent,
    ConversationEventKind,
    Direction,
    MessageRef,
    Rating,
)
from omniroute.contract.customers import CustomerEvent, CustomerEventKind
from omniroute.contract.deadletter import DeadLetter
from omniroute.contract.delivery import DeliveryState, DeliveryStatus
from omniroute.contract.identity import Evidence, IdentityLink, LinkAction
from omniroute.contract.inbound import (
    Attachment,
    AttachmentKind,
    InboundMessage,
    InteractiveKind,
    InteractiveReply,
    Location,
    Reaction,
    SharedContact,
    ThreadHints,
    VerifiedIdentity,
)
from omniroute.contract.outbound import Author, AuthorKind, Choice, OutboundMessage, Template
from omniroute.contract.selfservice import SelfServiceEvent, SelfServiceEventKind
from omniroute.contract.topics import PUBLIC_TOPICS, PublicTopic

__all__ = [
    "DEFAULT_WORKSPACE",
    "PUBLIC_TOPICS",
    "Address",
    "AgentEvent",
    "AgentEventKind",
    "AssignmentEvent",
    "AssignmentKind",
    "Attachment",
    "AttachmentKind",
    "Author",
    "AuthorKind",
    "Capacity",
    "Channel",
    "ChannelAddress",
    "ChannelCapacity",
    "Choice",
    "ContractModel",
    "ConversationEvent",
    "ConversationEventKind",
    "CustomerEvent",
    "CustomerEventKind",
    "DeadLetter",
    "Decision",
    "DeliveryState",
    "DeliveryStatus",
    "Direction",
    "Envelope",
    "Evidence",
    "IdentityLink",
    "InboundMessage",
    "InteractiveKind",
    "InteractiveReply",
    "LinkAction",
    "Location",
    "MessageRef",
    "OutboundMessage",
    "Presence",
    "PublicTopic",
    "Rating",
    "Reaction",
    "SelfServiceEvent",
    "SelfServiceEventKind",
    "SharedContact",
    "Template",
    "ThreadHints",
    "VerifiedIdentity",
    "utcnow",
]
