"""The web chat wire protocol: JSON frames over one WebSocket (pure, no I/O).

Visitor -> server frames (``type`` first):

- ``hello``: ``visitor_token`` (from localStorage; absent on the first visit),
  optional ``identity_token`` (a JWT signed HS256 with the workspace secret:
  ``sub``, ``exp`` and verified ``email``/``phone``/``name``, see
  :mod:`.trust`) or, for compatibility, ``identifier`` + ``identity_hash`` (hex
  HMAC-SHA256 of the identifier: only the identifier is proven), and
  ``name``/``email`` claims (unsigned: weak, never merged on).
- ``message``: ``client_message_id`` (the idempotency key: a retry carries the
  same id and yields the same event), ``text`` and/or ``attachments``: up to 5
  ``{"upload_id": "sha256:<hex>", "filename"?}`` from ``POST /webchat/uploads``
  (:mod:`.uploads`); an upload id not stored is refused ``unknown_upload``. A tap on a
  button an agent message offered (its ``choices``, such as the survey's 1-5) adds
  ``choice``: ``{"payload", "title"}``, with the title as ``text``; it becomes the
  message's ``interactive`` (a ``button`` reply), as other channels' buttons do.
- ``offline_form``: ``client_message_id``, ``text`` and an ``email`` to answer
  to, sent when no agent is available.
- ``typing`` (``state`` true/false), ``delivered`` (``event_ids`` of agent
  messages the widget received) and ``read`` (``event_ids`` of agent messages
  the visitor has seen).

Server -> visitor frames: ``welcome`` (token, history, availability),
``ack`` (client id -> event id), ``message`` (an agent reply or an echo of
the visitor's own message on another tab), ``presence``, ``typing`` (an
agent is typing) and ``error`` with a
``code`` and a precise ``detail``. A bad frame only ever produces an error
frame: nothing is published.

The visitor token is a bearer secret kept by the browser; Kafka and the
database only ever see ``visitor_id``, a hash of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from omniroute.contract import (
    Address,
    Attachment,
    Channel,
    Choice,
    DeliveryState,
    DeliveryStatus,
    InboundMessage,
    InteractiveKind,
    InteractiveReply,
    VerifiedIdentity,
)
from omniroute.contract.inbound import MAX_TEXT_CHARS
from omniroute_connectors.base import BadRequest
from omniroute_connectors.bounds import clean_value
from omniroute_connectors.signatures import raw as raw_bytes
from omniroute_connectors.signatures import same
from omniroute_connectors.webchat.trust import IdentityRefused, verify_identity_token

MAX_FRAME_BYTES = 96 * 1024
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,200}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_UPLOAD_ID = re.compile(r"^sha256:[0-9a-f]{64}\.[0-9a-f]{32}$")
MAX_ATTACHMENTS = 5
FRAME_TYPES = ("hello", "message", "offline_form", "typing", "delivered", "read")


class FrameError(Exception):
    """A frame the server refuses; ``code`` is machine-readable, the message precise."""

    def __init__(self, code: str, detail: str, client_message_id: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_message_id = client_message_id

    def frame(self) -> dict[str, Any]:
        """The error frame sent back to the visitor."""
        out: dict[str, Any] = {"type": "error", "code": self.code, "detail": self.detail}
        if self.client_message_id:
            out["client_message_id"] = self.client_message_id
        return out


@dataclass(frozen=True)
class Visitor:
    """A connected visitor: the anonymous id and, when proven, the verified identity."""

    token: str
    visitor_id: str
    site: str
    verified: VerifiedIdentity | None = None
    claimed_name: str | None = None
    claimed_email: str | None = None

    @property
    def address(self) -> str:
        """The sender address on the web chat channel (verified identifier when proven)."""
        return f"id:{self.verified.identifier}" if self.verified else self.visitor_id

    @property
    def name(self) -> str | None:
        """The name agents see: the site's signed ``name`` claim, else the one the page sent."""
        verified = self.verified.name if self.verified else None
        return verified or self.claimed_name


def new_token() -> str:
    """A fresh visitor token (192 random bits)."""
    return secrets.token_urlsafe(24)


def visitor_id_for(token: str) -> str:
    """The public visitor id: a hash of the secret token."""
    return "v_" + hashlib.sha256(raw_bytes(token)).hexdigest()[:32]


