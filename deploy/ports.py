"""Local TCP ports: finding free ones for tests and telling whether one is taken."""

from __future__ import annotations

import contextlib
import socket


def free_ports(count: int = 1, host: str = "127.0.0.1") -> list[int]:
    """Ports nobody listens on right now, all distinct.

    The sockets are held open together until every port is picked, so the kernel cannot hand out
    the same port twice within one call. There is still a window before the caller binds them;
    that is acceptable for tests, which is what this is for.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False
