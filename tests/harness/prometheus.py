"""A real Prometheus server (Debian's package) scraping the stack under test."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class PrometheusServer:
    """One ``prometheus`` process with its own storage; stopped by :meth:`stop`."""

    process: subprocess.Popen[bytes]
    url: str

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
        server = cls(process, f"http://127.0.0.1:{port}")
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
        """Evaluate an instant query; its result vector (or matrix, or scalar as one item)."""
        data = self.api("query", query=expr)
        result = data["result"]
        return result if isinstance(result, list) else [result]

    def wait_for(self, expr: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Poll until ``expr`` returns data; return it (empty after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(1)
        return []

    def alerts(self) -> dict[str, str]:
        """Active alerts by name → state (pending or firing)."""
        return {a["labels"]["alertname"]: a["state"] for a in self.api("alerts")["alerts"]}

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
