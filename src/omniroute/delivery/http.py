"""The HTTP shell of delivery: performs a ProviderRequest against a base URL with aiohttp.

Network failures (refused, reset, DNS, timeout) come back as a synthetic
:data:`~omniroute_connectors.outbound.NETWORK_FAILURE` (``599``) ProviderResponse
carrying the error's text, which every sender classifies as retriable (5xx) and
words as ``could not reach <API>: <error>``.
"""

from __future__ import annotations

import aiohttp

from omniroute.delivery.sending import Http
from omniroute_connectors.outbound import NETWORK_FAILURE, ProviderRequest, ProviderResponse

__all__ = ["NETWORK_FAILURE", "aiohttp_caller", "provider_url"]


def provider_url(base_url: str, request: ProviderRequest) -> str:
    """The absolute URL of ``request`` (Kakao callback URLs are already absolute)."""
    if request.path.startswith(("http://", "https://")):
        return request.path
    return base_url.rstrip("/") + request.path


def aiohttp_caller(session: aiohttp.ClientSession) -> Http:
    """An :data:`~omniroute.delivery.sending.Http` function backed by ``session``."""

    async def call(base_url: str, request: ProviderRequest) -> ProviderResponse:
        try:
            async with session.request(request.method, provider_url(base_url, request),
                                       data=request.body,
                                       headers=dict(request.headers)) as response:
                return ProviderResponse(response.status, await response.read(),
                                        dict(response.headers))
        except (aiohttp.ClientError, TimeoutError) as exc:
            # a total timeout has no text of its own
            error = str(exc) or ("timed out" if isinstance(exc, TimeoutError)
                                 else type(exc).__name__)
            return ProviderResponse(NETWORK_FAILURE, error.encode())

    return call
