"""Load-generating clients: one for the Tertulia protocol, one for IRC, same interface.

They are bare ``asyncio.Protocol`` objects (no streams, no tasks per connection) because the
generator must be cheaper than the servers it measures. Both offer the same steps -- connect
(TCP + TLS), log in, join a room, send messages and see them acknowledged -- so a scenario is
written once and run against either kind of server.

"Acknowledged" means: Tertulia's ``sent`` frame (the message is durably stored); for IRC, which
has no acknowledgement, a ``PING`` after a batch of ``PRIVMSG`` lines whose ``PONG`` proves the
server has processed (and queued the fan-out of) everything before it. Senders keep a bounded
window of unacknowledged messages, so "max rate" is the rate the server sustains, not the rate
at which its buffers grow.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from typing import Any

from tertulia.bench.stats import Histogram
from tertulia.proto import ClientConnection, RemoteProtocolError
from tertulia.proto import messages as m

__all__ = ["BenchClientError", "IrcClient", "LoadClient", "TertuliaClient", "client_ssl_context"]

#: receiver callback: (room, text, seq or -1)
OnMessage = Callable[[str, str, int], None]


class BenchClientError(Exception):
    """A step failed (refused, timed out, closed by the server)."""


def client_ssl_context() -> ssl.SSLContext:
    """TLS without certificate checks: the benchmark talks to its own servers on loopback."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class LoadClient(asyncio.Protocol):
    """Shared plumbing: the transport, waiters for replies, the send window, counters."""

    kind = "abstract"

    def __init__(self, name: str, on_message: OnMessage | None = None) -> None:
        self.name = name
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent = 0  # messages written
        self.counter = 0  # next payload counter of this sender (continues across phases)
        self.acked = 0  # messages acknowledged
        self.ack_hist = Histogram()
        self._window_waiter: asyncio.Future[None] | None = None
        self.error: str | None = None

    # -------------------------------------------------------------------- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is duck-typed

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._fail_waiters(BenchClientError(f"connection lost: {exc or 'closed by peer'}"))
        self._wake_window()

    def _fail_waiters(self, exc: Exception) -> None:
        """Fail every pending request (subclasses keep them)."""

    # -------------------------------------------------------------------- public steps
    async def connect(self, host: str, port: int, ctx: ssl.SSLContext, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            await loop.create_connection(lambda: self, host, port, ssl=ctx, server_hostname=None)

    @property
    def inflight(self) -> int:
        return self.sent - self.acked

    @property
    def is_closed(self) -> bool:
        return self.closed.done()

    async def wait_window(self, window: int) -> None:
        """Wait until fewer than ``window`` messages are unacknowledged (or the link died)."""
        while self.inflight >= window and not self.closed.done():
            fut = self._window_waiter = asyncio.get_running_loop().create_future()
            await fut

    def _wake_window(self) -> None:
        fut = self._window_waiter
        if fut is not None and not fut.done():
            fut.set_result(None)
        self._window_waiter = None

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise BenchClientError("not connected")
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def login(self, user: str, password: str, timeout: float) -> None:
        raise NotImplementedError

    async def join(self, room: str, timeout: float) -> None:
        raise NotImplementedError

    def send_batch(self, room: str, texts: list[str]) -> None:
        raise NotImplementedError

    async def flush_acks(self, timeout: float) -> None:
        """Wait until every message written so far is acknowledged."""
        async with asyncio.timeout(timeout):
            while self.acked < self.sent and not self.closed.done():
                await self.wait_window(1)
        if self.acked < self.sent:
            raise BenchClientError(f"{self.sent - self.acked} messages never acknowledged")


class TertuliaClient(LoadClient):
    """The Tertulia wire protocol (docs/protocol.md), framed JSON over TLS."""

    kind = "tertulia"

    def __init__(self, name: str, on_message: OnMessage | None = None) -> None:
        super().__init__(name, on_message)
        self.conn = ClientConnection(max_frame_pre_auth=1 << 24, max_frame=1 << 24)
        self._ids = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        #: request id of a ``send`` -> monotonic ns when written (for the ack latency)
        self._send_t: dict[int, int] = {}
        self.token: str | None = None
        self.cursors: dict[str, int] = {}

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _fail_waiters(self, exc: Exception) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()
        self._pending.clear()

    def data_received(self, data: bytes) -> None:
        on_message = self.on_message
        for ev in self.conn.receive_data(data):
            if type(ev) is m.Message:
                self.cursors[ev.room] = ev.seq
                if on_message is not None:
                    on_message(ev.room, ev.text, ev.seq)
            elif type(ev) is m.Sent:
                t0 = self._send_t.pop(ev.id, None)  # type: ignore[arg-type]
                if t0 is not None:
                    self.ack_hist.record((time.monotonic_ns() - t0) / 1e9)
                    self.acked += 1
                    if self._window_waiter is not None:
                        self._wake_window()
            elif type(ev) is m.ServerPing:
                self.write(self.conn.send(m.Pong(nonce=ev.nonce)))
            elif isinstance(ev, RemoteProtocolError):
                self.error = f"protocol error: {ev}"
                self.abort()
                return
            else:
                self._reply(ev)

    def _reply(self, ev: Any) -> None:
        rid = getattr(ev, "id", None)
        if isinstance(ev, m.Error) and rid in self._send_t:
            # a refused send would show up as a lost message: stop here and say why
            self.error = f"send refused: {ev.code}: {ev.message}"
            self._send_t.pop(rid)
            self.abort()
            return
        fut = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if fut is not None and not fut.done():
            fut.set_result(ev)
        elif isinstance(ev, m.ServerBye | m.Error):
            self.error = f"{ev.code}: {ev.message}"

    async def request(self, msg: Any, timeout: float) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg.id] = fut
        self.write(self.conn.send(msg))
        async with asyncio.timeout(timeout):
            reply = await fut
        if isinstance(reply, m.Error):
            raise BenchClientError(f"{type(msg).__name__}: {reply.code}: {reply.message}")
        return reply

    async def connect(self, host: str, port: int, ctx: ssl.SSLContext, timeout: float) -> None:
        await super().connect(host, port, ctx, timeout)
        await self.request(m.Hello(id=self._next_id(), versions=[1], client="bench"), timeout)

    async def login(self, user: str, password: str, timeout: float) -> None:
        reply = await self.request(
            m.Login(id=self._next_id(), user=user, password=password), timeout
        )
        self.conn.authenticated()
        token = getattr(reply, "token", None)
        self.token = token if isinstance(token, str) else None

    async def resume(self, token: str, timeout: float) -> None:
        """Log in again with the resume token of an earlier ``login_ok`` (no password)."""
        reply = await self.request(m.Resume(id=self._next_id(), token=token), timeout)
        self.conn.authenticated()
        new = getattr(reply, "token", None)
        self.token = new if isinstance(new, str) else token

    async def join(self, room: str, timeout: float) -> None:
        await self.request(m.Join(id=self._next_id(), room=room), timeout)

    async def sync(self, cursors: dict[str, int], timeout: float) -> dict[str, int]:
        reply = await self.request(m.Sync(id=self._next_id(), cursors=cursors), timeout)
        return dict(reply.cursors)

    def send_batch(self, room: str, texts: list[str]) -> None:
        now = time.monotonic_ns()
        frames = []
        for text in texts:
            rid = self._next_id()
            self._send_t[rid] = now
            frames.append(
                self.conn.send(m.Send(id=rid, room=room, msg_id=f"{self.name}.{rid}", text=text))
            )
        self.sent += len(texts)
        self.write(b"".join(frames))


