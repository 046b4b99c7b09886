"""A real Prometheus server (Debian's package) scraping the stack under test."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


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
            body = json.load(exc)
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


@dataclass
class PrometheusServer(PrometheusClient):
    """One ``prometheus`` process with its own storage; stopped by :meth:`stop`."""

    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, config: dict[str, Any], workdir: Path, port: int) -> PrometheusServer:
        """Write ``config`` and start Prometheus on 127.0.0.1:``port``; wait until ready."""
        binary = shutil.which("prometheus")
        assert binary, "Debian's prometheus package is missing (deploy/bootstrap.sh installs it)"
        workdir.mkdir(parents=True, exist_ok=True)
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        log = (workdir / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [binary, f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        server = cls(f"http://127.0.0.1:{port}", process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return server
            except OSError:
                time.sleep(0.2)
        server.stop()
        raise AssertionError(f"prometheus did not become ready; see {workdir / 'prometheus.log'}")

    def stop(self) -> None:
        """Stop the server."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
