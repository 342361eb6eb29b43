"""One TLS connection to a Tertulia server: handshake, trust check, requests, events, heartbeat.

Theory of operation: :meth:`Connection.open` connects over TCP+TLS, checks the server's
certificate against the caller's :class:`~tertulia.client.trust.TrustPolicy` right after the
handshake (before a single byte of the protocol is sent, so a password never reaches an
impostor), then exchanges ``hello``. A reader task feeds every received chunk to the sans-I/O
:class:`tertulia.proto.ClientConnection` and sorts what comes out:

* a reply (any message carrying the ``id`` of one of our requests) resolves that request's
  future; an ``error`` reply makes it raise :class:`ServerError`;
* a server ``ping {nonce}`` is answered at once with ``pong {nonce}``;
* ``bye`` records why the server is about to close;
* everything else is an *event* and goes to the ``on_event`` callback, synchronously and in
  stream order (the callback must not block; hand work to a task or queue).

When the stream ends, every outstanding request fails with :class:`ConnectionLost` and
:meth:`Connection.wait_closed` returns the reason. A connection is never reused after that:
reconnecting is the business of :mod:`tertulia.client.reconnect`.

Liveness: TCP keepalive is switched on (dead peers are noticed by the kernel within about a
minute and a half even when idle), and a watchdog sends our own ``ping`` when nothing has been
received for ``heartbeat_interval`` seconds (announced by the server in ``hello_ok``) and aborts
the connection when nothing at all arrives for twice that plus a grace period -- that catches a
server that is silently gone (a frozen process, a dropped route) long before TCP would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from tertulia import __version__
from tertulia.client.trust import (
    PromptCallback,
    TrustPolicy,
    UntrustedCertificateError,
    ssl_context_for,
    verify_peer,
)
from tertulia.proto import (
    FATAL_CODES,
    PROTOCOL_VERSION,
    ClientConnection,
    RemoteProtocolError,
)
from tertulia.proto import messages as m
from tertulia.proto.framing import HEADER
from tertulia.transport import tls
from tertulia.transport.tcp import open_tls_stream

__all__ = [
    "DEFAULT_PORT",
    "ClientError",
    "Connection",
    "ConnectionLost",
    "EventCallback",
    "RefusedLocally",
    "ServerError",
]

log = logging.getLogger("tertulia.client.connection")

#: The IANA-unassigned port Tertulia servers listen on by default.
DEFAULT_PORT = 7443

#: Frames *from* the server may be large (a history page of 200 long messages); the server is
#: the party we chose to trust, so the client only guards against absurd sizes.
_MAX_INBOUND_FRAME = m.MAX_SERVER_FRAME
_READ_SIZE = 65536
FRAME_HEADER_SIZE = HEADER.size
#: Extra seconds of silence tolerated on top of two heartbeat intervals before giving up (at
#: most; half an interval for short intervals), so a half-open link is noticed within
#: ``2 * interval + 5`` seconds: 35 s with the default 15 s interval.
_HEARTBEAT_GRACE = 5.0

R = TypeVar("R", bound=msgspec.Struct)
#: ``busy`` answers to a login or registration retried on the same connection, and the longest
#: wait between tries (the server's ``retry_after`` otherwise)
BUSY_RETRIES = 5
BUSY_MAX_WAIT = 10.0
EventCallback = Callable[[m.ServerMessage], None]


class ClientError(Exception):
    """Base class of the errors the client library raises."""


class ServerError(ClientError):
    """The server answered a request with an ``error`` frame.

    ``code`` is the stable wire code (``auth_failed``, ``room_not_found``, ...): branch on it and
    translate it for users; ``message`` is English for logs; ``params`` carries details such as
    ``{"max": 4000}`` for ``text_too_long``.
    """

    def __init__(self, code: str, message: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.params: dict[str, Any] = dict(params or {})

    @classmethod
    def from_frame(cls, err: m.Error) -> ServerError:
        return cls(err.code, err.message, err.params)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.message, self.params))


class RefusedLocally(ServerError):
    """The client refused to send a request that the server would refuse: nothing was sent.

    Raised (or recorded on an outbox entry) with the very ``code`` and ``params`` the server
    would have answered, so callers branch on ``code`` alike: ``frame_too_large {size, max}``
    for a frame over the limits announced in ``hello_ok`` -- the server would have closed the
    connection, and a reconnecting client would have sent it again forever --,
    ``text_too_long {max}``, ``invalid_argument {field: "text"}``.
    """


class ConnectionLost(ClientError):
    """The connection ended before the request got its answer.

    ``code`` is the code of the server's ``bye`` (``shutting_down``, ``timeout``,
    ``slow_consumer``...) or of a fatal ``error`` when there was one, else ``None`` (the socket
    simply closed or broke). Whether the request took effect is unknown: only resend requests
    that are idempotent (the outbox's ``send`` is, thanks to its ``msg_id``).
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Connection:
    """A logged-in (or about to be) protocol session over one TLS stream.

    Create with :meth:`open`; it returns after ``hello_ok``. Then :meth:`login` (or
    :meth:`register` first), then any :meth:`request`. The caller owns the connection and must
    :meth:`close` it; the reader task ends by itself when the peer closes.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        host: str,
        port: int,
        on_event: EventCallback | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._reader = reader
        self._writer = writer
        self._proto = ClientConnection(
            max_frame_pre_auth=_MAX_INBOUND_FRAME, max_frame=_MAX_INBOUND_FRAME
        )
        self._on_event = on_event
        self._ids = itertools.count(1)
        self._pending: dict[int | str, asyncio.Future[m.ServerMessage]] = {}
        #: body size of each pending request, to tell which one a ``frame_too_large`` was about
        self._sizes: dict[int | str, int] = {}
        self._closed = asyncio.Event()
        self._close_reason: ConnectionLost | None = None
        self._bye: m.ServerBye | None = None
        self._last_rx = time.monotonic()
        self._reader_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        #: set by :meth:`open` from ``hello_ok``
        self.hello_ok: m.HelloOk | None = None
        #: the normalized user name once :meth:`login` succeeded
        self.user: str | None = None
        self.admin = False

    def __repr__(self) -> str:
        if self._closed.is_set():
            state = "closed"
        elif self.user is not None:
            state = f"user={self.user}"
        else:
            state = "pre-auth"
        return f"<Connection {self.host}:{self.port} {state} pending={len(self._pending)}>"

    # ------------------------------------------------------------------ opening

    @classmethod
    async def open(
        cls,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        trust: TrustPolicy,
        on_event: EventCallback | None = None,
        prompt: PromptCallback | None = None,
        timeout: float = 15.0,
        client_name: str = f"tertulia-py/{__version__}",
    ) -> Connection:
        """Connect, verify the server per ``trust``, exchange ``hello``; return the connection.

        Raises ``OSError``/``TimeoutError`` when the server cannot be reached, a
        :class:`~tertulia.client.trust.TrustError` when its certificate is not the expected one
        (nothing has been sent at that point), :class:`ServerError` when it refuses ``hello``.
        ``prompt(fingerprint, host, port) -> bool`` is asked, in TOFU mode, whether to trust a
        server seen for the first time (a GUI dialog); without it ``tofu`` accepts silently.
        """
        # plaintext only when explicitly asked for (a server run with --insecure-no-tls)
        ctx = None if trust.insecure_no_tls else ssl_context_for(trust)
        try:
            reader, writer = await open_tls_stream(host, port, ctx, timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            # CA / system mode: show which certificate was presented, to compare out of band
            fp: str | None = None
            with contextlib.suppress(Exception):
                fp = await tls.probe_fingerprint(host, port, timeout=min(timeout, 5.0))
            raise UntrustedCertificateError(host, port, fp, reason=exc.verify_message) from exc
        try:
            ssl_obj = writer.get_extra_info("ssl_object")
            if ctx is None:
                pass  # insecure plaintext mode, asked for explicitly: nothing to verify
            elif ssl_obj is None:
                raise ConnectionLost("the connection has no TLS layer")
            elif prompt is not None and trust.mode == "tofu":
                # a person may take a while to answer: keep the event loop going meanwhile
                der = tls.peer_certificate(ssl_obj)
                await asyncio.to_thread(verify_peer, trust, host, port, der, prompt=prompt)
            else:
                verify_peer(trust, host, port, tls.peer_certificate(ssl_obj))
        except BaseException:
            writer.close()
            raise
        self = cls(reader, writer, host=host, port=port, on_event=on_event)
        self._reader_task = asyncio.get_running_loop().create_task(
            self._read_loop(), name=f"tertulia-read-{host}:{port}"
        )
        try:
            async with asyncio.timeout(timeout):
                self.hello_ok = await self.request(
                    m.Hello(id=0, versions=[PROTOCOL_VERSION], client=client_name), m.HelloOk
                )
        except BaseException:
            await self.close()
            raise
        self._watchdog_task = asyncio.get_running_loop().create_task(
            self._watchdog(self.hello_ok.heartbeat_interval), name="tertulia-watchdog"
        )
        return self

    async def _hashing(self, msg: Any, expect: type[R]) -> R:
        """A request the server answers after an argon2id hash: on ``busy`` (its hashing pool
        is full) wait ``retry_after`` and ask again, up to ``BUSY_RETRIES`` times."""
        for attempt in range(BUSY_RETRIES + 1):
            try:
                return await self.request(msg, expect)
            except ServerError as exc:
                if exc.code != "busy" or attempt == BUSY_RETRIES:
                    raise
                wait = exc.params.get("retry_after")
                delay = float(wait) if isinstance(wait, int | float) else 1.0
                await asyncio.sleep(min(max(delay, 0.05), BUSY_MAX_WAIT))
        raise AssertionError("unreachable")  # pragma: no cover

    async def register(self, user: str, password: str) -> None:
        """Create an account. It does not log in; call :meth:`login` afterwards."""
        await self._hashing(m.Register(id=0, user=user, password=password), m.Ok)

    async def login(self, user: str, password: str) -> m.LoginOk:
        """Log in; raises ``ServerError("auth_failed")`` on any credential problem. A ``busy``
        server (password hashing saturated) is asked again after its ``retry_after``."""
        reply = await self._hashing(m.Login(id=0, user=user, password=password), m.LoginOk)
        self.user = reply.user
        self.admin = reply.admin
        self._proto.authenticated()
        return reply

    async def resume(self, token: str) -> m.LoginOk:
        """Log in with the resume token of an earlier ``login_ok`` (no password, no argon2).

        Raises ``ServerError("auth_failed")`` if the token expired or was revoked.
        """
        reply = await self.request(m.Resume(id=0, token=token), m.LoginOk)
        self.user = reply.user
        self.admin = reply.admin
        self._proto.authenticated()
        return reply

    # ------------------------------------------------------------------ requests

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def bye(self) -> m.ServerBye | None:
        """The server's ``bye``, if it sent one before closing."""
        return self._bye

    def send_request(self, msg: Any) -> asyncio.Future[m.ServerMessage]:
        """Write request ``msg`` under a fresh ``id``; return the future of its raw reply.

        The ``id`` already in ``msg`` is replaced (callers pass ``id=0``). The future resolves
        to the reply message -- an ``Error`` frame included, unconverted -- or raises
        :class:`ConnectionLost`. This does not wait for the write buffer to drain: it is meant
        for pipelining (the outbox); prefer :meth:`request`.
        """
        if self._closed.is_set():
            raise self._lost()
        rid = next(self._ids)
        msg = msgspec.structs.replace(msg, id=rid)
        frame = self._proto.send(msg)
        size = len(frame) - FRAME_HEADER_SIZE
        limit = self.frame_limit
        if limit is not None and size > limit:
            raise RefusedLocally(
                "frame_too_large",
                f"a frame of {size} bytes exceeds the server's limit of {limit}",
                {"size": size, "max": limit},
            )
        fut: asyncio.Future[m.ServerMessage] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._sizes[rid] = size
        self._writer.write(frame)
        return fut

    @property
    def frame_limit(self) -> int | None:
        """The largest frame body the server accepts now (``None`` before ``hello_ok``)."""
        if self.hello_ok is None:
            return None
        limits = self.hello_ok.limits
        return limits.max_frame if self._proto.is_authenticated else limits.max_frame_pre_auth

    async def request(self, msg: Any, expect: type[R]) -> R:
        """Send request ``msg`` and return its reply, which must be of type ``expect``.

        Raises :class:`ServerError` when the server answers with an error,
        :class:`ConnectionLost` when the connection ends first.
        """
        fut = self.send_request(msg)
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.drain()  # backpressure; a broken pipe surfaces via the reader
        reply = await fut
        if isinstance(reply, m.Error):
            raise ServerError.from_frame(reply)
        if not isinstance(reply, expect):
            raise ServerError(
                "bad_message",
                f"expected {expect.__name__} but the server sent {type(reply).__name__}",
            )
        return reply

    async def drain(self) -> None:
        """Wait until the write buffer is below its high-water mark (backpressure)."""
        await self._writer.drain()

    def notify(self, msg: Any) -> None:
        """Write a notice (``typing``, ``pong``): no ``id``, no reply."""
        if self._closed.is_set():
            raise self._lost()
        self._writer.write(self._proto.send(msg))

    # ------------------------------------------------------------------ closing

    async def close(self, *, logout: bool = False, timeout: float = 2.0) -> None:
        """Close the connection (optionally with a polite ``logout`` first). Idempotent."""
        if logout and not self._closed.is_set() and self.user is not None:
            with contextlib.suppress(ClientError, TimeoutError, OSError):
                async with asyncio.timeout(timeout):
                    await self.request(m.Logout(id=0), m.Ok)
        self._abort_local("closed by the client")
        self._writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                await self._writer.wait_closed()
        for task in (self._reader_task, self._watchdog_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def wait_closed(self) -> ConnectionLost:
        """Wait until the connection has ended; return why (never raises it)."""
        await self._closed.wait()
        return self._lost()

    def abort(self, reason: str = "aborted", code: str | None = None) -> None:
        """End the connection now, without a goodbye (the watchdog uses this)."""
        self._abort_local(reason, code)
        self._writer.transport.abort()

    # ------------------------------------------------------------------ internals

    def _lost(self) -> ConnectionLost:
        return self._close_reason or ConnectionLost("connection closed")

    def _abort_local(self, reason: str, code: str | None = None) -> None:
        if self._close_reason is None:
            self._close_reason = ConnectionLost(reason, code)
        self._finish()

    def _finish(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        exc = self._lost()
        pending, self._pending = self._pending, {}
        self._sizes.clear()
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # a request nobody awaits any more must not warn at GC

    async def _read_loop(self) -> None:
        reason = "the server closed the connection"
        try:
            while data := await self._reader.read(_READ_SIZE):
                self._last_rx = time.monotonic()
                for item in self._proto.receive_data(data):
                    self._dispatch(item)
                if self._proto.closed:
                    reason = "the server sent an invalid frame"
                    break
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            reason = f"connection broken: {exc or type(exc).__name__}"
            if tls.integrity_failure(exc) is not None:
                reason = f"TLS integrity check failed (data altered in transit): {exc}"
                log.warning("%s; reconnecting", reason)
        finally:
            code = self._bye.code if self._bye is not None else None
            if self._bye is not None:
                reason = f"server said goodbye ({self._bye.code}): {self._bye.message}"
            if self._close_reason is None:
                self._close_reason = ConnectionLost(reason, code)
            self._finish()
            self._writer.close()

    def _dispatch(self, item: m.ServerMessage | RemoteProtocolError) -> None:
        if isinstance(item, RemoteProtocolError):
            log.warning("undecodable frame from %s:%s: %s", self.host, self.port, item)
            if item.request_id is not None:
                self._sizes.pop(item.request_id, None)
            if item.request_id is not None and (fut := self._pending.pop(item.request_id, None)):
                fut.set_exception(ServerError(item.code.value, item.message, item.params))
            return
        if isinstance(item, m.ServerPing):
            with contextlib.suppress(Exception):
                self._writer.write(self._proto.send(m.Pong(nonce=item.nonce)))
            return
        if isinstance(item, m.ServerBye):
            self._bye = item
            return
        rid = getattr(item, "id", None)
        if rid is None and isinstance(item, m.Error) and item.code == "frame_too_large":
            self._blame_oversized(item)
        if rid is not None:
            self._sizes.pop(rid, None)
            fut = self._pending.pop(rid, None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(item)
                return
        if isinstance(item, m.Error) and item.code in FATAL_CODES and self._bye is None:
            # a fatal error without bye: remember the code as the reason for closing
            self._bye = m.ServerBye(code=item.code, message=item.message)
        if self._on_event is not None:
            try:
                self._on_event(item)
            except Exception:  # a buggy callback must not kill the connection
                log.exception("event callback failed on %r", item)

    def _blame_oversized(self, err: m.Error) -> None:
        """The server refused a frame as too large (fatal, with ``"id": null``): answer the
        request of exactly that size with the error, so its caller learns that *this* request
        can never succeed (instead of a ``ConnectionLost`` that invites sending it again).
        Normally unreachable: :meth:`send_request` checks sizes against ``hello_ok``."""
        size = err.params.get("size")
        for rid, sent in self._sizes.items():
            if sent == size:
                del self._sizes[rid]
                fut = self._pending.pop(rid, None)
                if fut is not None and not fut.done():
                    fut.set_result(
                        m.Error(code=err.code, message=err.message, id=rid, params=dict(err.params))
                    )
                return

    async def _watchdog(self, interval: float) -> None:
        """Ping a quiet server; abort the connection when it stays silent far too long."""
        interval = max(1.0, float(interval))
        dead_after = 2 * interval + min(_HEARTBEAT_GRACE, interval / 2)
        pinged_at = 0.0
        while not self._closed.is_set():
            await asyncio.sleep(interval / 4)
            idle = time.monotonic() - self._last_rx
            if idle >= dead_after:
                log.info("no data from %s:%s for %.0f s: reconnecting", self.host, self.port, idle)
                self.abort(f"the server was silent for {idle:.0f} s", "timeout")
                return
            if idle >= interval and time.monotonic() - pinged_at >= interval:
                pinged_at = time.monotonic()
                with contextlib.suppress(ClientError):
                    fut = self.send_request(m.Ping(id=0))
                    fut.add_done_callback(_consume)


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()