def identity_hash(secret: str, identifier: str) -> str:
    """hex HMAC-SHA256(workspace secret, identifier): what the customer's backend computes."""
    return hmac.new(raw_bytes(secret), raw_bytes(identifier), hashlib.sha256).hexdigest()


def parse_frame(raw: str | bytes) -> dict[str, Any]:
    """Decode one frame; FrameError naming exactly what is wrong."""
    if len(raw) > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"frames are limited to {MAX_FRAME_BYTES} bytes")
    try:
        frame = clean_value(json.loads(raw), max_depth=16)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise FrameError("invalid_json", "frame is not valid JSON (or nests deeper than 16 "
                         "levels)") from exc
    except BadRequest as exc:
        raise FrameError("invalid_json", exc.message) from exc
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", "a frame must be a JSON object")
    kind = frame.get("type")
    if kind not in FRAME_TYPES:
        raise FrameError("unknown_type", f"type must be one of {', '.join(FRAME_TYPES)}; "
                         f"got {kind!r}")
    return frame


def _optional_str(frame: dict[str, Any], name: str, limit: int) -> str | None:
    value = frame.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise FrameError("invalid_field", f"{name} must be a string of at most {limit} chars")
    return value


def open_session(frame: dict[str, Any], secret: str | None, site: str) -> Visitor:
    """Validate a ``hello`` frame into a Visitor (a new token when none or a bad one)."""
    if frame.get("type") != "hello":
        raise FrameError("hello_required", "the first frame must be {\"type\": \"hello\"}")
    token = _optional_str(frame, "visitor_token", 100)
    if token is None or not TOKEN.match(token):
        token = new_token()
    identifier = _optional_str(frame, "identifier", 320)
    given_hash = _optional_str(frame, "identity_hash", 128)
    signed = _optional_str(frame, "identity_token", 4096)
    name = _optional_str(frame, "name", 200)
    email = _optional_str(frame, "email", 320)
    verified = None
    if signed is not None:
        if secret is None:
            raise FrameError("identity_unsupported", "identity verification is not configured")
        try:
            verified = verify_identity_token(signed, secret)
        except IdentityRefused as exc:
            raise FrameError(exc.code, exc.detail) from exc
    elif identifier is not None or given_hash is not None:
        if not (identifier and given_hash):
            raise FrameError("identity_incomplete", "identifier and identity_hash go together")
        if secret is None:
            raise FrameError("identity_unsupported", "identity verification is not configured")
        if not same(identity_hash(secret, identifier), given_hash.lower()):
            raise FrameError("identity_mismatch", "identity_hash is not the HMAC-SHA256 of "
                             "identifier with the workspace secret")
        # only the identifier is signed: name and email stay claims (weak evidence)
        verified = VerifiedIdentity(identifier=identifier)
    if email is not None and not _EMAIL.match(email):
        email = None
    return Visitor(token=token, visitor_id=visitor_id_for(token), site=site, verified=verified,
                   claimed_name=name, claimed_email=email)


def client_message_id(frame: dict[str, Any]) -> str:
    """The frame's idempotency key (FrameError when it is missing or malformed)."""
    client_id = frame.get("client_message_id")
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise FrameError("invalid_client_message_id",
                         "client_message_id must match [A-Za-z0-9._:-]{1,64}")
    return client_id


def upload_refs(frame: dict[str, Any]) -> list[tuple[str, str | None]]:
    """A ``message`` frame's ``attachments`` as (upload id, file name) pairs, in order."""
    refs = frame.get("attachments")
    if refs is None or frame.get("type") != "message":
        return []
    client_id = client_message_id(frame)
    if not isinstance(refs, list) or len(refs) > MAX_ATTACHMENTS:
        raise FrameError("invalid_attachments", f"attachments must be a list of at most "
                         f"{MAX_ATTACHMENTS} uploads", client_id)
    out: list[tuple[str, str | None]] = []
    for ref in refs:
        upload_id = ref.get("upload_id") if isinstance(ref, dict) else None
        if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
            raise FrameError("invalid_attachments", "each attachment needs an upload_id "
                             "(sha256:<64 hex>.<32 hex>) from POST /webchat/uploads", client_id)
        name = ref.get("filename")
        if name is not None and (not isinstance(name, str) or len(name) > 255):
            raise FrameError("invalid_attachments", "filename must be a string of at most "
                             "255 chars", client_id)
        out.append((upload_id, name or None))
    return out


