"""The HTTP API of the real Prometheus (Debian's package) `omniroute up` runs."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class PrometheusClient:
    """Prometheus's HTTP API."""

    url: str

    def api(self, path: str, **params: str) -> Any:
        """GET an HTTP API path; return ``data`` (raising with Prometheus's error otherwise)."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                body = json.loads(text)
            except ValueError:
                # Prometheus answers a plain "Service Unavailable" until its TSDB is open.
                raise AssertionError(f"{path} {params}: HTTP {exc.code} {text.strip()}") from exc
        assert body["status"] == "success", f"{path} {params}: {body.get('error')}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate an instant query; its result vector (or a scalar as one item)."""
        result = self.api("query", query=expr)["result"]
        return result if isinstance(result, list) else [result]

    def wait_until(self, expr: str, done: Callable[[list[dict[str, Any]]], bool],
                   timeout: float) -> list[dict[str, Any]]:
        """Poll ``expr`` until ``done(result)``; the last result after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = self.query(expr)
            except (OSError, AssertionError):
                result = []
            if done(result) or time.monotonic() > deadline:
                return result
            time.sleep(1)

    def alerts(self) -> dict[str, str]:
        """Active alerts by name → state (pending or firing)."""
        return {a["labels"]["alertname"]: a["state"] for a in self.api("alerts")["alerts"]}

    def wait_for_alerts(self, names: set[str], timeout: float) -> dict[str, str]:
        """Poll until every alert in ``names`` is active; the active alerts then."""
        deadline = time.monotonic() + timeout
        while True:
            active = self.alerts()
            if names <= set(active) or time.monotonic() > deadline:
                return active
            time.sleep(1)
