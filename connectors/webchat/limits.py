"""Who may open web chat sockets, and how fast (per replica).

- Origin allow-list (``OMNIROUTE_WEBCHAT_ALLOWED_ORIGINS``, comma-separated
  ``https://shop.example``; empty allows any origin): a WebSocket upgrade from
  another origin is refused 403 before it is accepted.
- Sockets per IP (``OMNIROUTE_WEBCHAT_MAX_SOCKETS_PER_IP``): an upgrade beyond
  it is refused 429.
- New visitors per IP per minute (``OMNIROUTE_WEBCHAT_NEW_VISITORS_PER_MINUTE``):
  a hello without a valid visitor token mints a new visitor (a new customer
  later); beyond the rate it is refused with a ``rate_limited`` error frame.
- Messages per visitor per minute (``OMNIROUTE_WEBCHAT_MESSAGES_PER_MINUTE``):
  beyond it a message gets a ``rate_limited`` error frame and is not published
  (the widget retries it later with the same ``client_message_id``). Uploads
  (``POST /webchat/uploads``) count at the same rate, on a counter of their own.
- Upload bytes per IP per hour (``OMNIROUTE_WEBCHAT_UPLOAD_BYTES_PER_IP_PER_HOUR``,
  256 MiB): a visitor token is any well-formed string the browser keeps, so a
  script inventing tokens passes every per-visitor limit; the bytes an IP may
  store bound what it can add to PostgreSQL (a fixed hourly window).

Rates are moving windows kept by the ``limits`` package in memory; the IP is
the connecting peer (put the ingress behind a proxy that keeps it, or rely on
the per-visitor limit).
"""

from __future__ import annotations

from collections import Counter

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from omniroute.settings import Settings


class ChatLimits:
    """The limits of one replica."""

    def __init__(self, settings: Settings) -> None:
        self.origins = frozenset(o.strip().rstrip("/").lower()
                                 for o in settings.webchat_allowed_origins.split(",")
                                 if o.strip())
        self.max_sockets = settings.webchat_max_sockets_per_ip
        self.new_visitors = RateLimitItemPerMinute(settings.webchat_new_visitors_per_minute)
        self.messages = RateLimitItemPerMinute(settings.webchat_messages_per_minute)
        self.upload_bytes = RateLimitItemPerHour(settings.webchat_upload_bytes_per_ip_per_hour)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._bytes = FixedWindowRateLimiter(MemoryStorage())  # counts, not a list per byte
        self._sockets: Counter[str] = Counter()

    def origin_allowed(self, origin: str | None) -> bool:
        """True when no allow-list is set or ``origin`` is on it."""
        if not self.origins:
            return True
        return origin is not None and origin.strip().rstrip("/").lower() in self.origins

    def open_socket(self, ip: str) -> bool:
        """Count a socket of ``ip``; False (nothing counted) when it already has the maximum."""
        if self._sockets[ip] >= self.max_sockets:
            return False
        self._sockets[ip] += 1
        return True

    def close_socket(self, ip: str) -> None:
        """Forget a socket of ``ip``."""
        self._sockets[ip] -= 1
        if self._sockets[ip] <= 0:
            del self._sockets[ip]

    def new_visitor(self, ip: str) -> bool:
        """Record a new visitor from ``ip``; False when over the rate."""
        return self._limiter.hit(self.new_visitors, "visitor", ip)

    def message(self, visitor_id: str) -> bool:
        """Record a message of ``visitor_id``; False when over the rate."""
        return self._limiter.hit(self.messages, "message", visitor_id)

    def upload(self, visitor_id: str) -> bool:
        """Record an upload of ``visitor_id``; False when over the messages' rate."""
        return self._limiter.hit(self.messages, "upload", visitor_id)

    def upload_room(self, ip: str) -> bool:
        """Whether ``ip`` has any of its hourly upload bytes left (checked before reading)."""
        return self._bytes.test(self.upload_bytes, "bytes", ip)

    def uploaded(self, ip: str, size: int) -> bool:
        """Count ``size`` bytes uploaded from ``ip``; False (nothing counted) when they do
        not fit in what is left of its hour."""
        return (self._bytes.test(self.upload_bytes, "bytes", ip, cost=size)
                and self._bytes.hit(self.upload_bytes, "bytes", ip, cost=size))
