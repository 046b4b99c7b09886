"""Prometheus metrics every process exposes.

HTTP servers mount :func:`metrics_handler` on their aiohttp application; processes
without one serve it with :func:`omniroute.observability.health.serve_operations`. Names
follow Prometheus conventions: ``omniroute_`` prefix, base units, ``_total`` on
counters, never a customer id as a label.
"""

from __future__ import annotations

import platform

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from omniroute import __version__

BUILD_INFO = Gauge(
    "omniroute_build_info",
    "Always 1; labels say which omniroute build and Python this process runs.",
    ["version", "python", "component"],
)


def record_build_info(component: str) -> None:
    """Set ``omniroute_build_info`` for this process."""
    BUILD_INFO.labels(
        version=__version__, python=platform.python_version(), component=component
    ).set(1)


async def metrics_handler(_request: web.Request) -> web.Response:
    """aiohttp handler for ``GET /metrics``."""
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
