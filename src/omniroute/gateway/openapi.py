"""The gateway's OpenAPI 3.1 document, generated from the request models and a route table.

Served at ``/openapi.json``; a test checks every API route of the application
is described here, so the document cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from omniroute import __version__
from omniroute.automation.proactive import ProactiveRequest
from omniroute.gateway.administration import ConfigDocument, RestoreRequest, TokenRequest
from omniroute.gateway.commands import (
    ForcePresenceRequest,
    NoteRequest,
    OfferAnswer,
    PresenceRequest,
    ReplayRequest,
    ReplyRequest,
    RerouteRequest,
    ResolveRequest,
    TagsRequest,
    TransferRequest,
    TypingRequest,
)
from omniroute.gateway.configuration import AgentSpec, BotSpec, PoolSpec, RoutingSpec


@dataclass(frozen=True)
class Operation:
    """One documented route."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    accepted: bool = False  # 202: the write is an event on Kafka
    conversation: bool = False  # 403/404 on someone else's / an unknown conversation
    role: str = "agent"  # the least role allowed: agent, supervisor or admin


OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/api/v1/me", "Who the token belongs to: agent id, role, presence (with "
              "`away_reason` `offer timed out` when the router set them away for it), and "
              "whether the router routes to them (`routed`)."),
    Operation("post", "/api/v1/presence", "Set presence (AgentEvent presence).", PresenceRequest,
              accepted=True),
    Operation("post", "/api/v1/heartbeat", "Heartbeat (AgentEvent heartbeat).", accepted=True),
    Operation("get", "/api/v1/offers", "Offers to this agent not yet answered, ended or "
              "expired, with the customer's name and the start of their latest message."),
    Operation("post", "/api/v1/offers/{offer_id}/accept", "Accept an offer (AgentEvent accept).",
              OfferAnswer, accepted=True),
    Operation("post", "/api/v1/offers/{offer_id}/decline",
              "Decline an offer (AgentEvent decline).", OfferAnswer, accepted=True),
    Operation("get", "/api/v1/conversations",
              "Conversations assigned to the agent (supervisors: every open one)."),
    Operation("get", "/api/v1/conversations/{conversation_id}",
              "The conversation, its messages on every channel, notes, the customer's survey "
              "answers (ratings), activity (assigned, transferred, resolved, …), profile and past "
              "conversations.", conversation=True),
    Operation("post", "/api/v1/conversations/{conversation_id}/replies",
              "Reply (OutboundMessage) on the customer's last channel unless `channel` is given.",
              ReplyRequest, accepted=True, conversation=True),
    Operation("post", "/api/v1/conversations/{conversation_id}/notes",
              "Add an internal note (ConversationEvent note_added).", NoteRequest,
              accepted=True, conversation=True),
    Operation("post", "/api/v1/conversations/{conversation_id}/tags",
              "Tag the conversation (ConversationEvent tagged).", TagsRequest, accepted=True,
              conversation=True),
    Operation("post", "/api/v1/conversations/{conversation_id}/transfer",
              "Transfer to an agent or pool (AgentEvent transfer).", TransferRequest,
              accepted=True, conversation=True),
    Operation("post", "/api/v1/conversations/{conversation_id}/resolve",
              "Resolve (AgentEvent resolve).", ResolveRequest, accepted=True, conversation=True),
    Operation("post", "/api/v1/conversations/{conversation_id}/typing",
              "Typing indicator for the customer (web chat shows it): a record on "
              "omniroute.internal.typing.", TypingRequest, accepted=True, conversation=True),
    Operation("get", "/api/v1/conversations/{conversation_id}/messages/{message_id}/"
              "attachments/{position}",
              "The bytes of a customer's attachment (`position`: its index in the message's "
              "`attachments`), fetched from the provider with its credentials; the provider's "
              "Content-Type, inline for images, audio and video, under a sandboxing "
              "Content-Security-Policy.", conversation=True),
    Operation("get", "/api/v1/canned-responses", "The workspace's canned responses."),
    Operation("get", "/api/v1/stream",
              "WebSocket (token as the subprotocol `bearer.<token>` beside `omniroute.v1`, "
              "or in `?token=`): a snapshot of offers and conversations, then "
              "every AssignmentEvent for this agent as JSON `{type: assignment, event}`; send "
              '`{"type":"heartbeat"}` to heartbeat.'),
    # automation admin (supervisors; docs/automation.md)
    Operation("get", "/api/v1/automation/rules", "Every workspace's live automation rules.",
              role="supervisor"),
    Operation("put", "/api/v1/automation/rules/{workspace}",
              "Replace a workspace's live rules (`{\"rules\": [...]}`, validated; `[]` "
              "returns to the automation file's).", role="supervisor"),
    Operation("post", "/api/v1/automation/dry-run",
              "Triage, matching rules, actions and automatic replies for a message; nothing "
              "is sent.", role="supervisor"),
    Operation("post", "/api/v1/automation/proactive",
              "Start a conversation: a proactive OutboundMessage (WhatsApp outside 24 h: a "
              "template is required, else 422). The request_id makes retries idempotent: a "
              "retry is answered 202 with the same ids and Idempotent-Replayed: true, and "
              "publishes nothing.", ProactiveRequest, accepted=True, role="supervisor"),
)

