"""Delivering one OutboundMessage: window, limits, rate limit, HTTP, retries → DeliveryStatus.

:func:`deliver` is the shell around a pure sender: it asks the sender for the
requests, performs them against the sender's base URL with the injected
``http`` function, retries retriable failures with backoff, and returns the
DeliveryStatus events to publish (``accepted`` per provider message, or one
``failed`` with the reason).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from omniroute.contract import DeliveryState, DeliveryStatus, OutboundMessage
from omniroute.delivery.ratelimit import RateLimits
from omniroute.delivery.retry import backoff
from omniroute.observability.logs import get_logger
from omniroute.observability.pipeline import RETRIES
from omniroute_connectors.outbound import (
    OutboundSender,
    ProviderRequest,
    ProviderResponse,
    SendContext,
    SendFailed,
    SendRejected,
)

log = get_logger(__name__)
Http = Callable[[str, ProviderRequest], Awaitable[ProviderResponse]]
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


def status(message: OutboundMessage, provider: str, state: DeliveryState, suffix: str, *,
           provider_message_id: str | None = None, error_code: str | None = None,
           error_message: str | None = None) -> DeliveryStatus:
    """A DeliveryStatus about ``message`` with a deterministic event id."""
    return DeliveryStatus(
        event_id=f"delivery:{message.event_id}:{suffix}"[:200],
        conversation_id=message.conversation_id,
        outbound_event_id=message.event_id, channel=message.channel, provider=provider,
        provider_message_id=provider_message_id, recipient=message.recipient, state=state,
        error_code=error_code, error_message=error_message[:2048] if error_message else None,
        workspace=message.workspace,
    )


def failed(message: OutboundMessage, provider: str, code: str, why: str) -> DeliveryStatus:
    """The ``failed`` status of a message that will not be delivered."""
    return status(message, provider, DeliveryState.FAILED, "failed", error_code=code,
                  error_message=why)


async def _call(sender: OutboundSender, request: ProviderRequest, http: Http, *,
                attempts: int, base_delay: float, sleep: Sleep) -> str | None:
    """One request with retries; returns the provider message id or raises SendFailed."""
    for attempt in range(1, attempts + 1):
        try:
            response = await http(sender.base_url, request)
            return sender.interpret(request, response).provider_message_id
        except SendFailed as exc:
            if not exc.retriable or attempt == attempts:
                raise
            delay = backoff(attempt, base_delay, exc.retry_after)
            RETRIES.labels("delivery", "provider_send").inc()
            log.info("send_retry", provider=sender.provider, attempt=attempt, code=exc.code,
                     delay=delay)
            await sleep(delay)
    raise AssertionError("unreachable")


async def _with_fallback(sender: OutboundSender, request: ProviderRequest, http: Http, *,
                         attempts: int, base_delay: float, sleep: Sleep) -> str | None:
    """``request``, then its fallback (if any) when it fails."""
    current: ProviderRequest | None = request
    while True:
        assert current is not None
        try:
            return await _call(sender, current, http, attempts=attempts, base_delay=base_delay,
                               sleep=sleep)
        except SendFailed as exc:
            if current.fallback is None:
                raise
            log.info("send_fallback", provider=sender.provider, code=exc.code)
            current = current.fallback


async def deliver(message: OutboundMessage, sender: OutboundSender, context: SendContext,
                  http: Http, limits: RateLimits, *, rate: float, attempts: int,
                  base_delay: float, sleep: Sleep = asyncio.sleep,
                  clock: Clock = time.monotonic) -> Sequence[DeliveryStatus]:
    """Send ``message`` and return the statuses to publish.

    ``sleep`` and ``clock`` are injectable so tests observe the rate-limit and
    retry waits (``Retry-After`` honoured) without waiting for them.
    """
    if not sender.enabled():
        return [failed(message, sender.provider, "provider_not_configured",
                       f"{sender.provider} credentials are not configured")]
    try:
        requests = sender.build(message, context)
    except SendRejected as exc:
        return [failed(message, sender.provider, exc.code, exc.message)]
    results: list[DeliveryStatus] = []
    for index, request in enumerate(requests):
        wait = limits.delay(sender.provider, message.channel_account, rate, clock())
        if wait > 0:
            await sleep(wait)
        try:
            provider_id = await _with_fallback(sender, request, http, attempts=attempts,
                                               base_delay=base_delay, sleep=sleep)
        except SendFailed as exc:
            code = exc.code if not exc.retriable else f"retries_exhausted:{exc.code}"
            results.append(failed(message, sender.provider, code[:64], exc.message))
            return results
        results.append(status(message, sender.provider, DeliveryState.ACCEPTED,
                              f"{index}:accepted", provider_message_id=provider_id))
    return results


def unreachable(statuses: Sequence[DeliveryStatus]) -> bool:
    """Whether ``statuses`` say only that the provider could not be reached (retriable
    failures until the attempts ran out, nothing accepted): sending it later may work."""
    return (len(statuses) == 1 and statuses[0].state is DeliveryState.FAILED
            and (statuses[0].error_code or "").startswith("retries_exhausted:"))


def now_utc() -> datetime:
    """The current time (UTC)."""
    from omniroute.contract import utcnow

    return utcnow()
