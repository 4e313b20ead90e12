"""Open a listening TCP socket: shared by the simulator and the watch daemon's HTTP endpoints."""

from __future__ import annotations

import socket


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: any free port), SO_REUSEADDR set, not yet listening.

    Raises OSError (unknown host, address in use, no permission); callers say what to do.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock
