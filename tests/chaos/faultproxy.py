"""A fault-injecting TCP proxy for chaos tests (asyncio, unprivileged, loopback only).

Clients connect to the proxy instead of the server; the proxy forwards raw bytes to
the upstream, so TLS passes through untouched and every fault hits the real TLS stream
(a cut in the middle of a record, a reset during the handshake, a stalled link...).

Why a proxy rather than mocks: reconnection, heartbeats, resumption and ordering are only
trustworthy when tested against what the kernel really does (RST, EOF, silence, split
reads), not against what we think it does.

Directions: ``"up"`` is client -> upstream, ``"down"`` is upstream -> client.

Fault semantics, in short (details on each method):

* ``reset_all()``: RST both sides of every current connection.
* ``cut_after(n, direction, scope=...)``: forward exactly ``n`` more bytes, then RST.
* ``blackhole(True)``: current and new connections go silent forever (no FIN, no RST).
* ``delay(s)``: every chunk is delivered ``s`` seconds after it was read (order kept).
* ``fragment(k)``: chunks are written in pieces of at most ``k`` bytes, each flushed alone.
* ``refuse(True, mode=...)``: new connections are closed/reset at once, or not accepted.
* ``flip_byte(direction)``: flip one bit of the next TLS application-data record each current
  connection carries in ``direction`` (the first byte of its encrypted body), so the
  receiver's AEAD check fails: "bad record MAC". The proxy follows record boundaries (5-byte
  headers) on every connection for this; nothing else about TLS is parsed.
* ``random_resets(...)`` / ``chaos_task(...)``: reset random connections, bounded in count
  and in time, and stop by themselves.

Network-safety rule of the project: only loopback addresses (127.0.0.0/8, ::1) may be
listened on or forwarded to; anything else raises ``ValueError``. Every loop that
injects faults on its own is bounded both in iterations and in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import random
import socket
import struct
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar

__all__ = [
    "Direction",
    "FaultProxy",
    "ProxyStats",
    "RefuseMode",
    "Scope",
    "abort_transport",
    "check_loopback",
]

Direction = Literal["up", "down", "both"]
Scope = Literal["new", "current", "all"]
RefuseMode = Literal["close", "reset", "unlisten"]

_T = TypeVar("_T")

_DIRECTIONS: tuple[str, ...] = ("up", "down", "both")
_SCOPES: tuple[str, ...] = ("new", "current", "all")
_REFUSE_MODES: tuple[str, ...] = ("close", "reset", "unlisten")
#: bounded teardown: a transport that does not report closed by then is left to the loop
_CLOSE_WAIT_S = 2.0
#: per-direction queue between the reading and the writing half (backpressure)
_QUEUE_CHUNKS = 64


def check_loopback(host: str, port: int, *, allow_zero_port: bool) -> str:
    """Return ``host`` if it is a loopback IP literal and ``port`` is valid, else ValueError.

    Hostnames are refused on purpose: resolving them could yield a routable address.
    """
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"FaultProxy only accepts loopback IP literals (127.0.0.0/8, ::1), not {host!r}"
        ) from None
    if not addr.is_loopback:
        raise ValueError(f"FaultProxy only accepts loopback addresses, not {host!r}")
    low = 0 if allow_zero_port else 1
    if not isinstance(port, int) or not low <= port <= 65535:
        raise ValueError(f"invalid port {port!r}")
    return str(addr)


def abort_transport(writer: asyncio.StreamWriter | None, *, rst: bool = True) -> None:
    """Close a stream's transport now; with ``rst`` the kernel sends RST (SO_LINGER 0).

    Public because scenario tests also need a client that dies abruptly.
    """
    if writer is None:
        return
    transport = writer.transport
    if rst:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.fileno() != -1:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _wait_closed(writer: asyncio.StreamWriter | None) -> None:
    """Wait (bounded) until the transport really released its socket.

    Otherwise the socket is closed by a callback that may never run if the loop stops
    first, and the transport's ``__del__`` then emits a ResourceWarning (an error here).
    """
    if writer is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), _CLOSE_WAIT_S)


@dataclass(frozen=True)
class ProxyStats:
    """A snapshot of the proxy's counters (see the attributes of ``FaultProxy``)."""

    connections_total: int
    active: int
    bytes_up: int
    bytes_down: int
    resets: int
    refused: int


