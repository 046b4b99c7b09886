"""Which addresses the gateway fetches customers' media from."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from omniroute.infra.reach import PublicResolver, Reach, Unreachable, is_public
from omniroute.settings import Settings


def test_only_global_addresses_are_public() -> None:
    for address in ("8.8.8.8", "2606:4700:4700::1111", "157.240.1.35"):
        assert is_public(address), address
    for address in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                    "100.64.0.1", "0.0.0.0", "::1", "fe80::1%eth0", "fc00::1",
                    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "255.255.255.255"):
        assert not is_public(address), address


class Names(AbstractResolver):
    """A resolver answering from a table."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        wanted = socket.AF_INET6 if family == socket.AF_INET6 else socket.AF_INET
        found = [a for a in self.table.get(host, []) if (":" in a) == (wanted == socket.AF_INET6)]
        if not found:
            raise OSError(f"{host} does not resolve")
        return [_result(host, a, port) for a in found]

    async def close(self) -> None:
        pass


def _result(host: str, address: str, port: int) -> Any:
    return {"hostname": host, "host": address, "port": port, "family": socket.AF_INET,
            "proto": 0, "flags": 0}


NAMES = {"cdn.example": ["157.240.1.35"], "rebound.example": ["157.240.1.36", "10.0.0.7"],
         "metadata.example": ["169.254.169.254"], "relay.internal": ["10.0.0.5"],
         "localhost": ["127.0.0.1", "::1"]}


def _reach(**settings: Any) -> Reach:
    return Reach(Settings(**settings), resolver=Names(NAMES))


async def test_names_keep_only_their_allowed_addresses() -> None:
    resolver = PublicResolver(_reach())
    assert [r["host"] for r in await resolver.resolve("cdn.example", 443)] == ["157.240.1.35"]
    # a name with a private address besides a public one connects to the public one only
    assert [r["host"] for r in await resolver.resolve("rebound.example", 443)] == [
        "157.240.1.36"]
    for host in ("metadata.example", "relay.internal", "localhost"):
        with pytest.raises(Unreachable, match="private network address"):
            await resolver.resolve(host, 80)


async def test_provider_bases_and_allowed_origins_are_trusted_at_their_port() -> None:
    reach = _reach(twilio_api_base_url="http://relay.internal:8080",
                   media_private_origins="http://localhost:7000, http://10.9.9.9")
    resolver = PublicResolver(reach)
    assert [r["host"] for r in await resolver.resolve("relay.internal", 8080)] == ["10.0.0.5"]
    with pytest.raises(Unreachable):
        await resolver.resolve("relay.internal", 8081)  # another service of that host
    assert [r["host"] for r in await resolver.resolve("localhost", 7000)] == ["127.0.0.1"]
    await reach.check("http://10.9.9.9/photo.png")
    await reach.check("https://157.240.1.35/photo.png")
    await reach.check("http://[::1]:7000/x")  # localhost:7000 is allowed, ::1 included
    await reach.check("http://[::ffff:a00:5]:8080/x")  # 10.0.0.5:8080, the Twilio relay
    await reach.check("http://cdn.example:notaport/x")  # the HTTP client refuses it itself
    for url in ("http://10.9.9.9:8080/photo.png", "http://169.254.169.254/latest/",
                "http://[::1]:7001/x", "http://[::ffff:a00:5]:8081/x"):
        with pytest.raises(Unreachable, match="private network address"):
            await reach.check(url)
