"""The Prometheus scrape configuration of the local stack, derived from its components.

Every component of :data:`omniroute.stack.COMPONENTS` is one job named
``omniroute-<component>``; the alert rules in ``deploy/prometheus/alerts.yml``
and the Grafana dashboards rely on those job names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from omniroute.settings import Settings
from omniroute.stack import COMPONENTS, Component, metrics_port

RULES_FILE = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "alerts.yml"


def scrape_target(settings: Settings, component: Component) -> str:
    """``host:port`` where a component serves ``/metrics``."""
    if component.http_port is not None:
        port = int(getattr(settings, component.http_port))
    else:
        port = metrics_port(settings.stack_metrics_base or settings.metrics_port, component)
    return f"{settings.bind_host}:{port}"


def prometheus_config(
    settings: Settings, *, rules: Path = RULES_FILE, scrape_interval: str = "15s"
) -> dict[str, Any]:
    """A complete ``prometheus.yml`` for the stack ``omniroute up`` runs."""
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": f"omniroute-{component.name}",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [scrape_target(settings, component)]}],
            }
            for component in COMPONENTS
        ],
    }


def write_prometheus_config(settings: Settings, path: Path, **options: Any) -> Path:
    """Write ``prometheus.yml`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(prometheus_config(settings, **options), sort_keys=False))
    return path
