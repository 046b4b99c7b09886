"""Metrics of the email channel (no addresses or ids as labels).

Email records into the pipeline's shared metrics
(:mod:`omniroute.observability.pipeline`): published and consumed records in
``omniroute_messages_total{component="email"}``, SMTP refusals in
``omniroute_rejections_total{provider="smtp"}``, relay retries in
``omniroute_retries_total{component="email-delivery", operation="smtp_send"}``.
Only the fact without a shared equivalent is its own metric here.
"""

from __future__ import annotations

from prometheus_client import Counter

SUPPRESSED = Counter(
    "omniroute_email_suppressed_total",
    "Automatic mail accepted with 250 and deliberately not routed, by kind.",
    ["kind"],
)

SMTP_REFUSALS = {"550": "unknown_recipient", "552": "too_large", "554": "unusable_message",
                 "451": "unavailable"}
"""The reason label of each SMTP refusal code the inbound server answers."""


def refusal_reason(reply: str) -> str | None:
    """The rejection reason of an SMTP reply line, or None when it is not a refusal we count."""
    return SMTP_REFUSALS.get(reply[:3])
