"""The HTTP shell of delivery: performs a ProviderRequest against a base URL with aiohttp.

Network failures (refused, reset, timeout) come back as a synthetic ``599``
ProviderResponse, which every sender classifies as retriable (5xx).
"""

from __future__ import annotations

import aiohttp

from omniroute.delivery.sending import Http
from omniroute_connectors.outbound import ProviderRequest, ProviderResponse

NETWORK_FAILURE = 599


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
            return ProviderResponse(NETWORK_FAILURE, str(exc).encode())

    return call
