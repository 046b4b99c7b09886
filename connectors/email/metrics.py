"""Prometheus metrics of the email channel (no addresses or ids as labels)."""

from __future__ import annotations

from prometheus_client import Counter

INBOUND = Counter(
    "omniroute_email_inbound_total",
    "Emails received over SMTP, by outcome (published, suppressed, rejected, unavailable).",
    ["outcome"],
)
OUTBOUND = Counter(
    "omniroute_email_outbound_total",
    "Outbound emails handed to the SMTP relay, by final state (sent, failed).",
    ["state"],
)
SEND_RETRIES = Counter(
    "omniroute_email_send_retries_total", "Temporary SMTP relay failures that were retried."
)