SUPERVISOR_OPERATIONS = (
    Operation("get", "/api/v1/refusals",
              "This agent's events the router refused (AssignmentEvent rejected/refused), "
              "newest first, with the reason."),
    Operation("post", "/api/v1/agents/{agent_id}/presence",
              "Force an agent's presence (AgentEvent presence on their behalf; audited).",
              ForcePresenceRequest, accepted=True, role="supervisor"),
    Operation("get", "/api/v1/board",
              "Supervisor board: per pool waiting count (and how many of them are offered "
              "to an agent now), oldest wait and waiting by priority; waiting conversations "
              "with the agent each is offered to; agents by status with occupancy and "
              "conversations; parked "
              "conversations with their reason.", role="supervisor"),
    Operation("get", "/api/v1/routing/stats",
              "Every routing pool's statistics: real-time (waiting, longest wait, offered, "
              "in progress, agents by status, per queue) and today's (offered, assigned, "
              "abandoned, overflowed, parked, transferred, declined, timed out, average and "
              "longest wait).", role="supervisor"),
    Operation("get", "/api/v1/routing/stats/{pool}",
              "One routing pool's statistics (404: no router publishes it).",
              role="supervisor"),
    Operation("post", "/api/v1/conversations/{conversation_id}/reroute",
              "Route a waiting or parked conversation again (a RoutingRequest; 409 when it "
              "is assigned: transfer it instead).", RerouteRequest, accepted=True,
              conversation=True, role="supervisor"),
    Operation("get", "/api/v1/dead-letters",
              "Dead letters, newest first (query: processor, topic, replayed, contains, "
              "limit).", role="supervisor"),
    Operation("get", "/api/v1/dead-letters/{event_id}",
              "One dead letter with its original key and record.", role="supervisor"),
    Operation("post", "/api/v1/dead-letters/{event_id}/replay",
              "Re-publish the original record to its topic, once (409 when already "
              "replayed).", ReplayRequest, accepted=True, role="supervisor"),
)

ADMIN_OPERATIONS = (
    Operation("get", "/api/v1/admin/config",
              "The live routing configuration (version, routing, pools, agents).", role="admin"),
    Operation("put", "/api/v1/admin/config",
              "Replace the whole configuration (published as a new version; audited).",
              ConfigDocument, role="admin"),
    Operation("get", "/api/v1/admin/config.toml", "Export the configuration as TOML.",
              role="admin"),
    Operation("put", "/api/v1/admin/config.toml",
              "Import a TOML configuration (body: the file; ?reason=).", role="admin"),
    Operation("get", "/api/v1/admin/config/versions",
              "The configuration versions, newest first: who, when, why, pools, agents "
              "(query: limit).", role="admin"),
    Operation("post", "/api/v1/admin/config/versions/{version}/restore",
              "Publish an earlier version again as the new live version (a rollback; "
              "audited; If-Match: the live version).", RestoreRequest, role="admin"),
    Operation("put", "/api/v1/admin/agents/{agent_id}",
              "Create or replace an agent: pool, capacity, channel caps, skills, auto-accept.",
              AgentSpec, role="admin"),
    Operation("delete", "/api/v1/admin/agents/{agent_id}", "Remove an agent.", role="admin"),
    Operation("put", "/api/v1/admin/pools/{pool}",
              "Create or replace a pool's policy: selection, business hours, queue cap, "
              "overflow, timeouts.", PoolSpec, role="admin"),
    Operation("delete", "/api/v1/admin/pools/{pool}", "Remove a pool without agents.",
              role="admin"),
    Operation("put", "/api/v1/admin/routing", "Replace the routing rules and default pool.",
              RoutingSpec, role="admin"),
    Operation("put", "/api/v1/admin/bot", "Switch the answer bot on or off and tune it, live "
              "(the workers that run the bot apply it without restart).", BotSpec, role="admin"),
    Operation("get", "/api/v1/admin/audit",
              "The audit log, newest first (query: action prefix, limit).", role="admin"),
    Operation("get", "/api/v1/admin/tokens", "Tokens (never the secret), with their state.",
              role="admin"),
    Operation("post", "/api/v1/admin/tokens", "Issue a token (shown once in the answer).",
              TokenRequest, role="admin"),
    Operation("delete", "/api/v1/admin/tokens/{token_id}", "Revoke one token.", role="admin"),
)

