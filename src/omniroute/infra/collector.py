"""How often the long-running stream processes collect cyclic garbage.

A batch keeps its decoded events, their rows and what it sent alive until it commits,
so at Python's default (a young collection every 700 net allocations) the collector
runs every few records and keeps promoting them, and each promotion brings the next
full collection (every live model and table) closer. Reference counting frees nearly
everything a record makes; cycles can wait a little longer.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_EVERY = 50_000
"""Net allocations between two collections of the youngest generation (Python's default
is 700)."""
OLDER_COLLECTION_EVERY = 20
"""Collections of a generation between two of the next (Python's default is 10)."""


def tune_collector() -> None:
    """Collect cyclic garbage less often (see the module docstring); the worker and the
    history sink call it once at start-up."""
    gc.set_threshold(YOUNG_COLLECTION_EVERY, OLDER_COLLECTION_EVERY, OLDER_COLLECTION_EVERY)
