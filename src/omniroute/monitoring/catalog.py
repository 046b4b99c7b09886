"""Every Prometheus metric omniroute defines, for documentation and checks.

Importing every omniroute module registers every metric in the default
registry; the catalog reads them back with their type, labels and help text.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from prometheus_client import REGISTRY

import omniroute

SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
}


@dataclass(frozen=True)
class MetricInfo:
    """One metric family."""

    name: str
    kind: str
    labels: tuple[str, ...]
    documentation: str

    @property
    def sample_names(self) -> tuple[str, ...]:
        """Names its samples carry (what PromQL selects)."""
        return tuple(self.name + s for s in SAMPLE_SUFFIXES.get(self.kind, ("",)))


def load_all_modules() -> None:
    """Import every omniroute and connector module (not ``__main__``), registering every metric."""
    import omniroute_connectors

    for package in (omniroute, omniroute_connectors):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def metric_catalog() -> list[MetricInfo]:
    """omniroute's metrics (``omniroute_`` prefix), sorted by name."""
    load_all_modules()
    found: dict[str, MetricInfo] = {}
    for collector in list(REGISTRY._collector_to_names):
        label_names = tuple(getattr(collector, "_labelnames", ()))
        describe = getattr(collector, "describe", None)
        for family in (describe() if describe else None) or collector.collect():
            if family.name.startswith("omniroute_"):
                found[family.name] = MetricInfo(
                    family.name, family.type, label_names, family.documentation
                )
    return sorted(found.values(), key=lambda m: m.name)


def markdown_table(metrics: list[MetricInfo]) -> str:
    """The catalog as the Markdown table docs/operations.md shows."""
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for m in metrics:
        sample = m.name + ("_total" if m.kind == "counter" else "")
        labels = ", ".join(f"`{label}`" for label in m.labels) or "—"
        rows.append(f"| `{sample}` | {m.kind} | {labels} | {m.documentation} |")
    return "\n".join(rows) + "\n"