OPERATIONS += SUPERVISOR_OPERATIONS + ADMIN_OPERATIONS

ERROR = {"$ref": "#/components/schemas/Error"}


def analytics_paths() -> dict[str, dict[str, Any]]:
    """The supervisors' analytics routes (:mod:`omniroute.analytics.api`)."""
    from omniroute.analytics.api import OPERATIONS as ANALYTICS

    error = {"content": {"application/json": {"schema": ERROR}}}
    return {path: {method: {
        "summary": summary, "security": [{"bearer": []}],
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string"}} for p in params],
        "responses": {"200": {"description": "OK"},
                      "400": {"description": "A parameter is invalid.", **error},
                      "401": {"description": "Missing, unknown or revoked token.", **error},
                      "403": {"description": "Not a supervisor.", **error}}}}
        for method, path, summary, params in ANALYTICS}


def _responses(op: Operation) -> dict[str, Any]:
    def error(text: str) -> dict[str, Any]:
        return {"description": text, "content": {"application/json": {"schema": ERROR}}}

    ok = ({"202": {"description": "Accepted: the event is on Kafka.", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}}}
        if op.accepted else {"200": {"description": "OK"}})
    responses = {**ok, "401": error("Missing, unknown or revoked token.")}
    if op.body is not None:
        responses["400"] = error("The body is not valid; the message names each problem.")
    if op.conversation:
        responses["403"] = error("The conversation is not assigned to this agent.")
        responses["404"] = error("No such conversation.")
        responses["409"] = error("not_yet_assigned: the conversation is offered to this agent "
                                 "and not assigned yet; retry after Retry-After seconds.")
    if op.role != "agent":
        responses["403"] = error(f"The token's role is below {op.role}.")
    if op.method in ("put", "delete") and op.role == "admin":
        responses["400"] = error("The change makes the configuration invalid (says why).")
        responses["412"] = error("If-Match names an older configuration version.")
    if op.path.endswith("/attachments/{position}"):
        responses["200"] = {"description": "The attachment's bytes.", "content": {
            "*/*": {"schema": {"type": "string", "format": "binary"}}}}
        responses["404"] = error("No such conversation, no such message in it, or no "
                                 "attachment at that position; `not_stored`: an email's "
                                 "attachment, whose bytes omniroute does not keep.")
        responses["502"] = error("`media_unavailable`: the provider failed or refused (or has "
                                 "no credentials configured here), the message says why; "
                                 "`media_too_large`: over OMNIROUTE_MEDIA_MAX_BYTES.")
    if "offer_id" in op.path:
        responses["403"] = error("The offer was made to another agent.")
    if op.path.endswith("/replies"):
        responses["409"] = error("The client_id is being sent right now (retry), or was used "
                                 "for a different reply; or not_yet_assigned: the "
                                 "conversation is offered to this agent and not assigned yet "
                                 "(retry after Retry-After seconds).")
    if op.path.endswith("/proactive"):
        responses["409"] = error("The request_id is being sent right now (retry), or was used "
                                 "for a different message.")
        responses["422"] = error("WhatsApp, the customer has not written in 24 hours, and the "
                                 "request has no template.")
    responses["503"] = error(
        "Kafka did not take the event, or PostgreSQL cannot take the request now; retry "
        "(after Retry-After seconds when it is given)." if op.accepted or op.role == "admin"
        else "PostgreSQL cannot take the request now; retry after Retry-After seconds.")
    return responses


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        "Accepted": {"type": "object", "properties": {
            "event_id": {"type": "string"}, "topic": {"type": "string"}}},
    }
    from omniroute.knowledge.routes import OPERATIONS as KNOWLEDGE  # it imports Operation

    for op in (*OPERATIONS, *KNOWLEDGE):
        entry: dict[str, Any] = {"summary": op.summary, "responses": _responses(op),
                                 "security": [{"bearer": []}], "x-role": op.role}
        params = [p.strip("{}") for p in op.path.split("/") if p.startswith("{")]
        if params:
            entry["parameters"] = [{"name": p, "in": "path", "required": True,
                                    "schema": {"type": "string"}} for p in params]
        if op.body is not None:
            schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[op.body.__name__] = schema
            entry["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
        paths.setdefault(op.path, {})[op.method] = entry
    paths.update(analytics_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "omniroute agent gateway", "version": __version__,
                 "description": "Agent apps: presence, offers, conversations, replies. Every "
                                "write is published to Kafka and answered 202."},
        "servers": [{"url": "http://127.0.0.1:8081"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "Issued by `omniroute agents token AGENT_ID`."}}},
    }
