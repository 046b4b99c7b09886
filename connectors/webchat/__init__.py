"""The web chat channel: a WebSocket endpoint and an embeddable widget.

- :mod:`.protocol` (pure): frames, visitor tokens, verified identity, mapping to events.
- :mod:`.server`: the connector plugin (routes on the ingress host), :mod:`.feed` and
  :mod:`.hub` (live replies and presence), :mod:`.history` (transcripts in PostgreSQL).
- ``widget.js``: the widget served at ``/webchat/widget.js``.
"""

from omniroute_connectors.webchat.server import WebChatConnector

__all__ = ["WebChatConnector"]
