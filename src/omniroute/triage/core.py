"""Triage of one message: language, intent, slots, sentiment, spam, severity, priority.

:func:`triage` is pure (text and a :class:`TriageConfig` in, a :class:`Triage`
out); the worker calls it for every inbound message and copies the result into
the routing request and a ``triaged`` conversation event.

Severity (0-100) is a weighted sum, every weight configurable:
negative sentiment (``-score x negative``), threats and legal words,
profanity, shouting, asking for a human, and intents that tend to churn
(cancellation, complaint, refund). Priority = ``severity x priority_per_severity``
plus ``human_boost`` when the customer asks for a person, capped at 100.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from omniroute.triage.intents import IntentLexicon
from omniroute.triage.language import SUPPORTED, Detect, detect_language
from omniroute.triage.sentiment import label, sentiment
from omniroute.triage.signals import PROFANITY, THREAT, asks_for_human, shouting, spam_score
from omniroute.triage.slots import ORDER, extract_slots

DEFAULT_SKILLS: dict[str, str] = {
    "refund": "billing", "billing": "billing", "cancellation": "retention",
    "delivery": "logistics", "order_status": "orders", "account": "accounts",
    "complaint": "escalations",
}
"""Intent -> required skill (level 1); configurable per workspace."""


@dataclass(frozen=True)
class SeverityWeights:
    """How much each cue adds to severity (0-100)."""

    negative: float = 45.0
    threat: float = 25.0
    profanity: float = 15.0
    shouting: float = 10.0
    human: float = 10.0
    intents: Mapping[str, float] = field(
        default_factory=lambda: {"cancellation": 10.0, "complaint": 15.0, "refund": 10.0})


@dataclass(frozen=True)
class TriageConfig:
    """A workspace's triage settings."""

    languages: tuple[str, ...] = SUPPORTED
    default_language: str = "en"
    lexicon: IntentLexicon = field(default_factory=IntentLexicon)
    skills: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SKILLS))
    skill_level: int = 1
    weights: SeverityWeights = field(default_factory=SeverityWeights)
    priority_per_severity: float = 0.6
    human_boost: int = 30
    spam_at: float = 0.6


@dataclass(frozen=True)
class Triage:
    """What triage found in one message."""

    language: str
    language_detected: bool
    intent: str
    intent_confidence: float
    sentiment: float | None
    sentiment_label: str
    slots: dict[str, str]
    spam: bool
    human_requested: bool
    severity: int
    priority: int
    skills: dict[str, int]

    def as_fields(self) -> dict[str, str]:
        """Flat strings for the ``triage`` map of a ``triaged`` ConversationEvent."""
        fields = {
            "language": self.language, "intent": self.intent,
            "intent_confidence": f"{self.intent_confidence:.2f}",
            "sentiment": "" if self.sentiment is None else f"{self.sentiment:.3f}",
            "sentiment_label": self.sentiment_label, "spam": str(self.spam).lower(),
            "human_requested": str(self.human_requested).lower(),
            "severity": str(self.severity), "priority": str(self.priority),
            "skills": ",".join(sorted(self.skills)),
        }
        fields.update({f"slot.{name}": value[:200] for name, value in self.slots.items()})
        return fields


def severity_of(text: str, intent: str, score: float | None, human: bool,
                weights: SeverityWeights) -> int:
    """0-100 from the cues in ``text`` and what triage found."""
    total = 0.0
    if score is not None and score < 0:
        total += -score * weights.negative
    if THREAT.search(text):
        total += weights.threat
    if PROFANITY.search(text):
        total += weights.profanity
    if shouting(text):
        total += weights.shouting
    if human:
        total += weights.human
    total += weights.intents.get(intent, 0.0)
    return max(0, min(100, round(total)))


def triage(text: str, config: TriageConfig | None = None,
           previous_language: str | None = None, detect: Detect = detect_language) -> Triage:
    """Triage one message's text; ``previous_language`` is kept when the text says too little.

    ``detect`` is :func:`~omniroute.triage.language.detect_language` or an equivalent
    (a worker's :class:`~omniroute.triage.language.Prefetched` batch results).
    """
    config = config or TriageConfig()
    found = detect(text, config.languages)
    language = found or previous_language or config.default_language
    intent, confidence = config.lexicon.classify(ORDER.sub(" ", text))
    score = sentiment(text, language)
    human = asks_for_human(text)
    severity = severity_of(text, intent, score, human, config.weights)
    spam = spam_score(text) >= config.spam_at
    priority = 0 if spam else min(100, round(severity * config.priority_per_severity)
                                  + (config.human_boost if human else 0))
    skill = config.skills.get(intent)
    return Triage(
        language=language, language_detected=found is not None, intent=intent,
        intent_confidence=round(confidence, 3), sentiment=score, sentiment_label=label(score),
        slots=extract_slots(text), spam=spam, human_requested=human, severity=severity,
        priority=priority, skills={skill: config.skill_level} if skill else {},
    )