class IrcClient(LoadClient):
    """Plain IRC (RFC 1459/2812) over TLS: NICK/USER, JOIN, PRIVMSG, PING/PONG."""

    kind = "irc"
    #: one PING per this many PRIVMSG lines carries the acknowledgement of the batch
    ACK_EVERY = 8

    def __init__(self, name: str, on_message: OnMessage | None = None) -> None:
        super().__init__(name, on_message)
        self._buf = b""
        self._welcome: asyncio.Future[None] | None = None
        self._joins: dict[str, asyncio.Future[None]] = {}
        #: ping token -> (messages covered, monotonic ns when written)
        self._pings: dict[int, tuple[int, int]] = {}
        self._ping_seq = 0
        self._since_ping = 0

    def _fail_waiters(self, exc: Exception) -> None:
        waiters = [self._welcome, *self._joins.values()]
        for fut in waiters:
            if fut is not None and not fut.done():
                fut.set_exception(exc)
                fut.exception()

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data
        lines = buf.split(b"\r\n")
        self._buf = lines.pop()
        on_message = self.on_message
        for line in lines:
            # ":nick!user@host PRIVMSG #room :text" -- the hot path, checked first
            parts = line.split(b" ", 3)
            if len(parts) == 4 and parts[1] == b"PRIVMSG":
                if on_message is not None:
                    text = parts[3]
                    text = text[1:] if text.startswith(b":") else text
                    on_message(parts[2].decode()[1:], text.decode(), -1)
            elif line.startswith(b"PING"):
                self.write(b"PONG" + line[4:] + b"\r\n")
            elif len(parts) >= 3 and parts[1] == b"PONG":
                self._pong(line.rsplit(b" ", 1)[-1].lstrip(b":"))
            elif len(parts) >= 2:
                self._numeric(parts)

    def _numeric(self, parts: list[bytes]) -> None:
        code = parts[1]
        if code == b"001":
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_result(None)
        elif code == b"366":  # end of NAMES: the JOIN is complete
            chan = parts[3].split(b" ", 1)[0].decode().lower() if len(parts) > 3 else ""
            fut = self._joins.pop(chan, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif code in (b"433", b"432", b"465", b"ERROR") or parts[0] == b"ERROR":
            exc = BenchClientError(b" ".join(parts).decode(errors="replace")[:200])
            self.error = str(exc)
            self._fail_waiters(exc)

    def _pong(self, token: bytes) -> None:
        try:
            key = int(token)
        except ValueError:
            return
        entry = self._pings.pop(key, None)
        if entry is None:
            return
        covered, t0 = entry
        lat = (time.monotonic_ns() - t0) / 1e9
        for _ in range(covered):
            self.ack_hist.record(lat)
        self.acked += covered
        if self._window_waiter is not None:
            self._wake_window()

    async def login(self, user: str, password: str, timeout: float) -> None:
        self._welcome = asyncio.get_running_loop().create_future()
        self.write(f"NICK {user}\r\nUSER {user} 0 * :bench\r\n".encode())
        async with asyncio.timeout(timeout):
            await self._welcome

    async def join(self, room: str, timeout: float) -> None:
        chan = "#" + room
        fut = self._joins[chan.lower()] = asyncio.get_running_loop().create_future()
        self.write(f"JOIN {chan}\r\n".encode())
        async with asyncio.timeout(timeout):
            await fut

    def send_batch(self, room: str, texts: list[str]) -> None:
        prefix = f"PRIVMSG #{room} :"
        out: list[str] = []
        for text in texts:
            out.append(prefix + text + "\r\n")
            self._since_ping += 1
            if self._since_ping >= self.ACK_EVERY:
                out.append(self._ping_line())
        if self._since_ping:
            out.append(self._ping_line())
        self.sent += len(texts)
        self.write("".join(out).encode())

    def _ping_line(self) -> str:
        self._ping_seq += 1
        self._pings[self._ping_seq] = (self._since_ping, time.monotonic_ns())
        self._since_ping = 0
        return f"PING :{self._ping_seq}\r\n"
