"""Free TCP ports on the loopback interface, for servers tests start."""

from __future__ import annotations

import socket

from omniroute.infra.broker import free_port

__all__ = ["free_port", "free_port_block"]


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive ports that are all free right now."""
    import random

    for _ in range(200):
        base = random.randrange(20000, 60000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise RuntimeError(f"no block of {count} free ports found")
