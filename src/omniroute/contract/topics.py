"""The public topics: the contract between omniroute and everything around it.

A topic is a public API. Its name ends in its major version; an incompatible
change is a new topic (``.v2``), never an edit of this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from omniroute.contract.agents import AgentEvent
from omniroute.contract.assignments import AssignmentEvent
from omniroute.contract.base import Envelope
from omniroute.contract.conversations import ConversationEvent
from omniroute.contract.customers import CustomerEvent
from omniroute.contract.deadletter import DeadLetter
from omniroute.contract.delivery import DeliveryStatus
from omniroute.contract.identity import IdentityLink
from omniroute.contract.inbound import InboundMessage
from omniroute.contract.outbound import OutboundMessage
from omniroute.contract.selfservice import SelfServiceEvent


@dataclass(frozen=True)
class PublicTopic:
    """One public topic: its name, payload model, key and flow."""

    name: str
    model: type[Envelope]
    key: str
    producers: str
    consumers: str
    summary: str

    @property
    def slug(self) -> str:
        """The name without the ``omniroute.`` prefix and version: ``inbound``."""
        return self.name.removeprefix("omniroute.").rsplit(".", 1)[0]


INBOUND = PublicTopic(
    "omniroute.inbound.v1",
    InboundMessage,
    "{channel}:{sender address}",
    "connectors",
    "identity",
    "Customer messages from every channel, normalized.",
)
OUTBOUND = PublicTopic(
    "omniroute.outbound.v1",
    OutboundMessage,
    "conversation id",
    "agent apps, automation",
    "connectors",
    "Messages to deliver to customers.",
)
DELIVERY = PublicTopic(
    "omniroute.delivery.v1",
    DeliveryStatus,
    "conversation id",
    "connectors",
    "history, agent apps",
    "Provider delivery statuses of outbound messages.",
)
IDENTITY_LINKS = PublicTopic(
    "omniroute.identity-links.v1",
    IdentityLink,
    "customer hint",
    "integrations (CRM, verified web chat)",
    "identity",
    "Link and unlink claims.",
)
AGENT_EVENTS = PublicTopic(
    "omniroute.agent-events.v1",
    AgentEvent,
    "agent id",
    "agent apps",
    "router",
    "Presence, capacity, accept/decline, wrap-up, resolve, transfer.",
)
ASSIGNMENTS = PublicTopic(
    "omniroute.assignments.v1",
    AssignmentEvent,
    "agent id",
    "router",
    "agent apps",
    "Offers, assignments, revocations and rescinds, with reasons.",
)
CONVERSATIONS = PublicTopic(
    "omniroute.conversations.v1",
    ConversationEvent,
    "conversation id",
    "processors",
    "history, analytics, integrations",
    "Conversation lifecycle events.",
)
DLQ = PublicTopic(
    "omniroute.dlq.v1",
    DeadLetter,
    "source key",
    "any processor",
    "operators",
    "Records a processor refused, with the reason.",
)
SELFSERVICE = PublicTopic(
    "omniroute.selfservice.v1",
    SelfServiceEvent,
    "visitor id (else customer id)",
    "web chat widget (help search), proactive prompts",
    "history, analytics",
    "Self-service steps: proactive prompts sent/opened, searches, article views.",
)

CUSTOMER_EVENTS = PublicTopic(
    "omniroute.customers.v1",
    CustomerEvent,
    "customer id",
    "identity (worker)",
    "history, integrations",
    "Customers merged into another by a link, and split off again by an unlink.",
)

PUBLIC_TOPICS: tuple[PublicTopic, ...] = (
    INBOUND,
    OUTBOUND,
    DELIVERY,
    IDENTITY_LINKS,
    AGENT_EVENTS,
    ASSIGNMENTS,
    CONVERSATIONS,
    DLQ,
    SELFSERVICE,
    CUSTOMER_EVENTS,
)
