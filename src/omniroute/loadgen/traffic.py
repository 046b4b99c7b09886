"""Customers, their messages, and the signed webhook requests providers send for them (pure).

A plan has customers on SMS (Twilio), WhatsApp Cloud, Telegram and LINE; a
share of them write on both SMS and WhatsApp from the same phone, which
omniroute must recognize as one person with one conversation. Every message
text carries a unique token (``<run>-<n>``) so the audit can follow it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from omniroute_connectors.signatures import twilio_signature

CHANNELS = ("sms", "whatsapp", "telegram", "line")
BUSINESS_NUMBER = "+14155550199"
WHATSAPP_PHONE_ID = "1122334455667"


@dataclass(frozen=True)
class Secrets:
    """The provider secrets the stack under test was started with."""

    twilio_auth_token: str
    meta_app_secret: str
    telegram_secret_token: str
    line_channel_secret: str


@dataclass(frozen=True)
class Customer:
    """A person: one phone (SMS and WhatsApp), a Telegram id, a LINE user id."""

    index: int
    channels: tuple[str, ...]

    @property
    def phone(self) -> str:
        """A Korean mobile number, unique per customer."""
        return f"+8210{5000_0000 + self.index:08d}"

    @property
    def telegram_id(self) -> int:
        return 7_000_000 + self.index

    @property
    def line_user(self) -> str:
        return "U" + hashlib.sha256(f"line-{self.index}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Message:
    """One message a customer sends on one channel; ``token`` is unique in the run."""

    customer: int
    channel: str
    token: str
    sequence: int

    @property
    def text(self) -> str:
        return f"soak {self.token} hello from customer {self.customer}"


@dataclass(frozen=True)
class Request:
    """An HTTP request exactly as the provider would send it."""

    message: Message
    path: str
    body: bytes
    headers: dict[str, str]


def plan(customers: int, messages: int, run: str, two_channel_share: float = 0.25,
         seed: int = 7) -> tuple[list[Customer], list[Message]]:
    """Customers (some on SMS and WhatsApp) and ``messages`` messages, each customer at least one.

    Every two-channel customer writes on both of its channels. The order is
    shuffled across customers; each customer's own messages keep their order.
    """
    if messages < customers:
        raise ValueError("need at least one message per customer")
    rng = random.Random(seed)
    people = []
    for index in range(customers):
        if rng.random() < two_channel_share:
            people.append(Customer(index, ("sms", "whatsapp")))
        else:
            people.append(Customer(index, (CHANNELS[index % len(CHANNELS)],)))
    per_customer = [list(p.channels) for p in people]
    extra = messages - sum(len(c) for c in per_customer)
    for _ in range(max(0, extra)):
        person = rng.choice(people)
        per_customer[person.index].append(rng.choice(person.channels))
    queues = [[(p.index, ch) for ch in per_customer[p.index]] for p in people]
    order: list[tuple[int, str]] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        order.append(queue.pop(0))
    planned = [Message(customer, channel, f"{run}-{n}", n)
               for n, (customer, channel) in enumerate(order)]
    return people, planned


def signed_request(message: Message, customer: Customer, secrets: Secrets,
                   public_base_url: str) -> Request:
    """The provider's webhook request for ``message``, signed with ``secrets``."""
    build = {"sms": _twilio, "whatsapp": _whatsapp, "telegram": _telegram, "line": _line}
    return build[message.channel](message, customer, secrets, public_base_url)


def _twilio(message: Message, customer: Customer, secrets: Secrets, base: str) -> Request:
    pairs = [("MessageSid", f"SM{hashlib.sha1(message.token.encode()).hexdigest()}"),
             ("AccountSid", "AC00000000000000000000000000000000"),
             ("From", customer.phone), ("To", BUSINESS_NUMBER), ("Body", message.text),
             ("NumMedia", "0")]
    signature = twilio_signature(secrets.twilio_auth_token, f"{base}/webhooks/twilio", pairs)
    return Request(message, "/webhooks/twilio", urlencode(pairs).encode(),
                   {"Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature})


def _whatsapp(message: Message, customer: Customer, secrets: Secrets, base: str) -> Request:
    wa_id = customer.phone.lstrip("+")
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "1234567890", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": BUSINESS_NUMBER.lstrip("+"),
                         "phone_number_id": WHATSAPP_PHONE_ID},
            "contacts": [{"profile": {"name": f"Customer {customer.index}"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": f"wamid.{message.token}",
                          "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": message.text}}]}}]}]}
    body = json.dumps(payload).encode()
    digest = hmac.new(secrets.meta_app_secret.encode(), body, hashlib.sha256).hexdigest()
    return Request(message, "/webhooks/whatsapp", body,
                   {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"})


def _telegram(message: Message, customer: Customer, secrets: Secrets, base: str) -> Request:
    user = {"id": customer.telegram_id, "is_bot": False, "first_name": f"Customer{customer.index}"}
    update_id = 100_000_000 + int(hashlib.sha1(message.token.encode()).hexdigest()[:7], 16)
    payload = {"update_id": update_id, "message": {
        "message_id": message.sequence + 1, "date": int(time.time()), "from": user,
        "chat": {**user, "type": "private"}, "text": message.text}}
    return Request(message, "/webhooks/telegram", json.dumps(payload).encode(),
                   {"Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": secrets.telegram_secret_token})


def _line(message: Message, customer: Customer, secrets: Secrets, base: str) -> Request:
    payload = {"destination": "U0123456789abcdef0123456789abcdef", "events": [{
        "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
        "webhookEventId": f"01SOAK{message.token.upper()}",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": f"reply{message.token}",
        "source": {"type": "user", "userId": customer.line_user},
        # LINE's message ids are unique across the channel: a second run on the same stack
        # repeated the first one's (history held pairs of messages with one provider id)
        "message": {"id": str(int(hashlib.sha256(message.token.encode()).hexdigest()[:15], 16)),
                    "type": "text", "text": message.text, "quoteToken": f"q{message.token}"}}]}
    body = json.dumps(payload).encode()
    signature = base64.b64encode(
        hmac.new(secrets.line_channel_secret.encode(), body, hashlib.sha256).digest()).decode()
    return Request(message, "/webhooks/line", body,
                   {"Content-Type": "application/json", "x-line-signature": signature})