def tapped(frame: dict[str, Any], client_id: str) -> InteractiveReply | None:
    """The button of a ``message`` frame's ``choice``: a Choice as an agent message offers
    it (the contract's limits), else ``invalid_choice`` naming what is wrong."""
    if frame.get("choice") is None or frame.get("type") != "message":
        return None
    try:
        choice = Choice.model_validate(frame["choice"])
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise FrameError("invalid_choice", f"choice{'.' + where if where else ''}: "
                         f"{problem['msg']}", client_id) from exc
    return InteractiveReply(kind=InteractiveKind.BUTTON, id=choice.payload,
                            title=choice.title, payload=choice.payload)


def inbound_from_frame(frame: dict[str, Any], visitor: Visitor, workspace: str,
                       attachments: Sequence[Attachment] = ()) -> InboundMessage:
    """A ``message`` or ``offline_form`` frame as an InboundMessage (event id from client id);
    ``attachments``: the frame's uploads, found stored by the shell."""
    client_id = client_message_id(frame)
    text = frame.get("text")
    if attachments and (text is None or (isinstance(text, str) and not text.strip())):
        text = None
    elif not isinstance(text, str) or not text.strip():
        raise FrameError("empty_text", "text must be a non-empty string", client_id)
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise FrameError("text_too_long", f"text is limited to {MAX_TEXT_CHARS} chars", client_id)
    claimed: dict[str, str] = {}
    metadata: dict[str, str] = {"visitor_id": visitor.visitor_id}
    if frame["type"] == "offline_form":
        email = frame.get("email")
        if not isinstance(email, str) or not _EMAIL.match(email):
            raise FrameError("invalid_email", "the offline form needs a valid email", client_id)
        claimed["email"] = email
        metadata["offline_form"] = "true"
        name = _optional_str(frame, "name", 200)
        if name:
            claimed["name"] = name
    elif visitor.claimed_email and not (visitor.verified and visitor.verified.email):
        claimed["email"] = visitor.claimed_email[:320]  # unsigned: a weak claim
    return InboundMessage(
        interactive=tapped(frame, client_id),
        # a digest, not the visitor id: event ids outlive an erase in the sink's ledger
        event_id="webchat:" + hashlib.sha256(
            f"{visitor.visitor_id}:{client_id}".encode()).hexdigest()[:40],
        workspace=workspace,
        channel=Channel.WEBCHAT,
        provider="webchat",
        channel_account=visitor.site,
        sender=Address(value=visitor.address, name=visitor.name),
        recipient=Address(value=visitor.site),
        provider_message_id=f"{visitor.visitor_id}:{client_id}",
        text=text,
        attachments=list(attachments),
        verified_identity=visitor.verified,
        claimed=claimed,
        metadata=metadata,
    )


def receipt_status(workspace: str, outbound_event_id: str, conversation_id: str | None,
                   address: str, state: DeliveryState) -> DeliveryStatus:
    """A web chat DeliveryStatus; the event id is stable per message and state (idempotent)."""
    digest = hashlib.sha256(f"{outbound_event_id}|{state.value}".encode()).hexdigest()[:40]
    return DeliveryStatus(
        event_id=f"webchat-{state.value}:{digest}", workspace=workspace,
        conversation_id=conversation_id, outbound_event_id=outbound_event_id,
        channel=Channel.WEBCHAT, provider="webchat", provider_message_id=outbound_event_id,
        recipient=Address(value=address), state=state,
    )


def receipt_statuses(frame: dict[str, Any], visitor: Visitor, workspace: str,
                     seen: Mapping[str, str | None]) -> list[DeliveryStatus]:
    """A ``delivered`` or ``read`` frame as DeliveryStatus events.

    Only agent messages this socket was sent (``seen``: event id -> conversation
    id) are reported: a visitor cannot mark someone else's messages, and the
    conversation id comes from the server, never from the browser.
    """
    ids = frame.get("event_ids")
    if not isinstance(ids, list) or not ids or len(ids) > 100:
        raise FrameError("invalid_field", "event_ids must be a list of 1-100 event ids")
    for event_id in ids:
        if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
            raise FrameError("invalid_field", f"{event_id!r} is not an event id")
    state = DeliveryState.READ if frame["type"] == "read" else DeliveryState.DELIVERED
    return [receipt_status(workspace, event_id, seen[event_id], visitor.address, state)
            for event_id in dict.fromkeys(ids) if event_id in seen]
