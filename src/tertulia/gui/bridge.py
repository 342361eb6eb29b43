"""The one bridge between Qt and the network: a :class:`~tertulia.client.Client` on an asyncio
loop in a worker thread, talking to the GUI thread through queued Qt signals.

Theory of operation. Qt owns the main thread and its event loop; asyncio gets a thread of its
own (QtAsyncio cannot open TCP connections in PySide6 6.12, and a separate loop keeps a slow
network from ever freezing the window). Traffic crosses the thread boundary in two directions
and nowhere else:

* GUI -> network: :meth:`ClientBridge.call` schedules a coroutine on the worker loop with
  :func:`asyncio.run_coroutine_threadsafe` and returns at once; when it finishes, its result or
  exception comes back as a queued signal and the callback runs **on the GUI thread**.
* network -> GUI: the client's event handler and outbox change callback run on the worker loop
  and only ``emit`` signals (:attr:`ClientBridge.eventReceived`,
  :attr:`ClientBridge.outboxChanged`); Qt queues them to the GUI thread because the receivers
  live there. What crosses is immutable: the protocol's frozen message structs, and
  :class:`OutboxItem` snapshots (never the live outbox entries, which the loop mutates).

The only blocking wait is the trust prompt: the client library asks ``prompt(fp, host, port)``
synchronously on the loop thread during the TLS check, so the bridge emits
:attr:`ClientBridge.trustRequested` and parks the worker thread until the GUI answers with
:meth:`ClientBridge.answer_trust` (or the bridge shuts down). Nothing else runs on that loop
meanwhile, and nothing on the GUI thread ever waits for the worker, so this cannot deadlock.

Widgets never use this module directly: :mod:`tertulia.gui.store` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from tertulia.client import (
    Client,
    ClientOffline,
    ConnectionStateChanged,
    ConnState,
    Event,
    HistoryPage,
    Limits,
    PendingMessage,
    RoomInfo,
    TrustPolicy,
    new_msg_id,
)

__all__ = ["ClientBridge", "LoginParams", "OutboxItem", "SessionInfo", "describe_state"]

log = logging.getLogger("tertulia.gui.bridge")

T = TypeVar("T")
Callback = Callable[[Any], None]

#: How many recent messages of each room are fetched when the session starts.
INITIAL_PAGE = 50
#: The longest the worker waits for the user to answer a trust prompt.
_TRUST_PROMPT_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class LoginParams:
    """What the connect dialog collected. ``outbox_path`` makes unsent messages survive a
    restart of the app; ``known_servers_path`` is the TOFU file (shared with the CLI)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    register: bool = False
    known_servers_path: Path | None = None
    outbox_path: Path | None = None
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    connect_timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """The result of a successful login: who we are, our rooms and their recent messages."""

    user: str
    admin: bool
    limits: Limits | None
    rooms: list[RoomInfo]
    pages: dict[str, HistoryPage]
    outbox: list[OutboxItem]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An immutable snapshot of an outbox entry, safe to hand to the GUI thread."""

    msg_id: str
    room: str
    text: str
    kind: str
    state: str  # "pending", "sending", "sent", "failed"
    created: float
    seq: int | None = None
    ts: int | None = None
    error_code: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, entry: PendingMessage) -> OutboxItem:
        return cls(
            msg_id=entry.msg_id,
            room=entry.room,
            text=entry.text,
            kind=entry.kind,
            state=entry.state.value,
            created=entry.created,
            seq=entry.sent.seq if entry.sent is not None else None,
            ts=entry.sent.ts if entry.sent is not None else None,
            error_code=entry.error.code if entry.error is not None else None,
            error_params=dict(entry.error.params) if entry.error is not None else {},
        )


class ClientBridge(QObject):
    """Runs one :class:`Client` at a time on a private asyncio loop; see the module docstring.

    Create it on the GUI thread. Every callback passed to :meth:`call` and :meth:`login` runs
    on the GUI thread. Call :meth:`shutdown` before the application quits.
    """

    #: a client :data:`~tertulia.client.Event` (messages, presence, state changes...)
    eventReceived = Signal(object)
    #: an :class:`OutboxItem` whose state changed
    outboxChanged = Signal(object)
    #: ``(fingerprint, host, port)``: ask the user, then call :meth:`answer_trust`
    trustRequested = Signal(str, str, int)
    #: internal: ``(callback, value)`` to run on the GUI thread
    _deliver = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None
        self._trust_lock = threading.Lock()
        self._trust_event: threading.Event | None = None
        self._trust_answer = False
        self._closing = False
        self._deliver.connect(self._on_deliver)

    # ------------------------------------------------------------------ thread

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None:
            return self._loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="tertulia-network", daemon=True)
        self._thread.start()
        ready.wait(10)
        self._loop = loop
        return loop

    @property
    def client(self) -> Client | None:
        """The current client (for tests and diagnostics; use only on the worker loop)."""
        return self._client

    @property
    def user(self) -> str:
        return self._client.user if self._client is not None else ""

    # ------------------------------------------------------------------ GUI -> worker

    def call(
        self,
        fn: Callable[[Client], Awaitable[T]],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``await fn(client)`` on the worker loop; report back on the GUI thread.

        Without a client (logged out), ``on_error`` gets :class:`ClientOffline`.
        """
        client = self._client
        if client is None or self._closing:
            if on_error is not None:
                on_error(ClientOffline("not logged in"))
            return
        self._submit(fn(client), on_done, on_error)

    def _submit(
        self,
        coro: Awaitable[T],
        on_done: Callable[[T], None] | None,
        on_error: Callable[[BaseException], None] | None,
    ) -> None:
        loop = self._ensure_loop()

        async def runner() -> T:
            return await coro

        fut = asyncio.run_coroutine_threadsafe(runner(), loop)

        def finished(f: Any) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                if on_error is not None:
                    self._deliver.emit(on_error, exc)
                else:
                    log.info("background request failed: %s", exc)
            elif on_done is not None:
                self._deliver.emit(on_done, f.result())

        fut.add_done_callback(finished)

    @Slot(object, object)
    def _on_deliver(self, callback: Callback, value: Any) -> None:
        try:
            callback(value)
        except RuntimeError as exc:  # a callback on a widget deleted meanwhile
            if "already deleted" not in str(exc):
                raise

    def login(
        self,
        params: LoginParams,
        on_done: Callable[[SessionInfo], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Connect and log in (registering first if asked); ``on_done(SessionInfo)``.

        The first attempt must succeed: a network failure, refused credentials or an untrusted
        certificate go to ``on_error`` (the connect dialog shows them) instead of being retried
        in the background. After that first success the client reconnects by itself.
        """
        self._closing = False
        self._submit(self._login(params), on_done, on_error)

    async def _login(self, p: LoginParams) -> SessionInfo:
        if self._client is not None:
            await self._close_client()
        trust = (
            TrustPolicy(tofu=True, known_servers_path=p.known_servers_path)
            if p.known_servers_path is not None
            else TrustPolicy(tofu=True)
        )
        client = Client(
            p.host,
            p.port,
            p.user,
            p.password,
            trust=trust,
            outbox_path=p.outbox_path,
            prompt=self._prompt,
            backoff_base=p.backoff_base,
            backoff_cap=p.backoff_cap,
            connect_timeout=p.connect_timeout,
            client_name="tertulia-gui",
        )
        if p.register:
            await client.register()
        stream = client.events()
        try:
            await client.start(wait=False)
            async with asyncio.timeout(p.connect_timeout * 2):
                while True:
                    ev = await stream.get()
                    if not isinstance(ev, ConnectionStateChanged):
                        continue
                    if ev.state is ConnState.CONNECTED:
                        break
                    if ev.state in (ConnState.RECONNECTING, ConnState.OFFLINE):
                        raise ev.error or ClientOffline("could not connect")
        except BaseException:
            stream.close()
            await client.close()
            raise
        stream.close()
        # from here on the GUI hears everything
        client.on_event(self._on_event)
        client.outbox.on_change = self._on_outbox_change
        self._client = client
        rooms = await client.list_rooms()
        joined = [r for r in rooms if r.joined]
        # follow every room we are in, so a reconnect syncs them all (join is idempotent)
        infos = await asyncio.gather(
            *(client.join(r.name, create=False) for r in joined), return_exceptions=True
        )
        by_name = {r.name: r for r in rooms}
        for info in infos:
            if isinstance(info, RoomInfo):
                by_name[info.name] = info
        pages = await asyncio.gather(
            *(client.history(r.name, limit=INITIAL_PAGE) for r in joined), return_exceptions=True
        )
        return SessionInfo(
            user=client.user,
            admin=client.admin,
            limits=client.limits,
            rooms=list(by_name.values()),
            pages={
                r.name: pg
                for r, pg in zip(joined, pages, strict=True)
                if isinstance(pg, HistoryPage)
            },
            outbox=[OutboxItem.of(e) for e in client.outbox],
        )

    def send(self, room: str, text: str, kind: str = "text") -> str:
        """Queue a message; returns its ``msg_id`` at once (the GUI shows it as pending).
        It is sent, in order, whenever the client is connected; exactly once."""
        msg_id = new_msg_id()
        k: Any = kind
        self.call(lambda c: c.send(room, text, k, msg_id=msg_id))
        return msg_id

    def retry(self, msg_id: str) -> None:
        """Queue a failed message again."""

        async def do(c: Client) -> None:
            with contextlib.suppress(KeyError):
                c.retry(msg_id)

        self.call(do)

    def discard(self, msg_id: str) -> None:
        """Drop a failed message from the outbox for good."""

        async def do(c: Client) -> None:
            c.outbox.discard(msg_id)

        self.call(do)

    def retry_now(self) -> None:
        """Skip the reconnect delay."""

        async def do(c: Client) -> None:
            c.retry_now()

        self.call(do)

    def typing(self, room: str) -> None:
        self.call(lambda c: c.typing(room))

    def logout(self, on_done: Callable[[None], None] | None = None) -> None:
        """Log out and forget the client; unsent messages stay in the outbox file."""
        if self._client is None:
            if on_done is not None:
                on_done(None)
            return
        self._submit(self._close_client(), on_done, lambda exc: on_done and on_done(None))

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # ------------------------------------------------------------------ worker -> GUI

    def _on_event(self, ev: Event) -> None:
        if not self._closing:
            self.eventReceived.emit(ev)

    def _on_outbox_change(self, entry: PendingMessage) -> None:
        if not self._closing:
            self.outboxChanged.emit(OutboxItem.of(entry))

    def _prompt(self, fp: str, host: str, port: int) -> bool:
        """Called on the worker loop by the trust check; blocks until the GUI answers."""
        with self._trust_lock:
            if self._closing:
                return False
            event = self._trust_event = threading.Event()
            self._trust_answer = False
        self.trustRequested.emit(fp, host, port)
        event.wait(_TRUST_PROMPT_TIMEOUT)
        with self._trust_lock:
            self._trust_event = None
            return self._trust_answer

    def answer_trust(self, accepted: bool) -> None:
        """The user's answer to :attr:`trustRequested`."""
        with self._trust_lock:
            self._trust_answer = accepted
            if self._trust_event is not None:
                self._trust_event.set()

    # ------------------------------------------------------------------ shutdown

    def shutdown(self, timeout: float = 5.0) -> None:
        """Log out, stop the worker loop and join its thread (blocks up to ``timeout`` s)."""
        self._closing = True
        self.answer_trust(False)
        loop, self._loop = self._loop, None
        if loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._close_client(), loop)
        try:
            fut.result(timeout)
        except Exception as exc:
            log.info("closing the client: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def describe_state(ev: ConnectionStateChanged) -> str:
    """A compact English description, for logs."""
    extra = f" in {ev.retry_in:.1f}s" if ev.retry_in is not None else ""
    return f"{ev.state.value}{extra} ({ev.error})" if ev.error else f"{ev.state.value}{extra}"
