"""TCP streams: opening a TLS connection and tuning sockets for chat traffic.

The only place (with ``tls.py``) that touches sockets, so the client and server layers deal in
asyncio streams only.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import re
import socket
import ssl
from typing import Any

__all__ = ["open_tls_stream", "tune_socket", "unreachable"]

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

    ``ctx=None`` means plaintext, for servers started with ``--insecure-no-tls`` only. A host
    name that cannot even be encoded for DNS (an empty or over-long label) raises
    ``socket.gaierror`` like a name that does not resolve, not asyncio's ``UnicodeError``.
    """
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host,
                port,
                ssl=ctx,
                server_hostname=host if ctx is not None else None,
                ssl_handshake_timeout=timeout if ctx is not None else None,
            )
    except UnicodeError as exc:  # the IDNA codec refused the name before any lookup
        raise socket.gaierror(socket.EAI_NONAME, "not a valid host name") from exc
    tune_socket(writer.get_extra_info("socket"))
    return reader, writer


def unreachable(exc: BaseException | None) -> str | None:
    """Why ``exc`` means the server cannot be reached *at all*, or ``None``.

    A host name that does not resolve and a refused connection (nothing listens on that port)
    are, unlike timeouts or resets, answers: retrying at once will not change them. Clients
    use this to fail fast on a first connection instead of retrying.
    """
    if isinstance(exc, socket.gaierror):
        detail = exc.strerror or str(exc)
        return f"the host name could not be resolved ({detail})"
    if isinstance(exc, ConnectionRefusedError) or _all_refused(exc):
        return "the connection was refused: no server is listening on that port"
    return None


def _all_refused(exc: BaseException | None) -> bool:
    """asyncio (3.11) folds the failures of a name with several addresses (``localhost``:
    ``::1`` and ``127.0.0.1``) into one ``OSError('Multiple exceptions: [Errno 111] ...')``
    without keeping them; refused means every one of them was ECONNREFUSED."""
    if not isinstance(exc, OSError) or exc.errno is not None:
        return False
    text = str(exc)
    codes = re.findall(r"\[Errno (\d+)\]", text)
    return (
        text.startswith("Multiple exceptions:")
        and bool(codes)
        and all(int(c) == errno.ECONNREFUSED for c in codes)
    )
