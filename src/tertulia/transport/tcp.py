"""TCP streams: opening a TLS connection and tuning sockets for chat traffic.

The only place (with ``tls.py``) that touches sockets, so the client and server layers deal in
asyncio streams only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any

__all__ = ["open_tls_stream", "tune_socket"]

#: client-side keepalive: first probe after 30 s idle, then every 10 s, give up after 6
_KEEPALIVE = (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6))


def tune_socket(sock: Any, *, keepalive_timers: bool = True) -> None:
    """TCP_NODELAY (chat frames are small and latency-bound) and keepalive (dead links).

    ``sock`` is a socket or asyncio's transport socket wrapper; failures are ignored because
    some platforms lack an option, and none of them is needed for correctness.
    """
    if sock is None:
        return
    opts: list[tuple[int, int, int]] = [
        (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    ]
    if keepalive_timers:
        for name, value in _KEEPALIVE:
            if hasattr(socket, name):
                opts.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, opt, value in opts:
        with contextlib.suppress(OSError):
            sock.setsockopt(level, opt, value)


async def open_tls_stream(
    host: str, port: int, ctx: ssl.SSLContext | None, *, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect and complete the TLS handshake within ``timeout`` seconds, then tune the socket.

    ``ctx=None`` means plaintext, for servers started with ``--insecure-no-tls`` only.
    """
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            host,
            port,
            ssl=ctx,
            server_hostname=host if ctx is not None else None,
            ssl_handshake_timeout=timeout if ctx is not None else None,
        )
    tune_socket(writer.get_extra_info("socket"))
    return reader, writer
