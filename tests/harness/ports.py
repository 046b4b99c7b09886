"""Free TCP ports on the loopback interface, for servers tests start.

Ports come from 12000-20999: below the kernel's ephemeral range (32768-60999
here), where every outgoing connection of the broker, the clients and the
browser takes its local port. A port picked there can be taken by such a
connection between the check and the server's bind (a worker of a test stack
once died binding its metrics port that way), so tests stay out of it. Within
one test session a port is never handed out twice.
"""

from __future__ import annotations

import random
import socket

__all__ = ["free_port", "free_port_block"]

LOW, HIGH = 12000, 21000
_handed_out: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive ports that are all free right now."""
    for _ in range(500):
        base = random.randrange(LOW, HIGH - count)
        block = range(base, base + count)
        if any(port in _handed_out for port in block):
            continue
        if all(_bindable(port) for port in block):
            _handed_out.update(block)
            return base
    raise RuntimeError(f"no block of {count} free ports found in {LOW}-{HIGH}")


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (outside the ephemeral range)."""
    return free_port_block(1)
