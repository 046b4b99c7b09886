"""Automation settings per workspace, from a TOML file (``OMNIROUTE_AUTOMATION_CONFIG``).

``[defaults]`` applies to every workspace; ``[workspaces.<name>]`` overrides
keys for one. See ``deploy/automation.example.toml`` for every key. Without a
file every workspace gets the defaults: triage on, acknowledgement, out of
office, escalation and the survey on, the built-in templates.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from omniroute.automation.rules import Rule, RuleError, parse_rules
from omniroute.automation.sla import SlaPolicy, parse_policies
from omniroute.automation.templates import Templates
from omniroute.errors import ConfigurationError
from omniroute.triage import TriageConfig
from omniroute.triage.core import DEFAULT_SKILLS
from omniroute.triage.intents import DEFAULT_LEXICON, IntentLexicon

FLAGS = ("acknowledgement", "out_of_office", "survey", "escalation")


@dataclass(frozen=True)
class WorkspaceAutomation:
    """One workspace's automation."""

    triage: TriageConfig = field(default_factory=TriageConfig)
    acknowledgement: bool = True
    out_of_office: bool = True
    survey: bool = True
    escalation: bool = True
    survey_expiry: timedelta = timedelta(hours=24)
    comment_window: timedelta = timedelta(minutes=10)
    handle_time_s: float = 300.0
    """Handle time used until the pool has five measured conversations."""
    escalation_pool: str | None = None
    """Pool that takes "talk to a human" requests (None: the pool the router chooses)."""
    escalation_priority: int = 80
    templates: Templates = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    sla: tuple[SlaPolicy, ...] = ()


@dataclass(frozen=True)
class AutomationConfig:
    """Every workspace's automation; unknown workspaces get ``defaults``."""

    defaults: WorkspaceAutomation = field(default_factory=WorkspaceAutomation)
    workspaces: Mapping[str, WorkspaceAutomation] = field(default_factory=dict)

    def for_workspace(self, workspace: str) -> WorkspaceAutomation:
        """The automation of ``workspace``."""
        return self.workspaces.get(workspace, self.defaults)


def _workspace(raw: Mapping[str, Any], base: WorkspaceAutomation) -> WorkspaceAutomation:
    changes: dict[str, Any] = {name: bool(raw[name]) for name in FLAGS if name in raw}
    if "survey_expiry_hours" in raw:
        changes["survey_expiry"] = timedelta(hours=float(raw["survey_expiry_hours"]))
    if "comment_window_minutes" in raw:
        changes["comment_window"] = timedelta(minutes=float(raw["comment_window_minutes"]))
    for name in ("handle_time_s",):
        if name in raw:
            changes[name] = float(raw[name])
    if "escalation_pool" in raw:
        changes["escalation_pool"] = str(raw["escalation_pool"])
    if "escalation_priority" in raw:
        changes["escalation_priority"] = max(0, min(100, int(raw["escalation_priority"])))
    if "templates" in raw:
        changes["templates"] = {**base.templates, **{
            name: {str(k): str(v) for k, v in texts.items()}
            for name, texts in raw["templates"].items()}}
    if "rules" in raw:
        changes["rules"] = parse_rules(raw["rules"])
    if "sla" in raw:
        changes["sla"] = parse_policies(raw["sla"])
    triage = base.triage
    if "languages" in raw:
        triage = replace(triage, languages=tuple(raw["languages"]))
    if "default_language" in raw:
        triage = replace(triage, default_language=str(raw["default_language"]))
    if "intents" in raw:
        lexicon = {**triage.lexicon.keywords, **raw["intents"]}
        triage = replace(triage, lexicon=IntentLexicon(lexicon))
    if "skills" in raw:
        triage = replace(triage, skills={**DEFAULT_SKILLS, **raw["skills"]})
    changes["triage"] = triage
    return replace(base, **changes)


def parse_automation(raw: Mapping[str, Any], source: str = "automation") -> AutomationConfig:
    """Validate a whole automation document; errors name the file."""
    try:
        defaults = _workspace(raw.get("defaults", {}), WorkspaceAutomation(
            triage=TriageConfig(lexicon=IntentLexicon(DEFAULT_LEXICON))))
        workspaces = {name: _workspace(table, defaults)
                      for name, table in raw.get("workspaces", {}).items()}
    except (RuleError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"{source}: {exc}",
                                 hint="see deploy/automation.example.toml") from exc
    return AutomationConfig(defaults=defaults, workspaces=workspaces)


def load_automation(path: Path | None) -> AutomationConfig:
    """The configuration in ``path``, or the defaults when None."""
    if path is None:
        return AutomationConfig()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read automation configuration {path}: {exc}") from exc
    return parse_automation(raw, str(path))
