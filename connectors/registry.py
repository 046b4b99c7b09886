"""Discovering connector plugins through the ``omniroute.connectors`` entry-point group.

Each entry point names a :class:`~omniroute_connectors.base.Connector` subclass,
e.g. ``twilio = "omniroute_connectors.twilio:TwilioConnector"``. A user's own
package can add connectors the same way; the host never imports a plugin by name.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from omniroute.errors import ConfigurationError
from omniroute.settings import Settings
from omniroute_connectors.base import Connector

GROUP = "omniroute.connectors"


def connector_classes(only: frozenset[str] | None = None) -> dict[str, type[Connector]]:
    """Every registered connector class by entry-point name (``only`` filters by name)."""
    found: dict[str, type[Connector]] = {}
    for entry in entry_points(group=GROUP):
        if only is not None and entry.name not in only:
            continue
        try:
            cls = entry.load()
        except ImportError as exc:
            raise ConfigurationError(
                f"connector {entry.name!r} cannot be imported: {exc}",
                hint=f"install the extra it needs (pip install 'omniroute[{entry.name}]')",
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise ConfigurationError(f"entry point {entry.name!r} is not a Connector subclass")
        found[entry.name] = cls
    return found


def load_connectors(settings: Settings, only: frozenset[str] | None = None) -> list[Connector]:
    """Instantiate every registered connector with the process settings, sorted by name."""
    return [cls(settings) for _name, cls in sorted(connector_classes(only).items())]