@dataclass
class _Cut:
    """Per-connection budget: RST once ``remaining`` bytes went through in ``direction``."""

    remaining: int
    direction: Direction

    def applies(self, direction: str) -> bool:
        return self.direction in ("both", direction)


@dataclass
class _PendingCut:
    """A cut rule waiting for new connections; ``count`` None means until cleared."""

    n_bytes: int
    direction: Direction
    count: int | None


class _Records:
    """Follows TLS record boundaries in one direction, to alter one chosen record.

    A record is a 5-byte header (content type, version, 2-byte length) and a body; chunks
    read from TCP cut records anywhere, so the position is carried from one chunk to the next.
    """

    _APPLICATION_DATA = 23

    def __init__(self) -> None:
        self._header = b""
        self._body_left = 0
        self._flip_at: int | None = None
        #: flip a byte of the next application-data record that starts
        self.armed = False

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """``data`` as it must be forwarded, and whether a byte of it was flipped."""
        if not self.armed and self._flip_at is None:
            return self._skip(data), False
        out = bytearray(data)
        flipped = False
        i = 0
        while i < len(out):
            if self._body_left == 0:
                take = min(5 - len(self._header), len(out) - i)
                self._header += bytes(out[i : i + take])
                i += take
                if len(self._header) == 5:
                    ctype, length = self._header[0], int.from_bytes(self._header[3:5], "big")
                    self._header = b""
                    self._body_left = length
                    if self.armed and ctype == self._APPLICATION_DATA and length > 0:
                        self.armed = False
                        self._flip_at = 0  # the first byte of the ciphertext
                continue
            take = min(self._body_left, len(out) - i)
            if self._flip_at is not None:
                if self._flip_at < take:
                    out[i + self._flip_at] ^= 0x01
                    self._flip_at = None
                    flipped = True
                else:
                    self._flip_at -= take
            i += take
            self._body_left -= take
        return bytes(out), flipped

    def _skip(self, data: bytes) -> bytes:
        """Only follow the boundaries (the common case: nothing armed)."""
        i = 0
        while i < len(data):
            if self._body_left == 0:
                take = min(5 - len(self._header), len(data) - i)
                self._header += data[i : i + take]
                i += take
                if len(self._header) == 5:
                    self._body_left = int.from_bytes(self._header[3:5], "big")
                    self._header = b""
                continue
            take = min(self._body_left, len(data) - i)
            i += take
            self._body_left -= take
        return data


class _Conn:
    """One proxied connection: the two stream pairs and the four pump tasks."""

    def __init__(
        self, cid: int, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter
    ) -> None:
        self.id = cid
        self.c_reader = c_reader
        self.c_writer = c_writer
        self.u_reader: asyncio.StreamReader | None = None
        self.u_writer: asyncio.StreamWriter | None = None
        self.stalled = False
        self.closed = False
        self.done = asyncio.Event()
        self.cut: _Cut | None = None
        self.bytes_up = 0
        self.bytes_down = 0
        self.eof: set[str] = set()
        self.last_at: dict[str, float] = {"up": 0.0, "down": 0.0}
        self.records = {"up": _Records(), "down": _Records()}
        self.tasks: list[asyncio.Task[None]] = []


