"""The listening socket: accept, admit (connection limits), TLS handshake, hand over.

Why not ``asyncio.start_server(ssl=...)``: that runs the TLS handshake before the application
sees the connection, so connections that never finish their handshake (slowloris) could not be
counted per address, and the ``SSLContext`` would be fixed for the listener's lifetime. Here the
accept loop sees every TCP connection first, counts it against the per-address and total limits
(``Guard.admit``), and runs the handshake itself with whatever context is current -- which is
how ``Server.reload_tls`` swaps certificates without a restart: connections already open keep
their session, new ones get the new certificate.

A connection over its address's limit still gets a handshake (bounded by ``handshake_timeout``
and by a cap on such connections at once) so that it can be told ``bye too_many_connections``
in a language it understands; one over the total limit is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

from tertulia.server.guard import Guard

__all__ = ["Listener"]

log = logging.getLogger("tertulia.server.listener")

#: connections being told ``too_many_connections`` at once; more are closed without a word
MAX_REJECTING = 64
_READ_LIMIT = 2**16

OnConnect = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bool], Awaitable[None]]


class Listener:
    """Accepts on ``host:port``; calls ``on_connect(reader, writer, admitted)`` after TLS."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        guard: Guard,
        context: Callable[[], ssl.SSLContext | None],
        handshake_timeout: float | Callable[[], float],
        on_connect: OnConnect,
        reuse_port: bool = False,
    ) -> None:
        self.guard = guard
        self._context = context
        self._handshake_timeout = handshake_timeout
        self._on_connect = on_connect
        self._sockets = _bind(host, port, reuse_port=reuse_port)
        self._accepting: list[asyncio.Task[None]] = []
        self._handshaking: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sockets[0].getsockname()[:2]
        return str(host), int(port)

    def _deadline(self) -> float:
        value = self._handshake_timeout
        return value() if callable(value) else value

    @property
    def handshaking(self) -> int:
        return len(self._handshaking)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._accepting = [loop.create_task(self._accept_loop(s)) for s in self._sockets]

    def close(self) -> None:
        """Stop accepting and abandon handshakes in progress; open sessions are not touched."""
        for task in self._accepting:
            task.cancel()
        for task in tuple(self._handshaking):
            task.cancel()
        for sock in self._sockets:
            sock.close()

    async def _accept_loop(self, lsock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, addr = await loop.sock_accept(lsock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:  # EMFILE and friends: back off instead of spinning
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            ip = str(addr[0]) if isinstance(addr, tuple) else ""
            admitted = self.guard.admit(ip)
            if not admitted:
                if self.guard.connections.total >= self.guard.connections.max_total or (
                    self.guard.rejecting >= MAX_REJECTING
                ):
                    sock.close()
                    continue
                self.guard.rejecting += 1
            task = loop.create_task(self._serve(sock, ip, admitted))
            self._handshaking.add(task)

    async def _serve(self, sock: socket.socket, ip: str, admitted: bool) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            reader = asyncio.StreamReader(limit=_READ_LIMIT)
            protocol = asyncio.StreamReaderProtocol(reader)
            ctx = self._context()
            try:
                transport, _ = await loop.connect_accepted_socket(
                    lambda: protocol,
                    sock,
                    ssl=ctx,
                    ssl_handshake_timeout=self._deadline() if ctx is not None else None,
                )
            except (OSError, ssl.SSLError, ConnectionError, TimeoutError) as exc:
                # the loop's transport owns the socket now and has closed it; closing it here
                # too could close a reused descriptor number of a newer connection
                log.debug("%s: TLS handshake failed: %s", ip, exc)
                return
            finally:
                if task is not None:
                    self._handshaking.discard(task)
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            await self._on_connect(reader, writer, admitted)
        finally:
            if task is not None:
                self._handshaking.discard(task)
            if admitted:
                self.guard.release(ip)
            else:
                self.guard.rejecting -= 1


def _bind(host: str, port: int, *, reuse_port: bool = False) -> list[socket.socket]:
    """Listening sockets for every address of ``host`` (all sharing one port when ``port=0``).

    ``reuse_port`` sets SO_REUSEPORT so several server processes can listen on one port and
    the kernel spreads new connections over them (cluster nodes on one machine).
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen: set[tuple[int, object]] = set()
    try:
        for family, type_, proto, _, addr in infos:
            if (family, addr[0]) in seen:
                continue
            seen.add((family, addr[0]))
            sock = socket.socket(family, type_, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if sockets[0] is not sock and port == 0:
                addr = (addr[0], sockets[0].getsockname()[1], *addr[2:])
            sock.bind(addr)
            sock.listen(1024)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
