"""Where and when the answer bot answers: the ``[bot]`` table of the routing configuration.

::

    [bot]
    enabled = true
    channels = ["whatsapp", "webchat"]  # omitted: every channel
    pools = ["support"]                 # omitted: every pool
    hours = "always"                    # or "closed" (only while the pool is closed), "open"
    threshold = 0.4                     # search score an answer needs (0..1)
    margin = 0.05                       # lead over the second-best article it needs
    feedback_window_s = 300             # no reply to "did this help?" in time = resolved
    max_misses = 2                      # questions without an answer before a person takes over
    article_url = "https://help.example.com/{language}/{article_id}"   # optional link

The pool is the one the request names, else the one the routing rules choose;
business hours are that pool's ``business_hours``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from omniroute.errors import ConfigurationError
from omniroute.routing.config import RoutingConfig, parse_config, pool_business_hours
from omniroute.routing.policy import BusinessHours


class Hours(StrEnum):
    """When, relative to the pool's business hours, the bot answers."""

    ALWAYS = "always"
    CLOSED = "closed"
    OPEN = "open"


@dataclass(frozen=True)
class BotPolicy:
    """The bot's switches and tunables."""

    enabled: bool = False
    channels: frozenset[str] | None = None
    pools: frozenset[str] | None = None
    hours: Hours = Hours.ALWAYS
    threshold: float = 0.4
    margin: float = 0.05
    feedback_window_s: float = 300.0
    max_misses: int = 2
    article_url: str | None = None
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    business_hours: dict[str, BusinessHours] = field(default_factory=dict)

    def pool_for(self, channel: str, pool: str | None, intent: str | None,
                 language: str | None, skills: dict[str, int]) -> str | None:
        """The pool a request goes to: its own, else the routing rules' choice."""
        return pool or self.routing.choose_pool(channel, intent, language, skills)

    def answers(self, channel: str, pool: str | None, at: datetime) -> bool:
        """Whether the bot takes a new conversation on ``channel`` for ``pool`` at ``at``."""
        if not self.enabled or (self.channels is not None and channel not in self.channels):
            return False
        if self.pools is not None and pool not in self.pools:
            return False
        if self.hours is Hours.ALWAYS:
            return True
        hours = self.business_hours.get(pool or "")
        is_open = True if hours is None else hours.is_open(at.timestamp())
        return is_open if self.hours is Hours.OPEN else not is_open

    def link(self, article_id: str, language: str) -> str | None:
        """The public address of an article, when ``article_url`` is configured."""
        if not self.article_url:
            return None
        return self.article_url.format(article_id=article_id, language=language)


def parse_bot(raw: dict[str, Any], source: str = "configuration") -> BotPolicy:
    """The policy of a whole routing configuration document (no ``[bot]``: disabled)."""
    table = raw.get("bot", {})
    routing = parse_config(raw, source)
    try:
        hours = pool_business_hours(routing)
        policy = BotPolicy(
            enabled=bool(table.get("enabled", bool(table))),
            channels=frozenset(table["channels"]) if "channels" in table else None,
            pools=frozenset(table["pools"]) if "pools" in table else None,
            hours=Hours(table.get("hours", "always")),
            threshold=float(table.get("threshold", 0.4)),
            margin=float(table.get("margin", 0.05)),
            feedback_window_s=float(table.get("feedback_window_s", 300)),
            max_misses=int(table.get("max_misses", 2)),
            article_url=table.get("article_url"), routing=routing, business_hours=hours)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{source} [bot]: {exc}",
                                 hint="see docs/knowledge.md#the-answer-bot") from exc
    if not 0 < policy.threshold <= 1 or policy.max_misses < 1 or policy.feedback_window_s <= 0:
        raise ConfigurationError(f"{source} [bot]: threshold must be in (0, 1], max_misses >= 1 "
                                 "and feedback_window_s > 0")
    return policy


def load_bot_policy(path: Path | None) -> BotPolicy:
    """The bot policy of the routing configuration file (none given: the bot is off)."""
    if path is None:
        return BotPolicy()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read routing configuration {path}: {exc}") from exc
    return parse_bot(raw, str(path))
