"""Where omniroute may fetch a file from a URL it was given: public addresses, and the
private ones the operator pointed a provider API at (a shell over DNS).

The gateway fetches customers' attachments for agents, and most media URLs come from
the webhook payload (Messenger's, Instagram's and Kakao's CDN URLs, Twilio's
``MediaUrl``, LINE's external content); the email sender fetches the files of an
outbound message's attachments from their URLs; every redirect names another URL.
Fetched as they are, a URL naming ``169.254.169.254`` (a cloud's metadata service),
``localhost`` or a host of the private network would make omniroute a proxy into the
network it runs in. So every hop is checked where it connects:

- a host name is resolved by :class:`PublicResolver`, which keeps only its global
  addresses (not private, loopback, link-local, shared or reserved; an IPv4-mapped IPv6
  address is judged as the IPv4 address it carries) and refuses it when none is left;
  the connection goes to what it kept, so a name cannot resolve public at a check and
  private at the connection (DNS rebinding);
- an IP literal (which aiohttp connects to without resolving) by :meth:`Reach.check`.

Allowed all the same: the (address, port) pairs the configured provider API base URLs
resolve to (``OMNIROUTE_TWILIO_API_BASE_URL``, ``..._META_GRAPH_BASE_URL`` and the
others: an operator who points one at a private relay, or at the test fakes, trusts it),
and the origins of ``OMNIROUTE_MEDIA_PRIVATE_ORIGINS``.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from omniroute.settings import Settings

PROVIDER_BASES = ("twilio_api_base_url", "meta_graph_base_url", "telegram_api_base_url",
                  "line_api_base_url", "line_data_api_base_url", "kakao_api_base_url")
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
"""The answers whose ``Location`` a fetch follows by hand, checking each hop."""
MAX_REDIRECTS = 5
"""The most hops a fetch follows before it gives up."""


class Unreachable(OSError):
    """A URL names an address omniroute does not fetch files from."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EACCES, message)  # aiohttp shows the strerror

    def __str__(self) -> str:
        return str(self.strerror)


def refusal(exc: BaseException) -> Unreachable | None:
    """The Unreachable behind ``exc`` (itself, or the one a connection error carries)."""
    if isinstance(exc, Unreachable):
        return exc
    carried = getattr(exc, "os_error", None)  # aiohttp.ClientConnectorError
    return carried if isinstance(carried, Unreachable) else None


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP address, v4 or v6) is globally routable."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _host_port(url: str) -> tuple[str, int]:
    """Host and port of ``url`` (the scheme's port when none is given; 0 when the port is
    not a number: the HTTP client then refuses the URL itself)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return parts.hostname or "", 0
    return parts.hostname or "", port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)


def _literal(host: str) -> str | None:
    """The IP address ``host`` is, if it is one (an IPv4-mapped IPv6 one as IPv4)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class Reach:
    """The rule for hosts omniroute fetches files from: public addresses, and trusted
    private ones (the provider API bases' and ``OMNIROUTE_MEDIA_PRIVATE_ORIGINS``)."""

    def __init__(self, settings: Settings, resolver: AbstractResolver | None = None) -> None:
        self._resolver = resolver
        self.origins = [getattr(settings, name) for name in PROVIDER_BASES] + [
            o.strip() for o in settings.media_private_origins.split(",") if o.strip()]
        self._trusted: set[tuple[str, int]] | None = None

    @property
    def resolver(self) -> AbstractResolver:
        """The resolver names are looked up with (aiohttp's default, made on first use:
        it needs the running event loop, so a Reach may be made before there is one)."""
        if self._resolver is None:
            self._resolver = DefaultResolver()
        return self._resolver

    async def trusted(self) -> set[tuple[str, int]]:
        """The (address, port) pairs of the provider API bases and the allowed origins
        (resolved once; an origin that does not resolve is left out)."""
        if self._trusted is None:
            pairs: set[tuple[str, int]] = set()
            for origin in self.origins:
                host, port = _host_port(origin)
                if not host:
                    continue
                literal = _literal(host)
                if literal is not None:
                    pairs.add((literal, port))
                    continue
                for family in (socket.AF_INET, socket.AF_INET6):
                    try:
                        found = await self.resolver.resolve(host, port, family)
                    except OSError:
                        continue
                    pairs.update((r["host"], port) for r in found)
            self._trusted = pairs
        return self._trusted

    async def allowed(self, address: str, port: int) -> bool:
        """Whether omniroute may connect to ``address``:``port`` to fetch a file."""
        return is_public(address) or (address, port) in await self.trusted()

    async def check(self, url: str) -> None:
        """Unreachable when ``url`` names an IP literal omniroute does not fetch from (host
        names are checked as they resolve, by :class:`PublicResolver`)."""
        host, port = _host_port(url)
        literal = _literal(host.strip("[]"))
        if literal is not None and not await self.allowed(literal, port):
            raise Unreachable(f"{host} is a private network address; omniroute does not "
                              "fetch media from it (OMNIROUTE_MEDIA_PRIVATE_ORIGINS)")


class PublicResolver(AbstractResolver):
    """Resolves like aiohttp's default, keeping only the addresses :meth:`Reach.allowed`
    allows (``localhost`` of a trusted fake keeps 127.0.0.1, not ::1); Unreachable when
    none is left."""

    def __init__(self, reach: Reach) -> None:
        self.reach = reach

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The allowed addresses of ``host``, or Unreachable."""
        found = await self.reach.resolver.resolve(host, port, family)
        kept = [r for r in found if await self.reach.allowed(r["host"], port)]
        if not kept:
            raise Unreachable(f"{host} resolves to {found[0]['host'] if found else 'nothing'}, "
                              "a private network address; omniroute does not fetch media "
                              "from it (OMNIROUTE_MEDIA_PRIVATE_ORIGINS)")
        return kept

    async def close(self) -> None:
        """Close the resolver it wraps."""
        await self.reach.resolver.close()
