"""One client connection (one device of one user): reading, dispatch, writing, closing.

The session owns its stream and its send buffer. Frames from one connection are handled in
order, one at a time, with one exception that keeps throughput up: a ``send`` is validated,
handed to storage, and the session moves on to the next frame while the commit is in flight
(up to ``max_inflight_sends``); any other request first waits for those commits, so a client
that sends and then asks for history sees its own message.

Writes never block: frames go to the transport's buffer. If that buffer grows past
``max_send_buffer`` the peer is not keeping up, and it is dropped with ``slow_consumer``
instead of letting server memory grow; it reconnects and catches up with ``sync``.

Frames written during one pass of the event loop are coalesced into a single transport write
at the end of that pass: a group commit fans out many messages at once, and one TLS record and
one ``send()`` per connection per pass cost a fraction of one per frame (the profile of
``tertulia bench -s fanout`` had 58 % of the loop in per-frame ``transport.write``). Every
frame goes through :meth:`Session.write`, so order is unchanged.

Abuse limits (docs/security.md): every frame takes a token from the connection's request
bucket, and a ``send`` also one from its user's message bucket; an empty bucket answers
``rate_limited`` with ``retry_after`` and the frame is not processed. Only a connection that
keeps going after ``rate_strikes`` such answers is closed (``bye rate_limited``). Logins and
registrations are throttled per account and per address by the server's ``Guard``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from tertulia.proto import ErrorCode, RemoteProtocolError, ServerConnection, encode
from tertulia.proto import messages as m
from tertulia.proto.framing import HEADER
from tertulia.server.audit import log_disconnect
from tertulia.server.errors import CommandError
from tertulia.server.limits import retry_after
from tertulia.server.storage.base import StorageFullError
from tertulia.transport.tls import integrity_failure

if TYPE_CHECKING:
    from tertulia.server.app import Server

__all__ = ["Session"]

log = logging.getLogger("tertulia.server.session")

_PRE_AUTH_ALLOWED = (m.Hello, m.Register, m.Login, m.Resume, m.Ping, m.Pong)
_READ_SIZE = 65536
#: pending bytes that trigger an immediate flush instead of waiting for the end of the pass
_FLUSH_AT = 65536
#: a connection that had this much output queued asks for the allocator to be trimmed on close
_TRIM_AFTER = 256 * 1024


class Session:
    """State of one connection. ``user`` is set once login succeeds."""

    def __init__(
        self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        limits = server.config.limits
        self.server = server
        self.hub = server.hub
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        self.conn = ServerConnection(
            max_frame_pre_auth=limits.max_frame_pre_auth, max_frame=limits.max_frame
        )
        self.max_send_buffer = limits.max_send_buffer
        #: the output budget (docs/security.md, "Memory per connection"): a request is handled
        #: only while the queued output is at most this; the transport pauses ``drain`` above it
        self.low_water = min(limits.output_low_water, limits.max_send_buffer // 2)
        self.stall_timeout = limits.output_stall_timeout
        self.transport.set_write_buffer_limits(high=self.low_water, low=self.low_water // 2)
        self.max_inflight = limits.max_inflight_sends
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.ip = str(peer[0]) if isinstance(peer, tuple) else ""
        self.requests = server.guard.request_bucket()
        self.strikes = server.guard.strike_bucket()
        #: hash of the resume token this connection logged in with or was given (for logout)
        self.token_hash: bytes | None = None
        self.user: str | None = None
        #: the account's credential generation this connection logged in under (or moved to by
        #: changing the password): a revocation closes connections of older generations
        self.cred_gen = 0
        self.hello_done = False
        self.closing = False
        #: why the connection ended, for the disconnect log line (first reason wins)
        self.close_reason: str | None = None
        #: rooms being replayed by ``sync``: live messages for them are not written here
        self.syncing: set[str] = set()
        #: per room, the first seq this connection was sent *live* (since login, join or its
        #: last sync of the room): every seq from there up to the room's ``delivered_seq``
        #: reached it, so a ``sync`` racing with live traffic does not send those twice. What
        #: an earlier sync replayed is replayed again if asked for: the client chose the cursor.
        #: Rooms missing here are replayed in full (duplicates at worst, never a loss).
        self.live_from: dict[str, int] = {}
        self.inflight: set[asyncio.Future[Any]] = set()
        now = time.monotonic()
        self.connected_at = now
        self.last_rx = now
        self.ping_nonce: int | None = None
        self.ping_sent_at = 0.0
        #: frames written in this loop pass, flushed together by ``_flush``
        self._out: list[bytes] = []
        self._out_bytes = 0
        #: the most output this connection had queued (its memory is trimmed after it closes)
        self.peak_queued = 0
        self._loop = asyncio.get_running_loop()

    def __repr__(self) -> str:
        state = "closing" if self.closing else ("auth" if self.user else "pre-auth")
        return f"<Session {self.peer} {self.user or '-'} {state} queued={self.queued_bytes}>"

    def describe(self) -> dict[str, object]:
        """Operator view of this connection (``tertulia admin sessions``)."""
        return {
            "peer": self.peer,
            "age": round(time.monotonic() - self.connected_at, 1),
            "idle": round(time.monotonic() - self.last_rx, 1),
            "queued_bytes": self.queued_bytes,
            "inflight_sends": len(self.inflight),
            "syncing": sorted(self.syncing),
        }

    @property
    def queued_bytes(self) -> int:
        return self.transport.get_write_buffer_size() + self._out_bytes

    # ------------------------------------------------------------------ writing
    def write(self, frame: bytes) -> None:
        """Queue ``frame`` for the peer; it leaves with the others of this loop pass."""
        if self.closing:
            return
        if len(frame) - HEADER.size > m.MAX_SERVER_FRAME:
            self._oversize(frame, None, "event")
            return
        out = self._out
        out.append(frame)
        self._out_bytes += len(frame)
        if len(out) == 1:
            self._loop.call_soon(self._flush)
        elif self._out_bytes >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        """Hand the pending frames to the transport as one write; drop a slow consumer."""
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_bytes = 0
        if self.closing:
            return
        transport = self.transport
        transport.write(data)
        queued = transport.get_write_buffer_size()
        if queued > self.peak_queued:
            self.peak_queued = queued
        if queued > self.max_send_buffer:
            self.close(ErrorCode.SLOW_CONSUMER, "send buffer full: reconnect and sync", abort=True)

    async def writable(self) -> None:
        """Return once this connection's queued output is within its budget (``low_water``).

        Called before a request is handled and before each page of a replay, so that replies,
        history and sync pages are produced only as fast as the peer reads them: a client that
        asks and never reads holds at most the budget plus one reply, instead of whatever its
        requests would produce. Meanwhile nothing more is read from it (its requests wait in
        the kernel). A peer that does not drain within ``stall_timeout`` is dropped as a slow
        consumer; a lost connection raises ``ConnectionError`` (the dispatcher closes).
        """
        # frames queued this pass count too, but stay queued: flushing here would cost a
        # transport write per request and undo the one-write-per-pass batching of acks
        if self.closing or self.queued_bytes <= self.low_water:
            return
        self._flush()
        if self.closing:  # the flush found it over max_send_buffer and dropped it
            return
        try:
            await asyncio.wait_for(self.writer.drain(), self.stall_timeout)
        except TimeoutError:
            self.close(ErrorCode.SLOW_CONSUMER, "not reading: reconnect and sync", abort=True)
            raise ConnectionError("slow consumer dropped") from None

    def send(self, msg: Any) -> None:
        """Encode and queue ``msg``; a reply too large for the protocol becomes an error."""
        frame = encode(msg)
        if len(frame) - HEADER.size > m.MAX_SERVER_FRAME:
            self._oversize(frame, getattr(msg, "id", None), type(msg).__name__)
            return
        self.write(frame)

    def _oversize(self, frame: bytes, request_id: str | int | None, what: str) -> None:
        """A frame over ``MAX_SERVER_FRAME`` is never sent: the client would drop the
        connection on its header. A reply is answered ``reply_too_large`` instead (the
        configuration bounds every page, so this is a bug, counted and logged at a bounded
        rate); an event is dropped."""
        size = len(frame) - HEADER.size
        self.server.error_log.internal_error(
            f"{what} of {size} bytes over the {m.MAX_SERVER_FRAME} a server may send, for {self!r}",
            RuntimeError("oversize frame not sent"),
        )
        if request_id is not None:
            self.write_error(
                request_id,
                ErrorCode.REPLY_TOO_LARGE,
                "the reply would exceed the largest frame a server may send",
                size=size,
                max=m.MAX_SERVER_FRAME,
            )

    def write_error(
        self, request_id: str | int | None, code: ErrorCode, message: str, **params: Any
    ) -> None:
        self.server.error_log.answered_error(code.value)
        self.write(encode(m.Error(id=request_id, code=code.value, message=message, params=params)))

    def close(
        self, code: ErrorCode | None = None, message: str = "", *, abort: bool = False
    ) -> None:
        """Say ``bye`` (if a reason is given) and close; ``abort`` drops what is still queued."""
        if self.closing:
            return
        if self.close_reason is None:
            self.close_reason = (
                f"{code.value}: {message}" if code is not None else "closed by the server"
            )
        if abort:
            self._out.clear()
            self._out_bytes = 0
        else:
            self._flush()  # frames already written go before the bye
            if self.closing:  # the flush found a slow consumer and dropped it
                return
        if code is not None:
            self.server.closes[code.value] += 1
            self.transport.write(encode(m.ServerBye(code=code.value, message=message)))
        self.closing = True
        if abort:
            self.transport.abort()
        else:
            self.transport.close()
            # a peer that never reads would keep the flush (and our memory) pending forever
            asyncio.get_running_loop().call_later(5.0, self.transport.abort)
        self.reader.feed_eof()

    # ------------------------------------------------------------------ reading
    async def run(self) -> None:
        """Read and handle frames until the connection ends; release everything after."""
        try:
            while not self.closing:
                try:
                    data = await self.reader.read(_READ_SIZE)
                except (ConnectionError, OSError) as exc:
                    self._read_failed(exc)
                    break
                if not data:
                    self.close_reason = self.close_reason or "closed by the client"
                    break
                # any bytes prove the link is alive, whether or not they are the pong
                self.last_rx = time.monotonic()
                self.ping_nonce = None
                for event in self.conn.receive_data(data):
                    if self.closing:
                        break
                    if not self._admit(event):
                        continue
                    if isinstance(event, RemoteProtocolError):
                        self._protocol_error(event)
                    else:
                        await self._dispatch(event)
        finally:
            await self._release()

    def _read_failed(self, exc: BaseException) -> None:
        """The connection broke while reading; an altered TLS record is worth a WARNING."""
        where = integrity_failure(exc)
        if where is None:
            log.debug("%s read error: %s", self.peer, exc)
            self.close_reason = self.close_reason or f"connection lost: {exc}"
            return
        self.server.tls_integrity_failures[where] += 1
        what = "a TLS record from" if where == "here" else "TLS: the peer says a record to"
        log.warning(
            "%s %s failed its integrity check (bad record MAC: altered in transit);"
            " connection closed, nothing of it was used",
            what,
            self.peer,
        )
        self.close_reason = self.close_reason or "TLS integrity failure (bad record MAC)"

    def _admit(self, event: Any) -> bool:
        """Take a request token for ``event``; False (after saying so) if there is none.

        Heartbeat answers and fatal errors always pass: the first keep a throttled but honest
        client connected, the second close the connection anyway.
        """
        if isinstance(event, m.Pong) or (isinstance(event, RemoteProtocolError) and event.fatal):
            return True
        wait = self.requests.take()
        if wait <= 0:
            return True
        rid = event.request_id if isinstance(event, RemoteProtocolError) else None
        rid = getattr(event, "id", rid)
        self.server.guard.refusals["request_rate"] += 1
        self.rate_limited(rid, "slow down: too many requests", wait, "request_rate")
        return False

    def rate_limited(
        self, request_id: str | int | None, message: str, wait: float, limit: str
    ) -> None:
        """Answer ``rate_limited``; close the connection once it has ignored too many."""
        self.write_error(
            request_id, ErrorCode.RATE_LIMITED, message, retry_after=retry_after(wait), limit=limit
        )
        if self.strikes.take() > 0:
            self.close(ErrorCode.RATE_LIMITED, "too many requests after being told to slow down")

    def _protocol_error(self, exc: RemoteProtocolError) -> None:
        self.write_error(exc.request_id, exc.code, exc.message, **exc.params)
        if exc.fatal:
            self.close_reason = self.close_reason or f"protocol error: {exc.code.value}"
            self.close()

    async def _dispatch(self, msg: Any) -> None:
        from tertulia.server import commands
        from tertulia.server.accounts import guarded
        from tertulia.server.handlers import handler_for

        request_id = getattr(msg, "id", None)
        try:
            # a pong may answer a heartbeat ping that came before hello
            if not self.hello_done and not isinstance(msg, m.Hello | m.Pong):
                raise CommandError(ErrorCode.HELLO_REQUIRED, "send hello first")
            if self.user is None and not isinstance(msg, _PRE_AUTH_ALLOWED):
                raise CommandError(ErrorCode.NOT_AUTHENTICATED, "log in first")
            if isinstance(msg, m.Send):
                assert self.user is not None
                await self.writable()
                self.server.guard.check_message(self.user)
                await commands.send(self, msg)
                return
            if not isinstance(msg, m.Typing | m.Pong):
                await self.writable()  # no reply is produced while the output is over budget
            if self.inflight and not isinstance(msg, m.Typing | m.Pong):
                await asyncio.wait(tuple(self.inflight))
            reply = await guarded(self, msg, handler_for(type(msg)))
            if reply is not None:
                self.send(reply)
        except CommandError as exc:
            if exc.code is ErrorCode.RATE_LIMITED and not self.closing:
                self.write_error(request_id, exc.code, exc.message, **exc.params)
                if self.strikes.take() > 0:
                    self.close(ErrorCode.RATE_LIMITED, "too many requests after slow-down")
                return
            self.write_error(request_id, exc.code, exc.message, **exc.params)
        except StorageFullError as exc:  # login, register, create_room...: nothing was written
            err = self.hub.storage_full.refuse(type(msg).__name__.lower(), exc)
            self.write_error(request_id, err.code, err.message, **err.params)
        except (ConnectionError, OSError) as exc:
            log.debug("%r: connection lost while handling a request: %s", self, exc)
            self.close_reason = self.close_reason or f"connection lost: {exc}"
            self.close()
        except Exception as exc:
            what = f"handling {type(msg).__name__} for {self!r}"
            self.server.error_log.internal_error(what, exc)
            self.write_error(request_id, ErrorCode.INTERNAL, "internal server error")

    async def wait_room_slot(self) -> None:
        """Block reading while too many of this connection's sends await their commit."""
        while len(self.inflight) >= self.max_inflight:
            await asyncio.wait(tuple(self.inflight), return_when=asyncio.FIRST_COMPLETED)

    async def _release(self) -> None:
        """Free the connection's resources at once; the hub forgets the session."""
        if not self.closing:
            self.closing = True
            self.transport.close()
        self.syncing.clear()
        log_disconnect(self, self.close_reason or "closed")
        self.hub.detach(self)
        self.server.sessions.discard(self)
        if self.peak_queued >= _TRIM_AFTER:
            self.server.trimmer.request()
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), timeout=2.0)
        except (ConnectionError, OSError, TimeoutError, asyncio.CancelledError):
            pass

    # ------------------------------------------------------------------ heartbeat
    def tick(self, now: float) -> None:
        """Called about once a second by the server: deadlines and heartbeats."""
        if self.closing:
            return
        cfg = self.server.config
        if self.user is None and now - self.connected_at > cfg.limits.login_timeout:
            self.close(ErrorCode.TIMEOUT, "login not completed in time")
            return
        if self.ping_nonce is not None:
            if now - self.ping_sent_at > cfg.heartbeat.timeout:
                self.close(ErrorCode.TIMEOUT, "no answer to ping", abort=True)
            return
        if now - self.last_rx > cfg.heartbeat.interval:
            self.ping_nonce = self.server.next_nonce()
            self.ping_sent_at = now
            self.send(m.ServerPing(nonce=self.ping_nonce))

    def pong(self, nonce: int) -> None:
        if nonce == self.ping_nonce:
            self.ping_nonce = None
