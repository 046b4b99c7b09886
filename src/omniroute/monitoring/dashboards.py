"""The Grafana dashboards in ``deploy/grafana/``, defined once here and rendered to JSON.

Each panel is a title, one or more PromQL queries over metrics omniroute
exports, and a unit. ``omniroute ops dashboards`` rewrites the JSON files; a
test evaluates every query against a real Prometheus scraping the stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASHBOARD_DIR = Path(__file__).resolve().parents[3] / "deploy" / "grafana"


@dataclass(frozen=True)
class Panel:
    """One time-series panel."""

    title: str
    queries: tuple[tuple[str, str], ...]
    """(PromQL, legend) pairs."""
    unit: str = "short"
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    """One dashboard: a uid, a title and its panels in reading order."""

    uid: str
    title: str
    panels: tuple[Panel, ...]


def _q(expr: str, legend: str = "") -> tuple[str, str]:
    return (" ".join(expr.split()), legend)


OVERVIEW = Dashboard(
    "omniroute-overview",
    "omniroute / overview",
    (
        Panel(
            "Messages in per channel",
            (
                _q(
                    'sum by (channel) (rate(omniroute_messages_total'
                    '{direction="in", topic=~".*inbound.*"}[5m]))',
                    "{{channel}}",
                ),
            ),
            "ops",
            "Customer messages entering the pipeline.",
        ),
        Panel(
            "Messages out per channel",
            (
                _q(
                    'sum by (channel) (rate(omniroute_messages_total'
                    '{direction="out", topic=~".*outbound.*"}[5m]))',
                    "{{channel}}",
                ),
            ),
            "ops",
        ),
        Panel(
            "Processing p99 per stage",
            (
                _q(
                    "histogram_quantile(0.99, sum by (le, stage) "
                    "(rate(omniroute_processing_seconds_bucket[5m])))",
                    "{{stage}}",
                ),
            ),
            "s",
        ),
        Panel(
            "End-to-end latency (provider receipt →)",
            (
                _q(
                    "histogram_quantile(0.5, sum by (le, milestone) "
                    "(rate(omniroute_end_to_end_seconds_bucket[5m])))",
                    "p50 {{milestone}}",
                ),
                _q(
                    "histogram_quantile(0.99, sum by (le, milestone) "
                    "(rate(omniroute_end_to_end_seconds_bucket[5m])))",
                    "p99 {{milestone}}",
                ),
            ),
            "s",
            "From the provider's timestamp to assignment and to the first agent reply.",
        ),
        Panel(
            "Consumer lag (seconds)",
            (_q("max by (group, topic) (omniroute_consumer_lag_seconds)", "{{group}} {{topic}}"),),
            "s",
        ),
        Panel(
            "Consumer lag (messages)",
            (_q("sum by (group, topic) (omniroute_consumer_lag_messages)", "{{group}} {{topic}}"),),
            "short",
        ),
        Panel(
            "Dead letters (10 min)",
            (
                _q(
                    'sum by (topic) (increase(omniroute_topic_end_offset'
                    '{topic=~".*omniroute[.]dlq[.]v1"}[10m]))',
                    "{{topic}}",
                ),
            ),
            "short",
        ),
        Panel("Processes up", (_q('sum by (job) (up{job=~"omniroute-.*"})', "{{job}}"),), "short"),
    ),
)

ROUTING = Dashboard(
    "omniroute-routing",
    "omniroute / routing",
    (
        Panel(
            "Waiting per pool", (_q("sum by (pool) (omniroute_queue_depth)", "{{pool}}"),), "short"
        ),
        Panel(
            "Oldest waiting per pool",
            (_q("max by (pool) (omniroute_queue_oldest_age_seconds)", "{{pool}}"),),
            "s",
        ),
        Panel("Agents by presence", (_q("sum by (presence) (omniroute_agents)", "{{presence}}"),)),
        Panel(
            "Offers by outcome",
            (_q("sum by (outcome) (rate(omniroute_offers_total[5m]))", "{{outcome}}"),),
            "ops",
        ),
        Panel("Active conversations", (_q("sum(omniroute_active_conversations)", "open"),)),
        Panel(
            "Time to assignment p99",
            (
                _q(
                    "histogram_quantile(0.99, sum by (le) "
                    '(rate(omniroute_end_to_end_seconds_bucket{milestone="assigned"}[5m])))',
                    "p99",
                ),
            ),
            "s",
        ),
    ),
)

CHANNELS = Dashboard(
    "omniroute-channels",
    "omniroute / channels",
    (
        Panel(
            "Webhook requests per provider",
            (_q("sum by (provider) (rate(omniroute_ingress_requests_total[5m]))", "{{provider}}"),),
            "reqps",
        ),
        Panel(
            "Rejections per provider and reason",
            (
                _q(
                    "sum by (provider, reason) (rate(omniroute_rejections_total[5m]))",
                    "{{provider}} {{reason}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Publish latency p99 per provider",
            (
                _q(
                    "histogram_quantile(0.99, sum by (le, provider) "
                    "(rate(omniroute_ingress_publish_seconds_bucket[5m])))",
                    "{{provider}}",
                ),
            ),
            "s",
        ),
        Panel(
            "Retries",
            (
                _q(
                    "sum by (component, operation) (rate(omniroute_retries_total[5m]))",
                    "{{component}} {{operation}}",
                ),
            ),
            "ops",
        ),
    ),
)

def _figure(name: str) -> tuple[str, str]:
    return _q(f'omniroute_support_last_hour{{figure="{name}"}}', "{{pool}}")


SUPPORT = Dashboard(
    "omniroute-support",
    "omniroute / support (leads)",
    (
        Panel("Waiting now", (_q("omniroute_support_conversations_waiting", "{{pool}}"),),
              "short", "Open conversations no agent holds, per pool."),
        Panel("Conversations (last hour)", (_figure("conversations"),), "short"),
        Panel("First response, median and p90 (last hour)",
              (_q('omniroute_support_last_hour{figure=~"frt_median|frt_p90"}',
                  "{{pool}} {{figure}}"),), "s", "Human replies only; bots excluded."),
        Panel("Queue wait and handle time (last hour, mean)",
              (_q('omniroute_support_last_hour{figure=~"queue_wait_mean|handle_time_mean"}',
                  "{{pool}} {{figure}}"),), "s"),
        Panel("Abandoned, FCR, CSAT, SLA breached (last hour)",
              (_q('omniroute_support_last_hour{figure=~"abandon_rate|fcr_rate|csat|'
                  'sla_breach_rate|bot_resolution_rate"}', "{{pool}} {{figure}}"),),
              "percentunit"),
        Panel("Agents online vs chatting (last hour, average)",
              (_q('omniroute_support_last_hour{figure=~"agents_online|agents_chatting"}',
                  "{{figure}}"),), "short"),
        Panel("Occupancy (last hour)", (_figure("occupancy"),), "percentunit"),
        Panel("Analytics refresh duration",
              (_q("omniroute_analytics_refresh_seconds", "refresh"),), "s"),
    ),
)

DASHBOARDS = (OVERVIEW, ROUTING, CHANNELS, SUPPORT)


def render(dashboard: Dashboard) -> dict[str, Any]:
    """Grafana dashboard JSON (schema 39) with a Prometheus datasource variable."""
    panels = []
    for index, panel in enumerate(dashboard.panels):
        panels.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": panel.title,
                "description": panel.description,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "targets": [
                    {
                        "refId": chr(ord("A") + i),
                        "expr": expr,
                        "legendFormat": legend,
                        "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    }
                    for i, (expr, legend) in enumerate(panel.queries)
                ],
            }
        )
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "tags": ["omniroute"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels,
    }


def render_all() -> dict[str, str]:
    """File name → JSON text for every dashboard."""
    return {
        f"{d.uid}.json": json.dumps(render(d), indent=2, ensure_ascii=False) + "\n"
        for d in DASHBOARDS
    }


def all_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL) for every query of every dashboard."""
    return [(d.uid, p.title, expr) for d in DASHBOARDS for p in d.panels for expr, _ in p.queries]


def write_all(directory: Path = DASHBOARD_DIR) -> list[Path]:
    """Write every dashboard's JSON into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        (directory / name).write_text(text, encoding="utf-8")
        written.append(directory / name)
    return written
