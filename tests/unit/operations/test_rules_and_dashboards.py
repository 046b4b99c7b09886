"""Alert rules and dashboards: valid PromQL, over metrics omniroute really exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from omniroute.monitoring import dashboards
from omniroute.monitoring.catalog import markdown_table, metric_catalog

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
PROMQL_FUNCTIONS_AND_KEYWORDS = {
    "sum", "max", "min", "avg", "by", "on", "unless", "and", "or", "rate", "increase", "deriv",
    "histogram_quantile", "le", "offset", "count", "without", "ignoring",
}

promtool = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool is None and not os.environ.get("CI"),
    reason="promtool (Debian's prometheus package) is installed by deploy/bootstrap.sh",
)


def exported_metric_names() -> set[str]:
    """Every sample name omniroute's metrics export, plus Prometheus's own ``up``."""
    return {"up"} | {name for m in metric_catalog() for name in m.sample_names}


def metric_names_in(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that name metrics (not functions, labels or keywords)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", without_strings)
    without_groupings = re.sub(r"\b(by|on|without|ignoring)\s*\([^)]*\)", "", without_labels)
    identifiers = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groupings))
    return {i for i in identifiers if i not in PROMQL_FUNCTIONS_AND_KEYWORDS and not re.fullmatch(r"\d+[smhd]", i)}


def alert_rules() -> list[dict[str, object]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


class TestAlertRules:
    @needs_promtool
    def test_promtool_accepts_the_rules(self) -> None:
        """`promtool check rules` passes."""
        result = subprocess.run([promtool or "promtool", "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    @needs_promtool
    def test_rule_unit_tests_pass(self) -> None:
        """Each alert fires on the series it is meant for, and not before its `for`."""
        result = subprocess.run([promtool or "promtool", "test", "rules", str(DEPLOY / "prometheus" / "alerts_test.yml")],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_every_rule_has_a_runbook_section(self) -> None:
        """Each alert links to a section of docs/operations.md that exists."""
        operations = (DEPLOY.parent / "docs" / "operations.md").read_text()
        for rule in alert_rules():
            assert f"### {rule['alert']}\n" in operations, rule["alert"]
            assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{str(rule['alert']).lower()}"  # type: ignore[index]

    def test_rules_use_only_exported_metrics(self) -> None:
        """An alert over a metric nobody exports could never fire."""
        exported = exported_metric_names()
        for rule in alert_rules():
            missing = metric_names_in(str(rule["expr"])) - exported
            assert not missing, f"{rule['alert']} uses {missing}"


class TestDashboards:
    def test_committed_dashboards_match_their_definitions(self) -> None:
        """Run `omniroute ops dashboards` after changing a panel."""
        for name, text in dashboards.render_all().items():
            assert (DEPLOY / "grafana" / name).read_text() == text, f"{name} is out of date"

    def test_panels_use_only_exported_metrics(self) -> None:
        """Every panel queries metrics some omniroute process exports."""
        exported = exported_metric_names()
        for uid, title, expr in dashboards.all_queries():
            missing = metric_names_in(expr) - exported
            assert not missing, f"{uid} / {title} uses {missing}"

    @needs_promtool
    def test_every_panel_query_is_valid_promql(self, tmp_path: Path) -> None:
        """promtool parses every panel's query (as a recording rule)."""
        rules = {"groups": [{"name": "dashboards", "rules": [
            {"record": f"dashboard:query_{i}", "expr": expr}
            for i, (_uid, _title, expr) in enumerate(dashboards.all_queries())
        ]}]}
        path = tmp_path / "dashboard_queries.yml"
        path.write_text(yaml.safe_dump(rules))
        result = subprocess.run([promtool or "promtool", "check", "rules", str(path)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


class TestMetricCatalog:
    def test_operations_doc_lists_every_metric(self) -> None:
        """docs/operations.md carries the catalog; regenerate with `omniroute ops metrics`."""
        operations = (DEPLOY.parent / "docs" / "operations.md").read_text()
        assert markdown_table(metric_catalog()) in operations

    def test_names_follow_prometheus_conventions(self) -> None:
        """One prefix, _total only on counters, base units, no id-like labels."""
        for metric in metric_catalog():
            assert metric.name.startswith("omniroute_")
            assert not metric.name.endswith("_total"), metric.name  # family names carry no suffix
            assert not re.search(r"_(ms|milliseconds|minutes|hours|kb|mb)$", metric.name), metric.name
            forbidden = {"customer", "customer_id", "conversation_id", "message_id", "event_id", "agent_id", "address"}
            assert not forbidden & set(metric.labels), (metric.name, metric.labels)
