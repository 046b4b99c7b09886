"""Offline triage of customer messages (pure): language, intent, slots, sentiment, spam.

``triage(text, config)`` -> :class:`~omniroute.triage.core.Triage`. No network,
no model downloads: the language models ship in the ``lingua`` wheel, the
English lexicon in ``vaderSentiment``'s, the Korean one in this package.
"""

from omniroute.triage.core import Triage, TriageConfig, triage

__all__ = ["Triage", "TriageConfig", "triage"]