class FaultProxy:
    """Forward TCP connections from ``127.0.0.1:<port>`` to ``upstream`` and inject faults.

    Attributes (read them, do not set them): ``port`` (after ``start()``),
    ``connections_total`` (accepted, refused ones included), ``bytes_up``/``bytes_down``
    (bytes forwarded), ``resets`` (connections aborted by an injected fault), ``refused``;
    ``active`` is a property (open proxied connections, stalled ones included).
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        chunk_size: int = 65536,
        connect_timeout: float = 5.0,
    ) -> None:
        self.host = check_loopback(host, port, allow_zero_port=True)
        self.port = port
        self._upstream = (check_loopback(*upstream, allow_zero_port=False), upstream[1])
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self._chunk = chunk_size
        self._connect_timeout = connect_timeout
        self._server: asyncio.Server | None = None
        self._conns: dict[int, _Conn] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._next_id = 0
        self._closing = False
        self._started = False
        # faults
        self._blackhole = False
        self._delay = 0.0
        self._jitter = 0.0
        self._rng = random.Random(0)
        self._fragment: int | None = None
        self._fragment_gap = 0.001
        self._refuse: RefuseMode | None = None
        self._pending_cuts: list[_PendingCut] = []
        # stats
        self.connections_total = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.resets = 0
        self.refused = 0
        #: bytes flipped by ``flip_byte``, per direction
        self.flipped = {"up": 0, "down": 0}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FaultProxy:
        """Listen (``self.port`` is then the real port). Returns self."""
        if self._started:
            raise RuntimeError("FaultProxy already started")
        self._started = True
        await self._listen()
        if self._is_self(*self._upstream):
            await self.close()
            raise ValueError("FaultProxy upstream cannot be the proxy itself")
        return self

    async def close(self) -> None:
        """Stop listening, RST every proxied connection, stop every task. Idempotent."""
        if self._closing:
            # a concurrent/previous close: just make sure everything is gone
            await self._drain_tasks()
            return
        self._closing = True
        self._unlisten()
        for conn in list(self._conns.values()):
            self._kill(conn, rst=True, fault=False)
        await self._drain_tasks()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _drain_tasks(self) -> None:
        """Let connection tasks finish their teardown (bounded), then cancel the rest."""
        for t in list(self._tasks):
            if t.get_name() == "faultproxy-chaos":
                t.cancel()  # the others finish quickly by themselves once closing
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=_CLOSE_WAIT_S)
        # bounded: tasks spawn no new tasks once closing
        for _ in range(10):
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                break
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), _CLOSE_WAIT_S)
            self._server = None

    def _spawn(self, coro: Coroutine[Any, Any, _T], name: str) -> asyncio.Task[_T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _make_listen_socket(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        return sock

    async def _listen(self, sock: socket.socket | None = None) -> None:
        if sock is None:
            sock = self._make_listen_socket()
        # a plain (non-coroutine) callback: asyncio then creates no task of its own, so
        # every task of the proxy is ours to track and to cancel cleanly
        try:
            server = await asyncio.start_server(self._on_accept, sock=sock, limit=self._chunk * 2)
        except BaseException:
            sock.close()
            raise
        if self._closing or self._refuse == "unlisten":
            server.close()
            await server.wait_closed()
            return
        self._server = server

    def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()

    # ------------------------------------------------------------------ configuration

    @property
    def upstream(self) -> tuple[str, int]:
        return self._upstream

    def set_upstream(self, host: str, port: int) -> None:
        """Forward connections accepted from now on to ``(host, port)`` (loopback only)."""
        host = check_loopback(host, port, allow_zero_port=False)
        if self._started and self._is_self(host, port):
            raise ValueError("FaultProxy upstream cannot be the proxy itself")
        self._upstream = (host, port)

    def _is_self(self, host: str, port: int) -> bool:
        return port == self.port and ipaddress.ip_address(host) == ipaddress.ip_address(self.host)

    @property
    def active(self) -> int:
        """Open proxied connections (stalled ones included)."""
        return sum(1 for c in self._conns.values() if not c.closed)

    def stats(self) -> ProxyStats:
        return ProxyStats(
            connections_total=self.connections_total,
            active=self.active,
            bytes_up=self.bytes_up,
            bytes_down=self.bytes_down,
            resets=self.resets,
            refused=self.refused,
        )

    async def wait_active(self, n: int, timeout: float = 5.0) -> None:
        """Wait until at least ``n`` connections are proxied (accept is asynchronous)."""
        deadline = time.monotonic() + timeout
        while self.active < n:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.active} active connections, expected {n}")
            await asyncio.sleep(0.005)

    # ------------------------------------------------------------------ faults

    def heal(self) -> None:
        """Clear every standing fault (delay, fragment, blackhole, refuse, pending cuts).

        Connections already stalled stay stalled: a blackholed link never comes back.
        """
        self._blackhole = False
        self._delay = self._jitter = 0.0
        self._fragment = None
        self._pending_cuts.clear()
        self.refuse(False)

    def reset_all(self) -> int:
        """RST both sides of every current connection. Returns how many were reset."""
        n = 0
        for conn in list(self._conns.values()):
            if not conn.closed:
                self._kill(conn, rst=True, fault=True)
                n += 1
        return n

    def reset_one(self, rng: random.Random | None = None) -> bool:
        """RST one random current (not stalled) connection; False if there is none."""
        live = [c for c in self._conns.values() if not c.closed and not c.stalled]
        if not live:
            return False
        self._kill((rng or self._rng).choice(live), rst=True, fault=True)
        return True

    def cut_after(
        self,
        n_bytes: int,
        direction: Direction = "both",
        *,
        scope: Scope = "new",
        count: int | None = None,
    ) -> None:
        """Forward exactly ``n_bytes`` more bytes, then RST both sides of the connection.

        ``direction``: which bytes count: ``"up"``, ``"down"``, or ``"both"`` (the sum of the
        two directions). ``scope``: ``"new"`` applies to connections accepted from now on
        (each gets its own budget of ``n_bytes``; at most ``count`` of them, None = every
        one until ``clear_cuts()``/``heal()``), ``"current"`` to every open connection
        (replacing any budget it had), ``"all"`` to both. ``n_bytes=0`` cuts at once
        (current connections) or right after accept (new ones).
        """
        if n_bytes < 0:
            raise ValueError("n_bytes must be >= 0")
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {_DIRECTIONS}")
        if scope not in _SCOPES:
            raise ValueError(f"scope must be one of {_SCOPES}")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or None")
        if scope in ("new", "all"):
            self._pending_cuts.append(_PendingCut(n_bytes, direction, count))
        if scope in ("current", "all"):
            for conn in list(self._conns.values()):
                if conn.closed:
                    continue
                conn.cut = _Cut(n_bytes, direction)
                if n_bytes == 0:
                    self._kill(conn, rst=True, fault=True)

    def flip_byte(self, direction: Literal["up", "down"]) -> int:
        """Alter the next TLS application-data record of every current connection in
        ``direction`` (one bit of its first encrypted byte); return how many were armed.

        TLS must detect it: the AEAD tag no longer matches, the receiver reports a bad record
        MAC and closes. ``flipped[direction]`` counts the bytes actually flipped.
        """
        if direction not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down', not {direction!r}")
        armed = 0
        for conn in self._conns.values():
            if not conn.closed:
                conn.records[direction].armed = True
                armed += 1
        return armed

    def clear_cuts(self) -> None:
        """Forget cut rules waiting for new connections (budgets already given stay)."""
        self._pending_cuts.clear()

    def blackhole(self, on: bool) -> None:
        """Silence every current connection and, while on, every new one.

        Stalled connections are *not read any more* (the kernel buffers fill up, so
        senders eventually block, as with a dead link); bytes already read but not yet
        forwarded are dropped. Neither side gets anything: no data, no FIN, no RST, and
        EOF or RST from either side is not propagated. New connections are accepted
        (the kernel completes the handshake; a SYN cannot be dropped without root) but
        never connected upstream. Turning it off only affects new connections: stalled
        ones stay dead until ``close()`` (heartbeats are expected to detect them).
        """
        self._blackhole = on
        if on:
            for conn in self._conns.values():
                conn.stalled = True

    def delay(
        self, seconds: float, *, jitter: float = 0.0, rng: random.Random | None = None
    ) -> None:
        """Deliver each chunk ``seconds`` (+ uniform ``[0, jitter]``) after it was read.

        Applies to current and new connections; order within a direction is always kept
        (a chunk is never delivered before the previous one). Throughput is not reduced:
        reading goes on while earlier chunks wait.
        """
        if seconds < 0 or jitter < 0 or not math.isfinite(seconds + jitter):
            raise ValueError("delay and jitter must be finite and >= 0")
        self._delay = seconds
        self._jitter = jitter
        if rng is not None:
            self._rng = rng

    def fragment(self, max_chunk: int | None, *, gap: float = 0.001) -> None:
        """Write at most ``max_chunk`` bytes at a time (None: off), ``gap`` s apart.

        Each piece is flushed to the kernel alone (TCP_NODELAY is on) and the proxy then
        sleeps ``gap`` seconds, so the receiver really reads them split (with ``gap`` 0 it
        may coalesce them). Cost: ``len/max_chunk * gap`` seconds per chunk; a TLS
        handshake byte by byte takes about a few seconds with the default gap.
        Applies to current and new connections.
        """
        if max_chunk is not None and max_chunk < 1:
            raise ValueError("max_chunk must be >= 1 or None")
        if gap < 0 or not math.isfinite(gap):
            raise ValueError("gap must be finite and >= 0")
        self._fragment = max_chunk
        self._fragment_gap = gap

    def refuse(self, on: bool, *, mode: RefuseMode = "close") -> None:
        """Refuse new connections (current ones are not affected).

        ``mode``: ``"close"`` accepts then closes at once (a FIN; the kernel sends RST
        instead if the client had already sent bytes), like a server process that is
        down behind a port still open; ``"reset"`` accepts then RSTs; ``"unlisten"``
        closes the listening socket (connect gets ECONNREFUSED) and ``refuse(False)``
        listens again on the same port (OSError in the unlikely case it was taken).
        """
        if mode not in _REFUSE_MODES:
            raise ValueError(f"mode must be one of {_REFUSE_MODES}")
        was = self._refuse
        self._refuse = mode if on else None
        if not self._started or self._closing:
            return
        if self._refuse == "unlisten" and was != "unlisten":
            self._unlisten()
            self._server = None
        elif was == "unlisten" and self._refuse != "unlisten":
            # bind synchronously (connects queue in the backlog at once), attach async
            sock = self._make_listen_socket()
            self._spawn(self._listen(sock), "faultproxy-listen")

    async def random_resets(
        self,
        rate_per_s: float,
        rng: random.Random,
        *,
        max_resets: int = 10,
        duration: float = 5.0,
        max_ticks: int = 10_000,
    ) -> int:
        """RST random connections at random moments (Poisson, ``rate_per_s`` on average).

        Stops by itself after ``max_resets`` resets, ``duration`` seconds or ``max_ticks``
        draws, whichever comes first; a draw with no live connection resets nothing.
        Returns the number of resets done.
        """
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ValueError("rate_per_s must be finite and > 0")
        if not (0 < duration <= 3600 and max_resets >= 0 and max_ticks >= 1):
            raise ValueError("need 0 < duration <= 3600, max_resets >= 0, max_ticks >= 1")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration
        done = 0
        for _ in range(max_ticks):
            if done >= max_resets or self._closing:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            wait = rng.expovariate(rate_per_s)
            if wait >= remaining:
                await asyncio.sleep(remaining)
                break
            await asyncio.sleep(wait)
            if self.reset_one(rng):
                done += 1
        return done

    def chaos_task(
        self,
        rate_per_s: float,
        rng: random.Random,
        *,
        max_resets: int = 10,
        duration: float = 5.0,
        max_ticks: int = 10_000,
    ) -> asyncio.Task[int]:
        """``random_resets(...)`` in a background task (result: resets done).

        The task is cancelled by ``close()`` if still running.
        """
        coro = self.random_resets(
            rate_per_s, rng, max_resets=max_resets, duration=duration, max_ticks=max_ticks
        )
        return self._spawn(coro, "faultproxy-chaos")

    # ------------------------------------------------------------------ connections

    def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._next_id += 1
        conn = _Conn(self._next_id, reader, writer)
        self.connections_total += 1
        if self._closing:
            abort_transport(writer, rst=True)
            self._spawn(_wait_closed(writer), "faultproxy-refused")
            return
        if self._refuse is not None:
            self.refused += 1
            if self._refuse == "reset":
                self.resets += 1
            abort_transport(writer, rst=self._refuse == "reset")
            self._spawn(_wait_closed(writer), "faultproxy-refused")
            return
        self._conns[conn.id] = conn
        self._spawn(self._serve(conn), f"faultproxy-conn-{conn.id}")

    def _take_pending_cut(self) -> _Cut | None:
        for rule in self._pending_cuts:
            cut = _Cut(rule.n_bytes, rule.direction)
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self._pending_cuts.remove(rule)
            return cut
        return None

    async def _serve(self, conn: _Conn) -> None:
        try:
            conn.cut = self._take_pending_cut()
            if conn.cut is not None and conn.cut.remaining == 0:
                self._kill(conn, rst=True, fault=True)
            elif self._blackhole:
                conn.stalled = True
            else:
                await self._connect(conn)
            if not conn.closed and conn.u_writer is not None and conn.u_reader is not None:
                q_up: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
                q_down: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
                loop = asyncio.get_running_loop()
                conn.tasks = [
                    loop.create_task(self._read_half(conn, "up", conn.c_reader, q_up)),
                    loop.create_task(self._write_half(conn, "up", conn.u_writer, q_up)),
                    loop.create_task(self._read_half(conn, "down", conn.u_reader, q_down)),
                    loop.create_task(self._write_half(conn, "down", conn.c_writer, q_down)),
                ]
            await conn.done.wait()
        finally:
            if not conn.closed:  # cancelled by close(): no graceful path
                self._kill(conn, rst=True, fault=False)
            for t in conn.tasks:
                t.cancel()
            await asyncio.gather(*conn.tasks, return_exceptions=True)
            await _wait_closed(conn.c_writer)
            await _wait_closed(conn.u_writer)
            self._conns.pop(conn.id, None)

    async def _connect(self, conn: _Conn) -> None:
        host, port = self._upstream
        if self._is_self(host, port):  # would loop connections forever
            self._kill(conn, rst=True, fault=False)
            return
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(host, port, limit=self._chunk * 2)
        except (OSError, TimeoutError):
            # the closest thing to "connection refused" once the client is accepted
            self._kill(conn, rst=True, fault=False)
            return
        conn.u_reader, conn.u_writer = reader, writer
        if conn.closed:  # reset while connecting
            abort_transport(writer, rst=True)
        elif self._blackhole or conn.stalled:
            conn.stalled = True

    def _kill(self, conn: _Conn, *, rst: bool, fault: bool) -> None:
        """Close both sides now (RST if ``rst``); ``fault`` counts it in ``resets``."""
        if conn.closed:
            return
        conn.closed = True
        if fault:
            self.resets += 1
        abort_transport(conn.c_writer, rst=rst)
        abort_transport(conn.u_writer, rst=rst)
        conn.done.set()

    def _finish(self, conn: _Conn) -> None:
        """Both directions forwarded their EOF: a graceful close."""
        if conn.closed:
            return
        conn.closed = True
        conn.c_writer.close()
        if conn.u_writer is not None:
            conn.u_writer.close()
        conn.done.set()

    async def _read_half(
        self,
        conn: _Conn,
        direction: str,
        src: asyncio.StreamReader,
        queue: asyncio.Queue[tuple[float, bytes] | None],
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not conn.closed:
                if conn.stalled:
                    await conn.done.wait()
                    return
                data = await src.read(self._chunk)
                if conn.stalled or conn.closed:
                    continue  # dropped; the next turn parks
                if not data:
                    await queue.put(None)
                    return
                data, flipped = conn.records[direction].feed(data)
                self.flipped[direction] += flipped
                at = loop.time() + self._delay
                if self._jitter:
                    at += self._rng.uniform(0.0, self._jitter)
                at = max(at, conn.last_at[direction])
                conn.last_at[direction] = at
                await queue.put((at, data))
        except (ConnectionError, OSError):
            # the peer reset: pass the reset on, like a middlebox losing its state
            if not conn.stalled:
                self._kill(conn, rst=True, fault=False)

    async def _write_half(
        self,
        conn: _Conn,
        direction: str,
        dst: asyncio.StreamWriter,
        queue: asyncio.Queue[tuple[float, bytes] | None],
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not conn.closed:
                item = await queue.get()
                if conn.stalled:
                    await conn.done.wait()
                    return
                if item is None:
                    if dst.can_write_eof():
                        dst.write_eof()
                    conn.eof.add(direction)
                    if conn.eof >= {"up", "down"}:
                        self._finish(conn)
                    return
                at, data = item
                wait = at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._forward(conn, direction, dst, data)
        except (ConnectionError, OSError):
            if not conn.stalled:
                self._kill(conn, rst=True, fault=False)

    async def _forward(
        self, conn: _Conn, direction: str, dst: asyncio.StreamWriter, data: bytes
    ) -> None:
        pos = 0
        while pos < len(data):
            if conn.stalled or conn.closed:
                return
            size = self._fragment or len(data)
            piece = data[pos : pos + size]
            pos += len(piece)
            cut = conn.cut
            cut_now = False
            if cut is not None and cut.applies(direction):
                piece = piece[: cut.remaining]
                cut.remaining -= len(piece)
                cut_now = cut.remaining == 0
            if piece:
                dst.write(piece)
                if direction == "up":
                    conn.bytes_up += len(piece)
                    self.bytes_up += len(piece)
                else:
                    conn.bytes_down += len(piece)
                    self.bytes_down += len(piece)
                await dst.drain()
            if cut_now:
                self._kill(conn, rst=True, fault=True)
                return
            if self._fragment and pos < len(data) and self._fragment_gap >= 0:
                await asyncio.sleep(self._fragment_gap)
