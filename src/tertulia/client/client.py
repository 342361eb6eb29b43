"""The asyncio client API: :class:`Client`, for the CLI, the GUI and bots.

Theory of operation. A :class:`Client` owns three cooperating pieces:

* a :class:`~tertulia.client.reconnect.Reconnector` that keeps one
  :class:`~tertulia.client.connection.Connection` up: connect, verify the server, ``hello``,
  ``login``, join the rooms asked for at construction, ``sync`` every room it follows from its
  cursor, then start the outbox pump; on loss, back off and do it all again;
* the :class:`~tertulia.client.outbox.Outbox`: :meth:`Client.send` only appends to it and
  returns; a pump task per connection sends the entries in order (pipelined, up to
  ``send_window`` unacknowledged at a time) and records each ack or refusal;
* the delivery path for incoming messages. Per room the client keeps a *cursor*: the highest
  ``seq`` handed on towards the application. A message with ``seq <= cursor`` is a duplicate
  and dropped; ``seq == cursor + 1`` is delivered and advances the cursor; a higher ``seq`` is a
  gap, so the message waits in a per-room buffer while the gap is fetched with
  ``history(after=cursor)`` (unless a ``sync`` that will fill it is still running). Delivered
  events go through one queue to one dispatcher task, which calls the registered handlers in
  order and feeds every :meth:`Client.events` stream. The cursors persisted to ``cursor_path``
  are those of the messages the dispatcher has handed over (after the handlers returned).

Ownership: everything runs on one event loop; the reader task of the current connection calls
:meth:`Client._on_event` synchronously, which is the only place cursors and buffers change
(besides :meth:`join`/:meth:`open_dm` setting a cursor for a new room) -- no locks needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import signal
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import msgspec

from tertulia import __version__
from tertulia.client.connection import (
    DEFAULT_PORT,
    ClientError,
    Connection,
    RefusedLocally,
    ServerError,
)
from tertulia.client.outbox import TRANSIENT_SEND_ERRORS, Outbox, PendingMessage
from tertulia.client.pacing import SendPacer
from tertulia.client.precheck import message_refusal, unencodable
from tertulia.client.reconnect import (
    ConnectionStateChanged,
    ConnState,
    Reconnector,
    is_retryable,
)
from tertulia.client.trust import PromptCallback, TrustPolicy
from tertulia.proto import messages as m
from tertulia.transport.private_files import open_private, private_dir
from tertulia.transport.tcp import unreachable

__all__ = [
    "Client",
    "ClientOffline",
    "Event",
    "EventHandler",
    "EventStream",
    "MessageHandler",
    "normalize_name",
]

log = logging.getLogger("tertulia.client")

#: Everything :meth:`Client.events` yields and ``on_event`` handlers receive.
Event: TypeAlias = (
    m.Message
    | m.PresenceEvent
    | m.TypingEvent
    | m.MemberEvent
    | m.TopicEvent
    | m.RoomAdded
    | m.ReadEvent
    | m.RoomRemoved
    | m.RoleEvent
    | m.MutedEvent
    | m.UnmutedEvent
    | m.InvitationEvent
    | m.InvitationRemoved
    | m.Error
    | ConnectionStateChanged
)
MessageHandler = Callable[[m.Message], Awaitable[None] | None]
EventHandler = Callable[[Event], Awaitable[None] | None]
H = TypeVar("H", bound=Callable[..., Any])
R = TypeVar("R", bound=msgspec.Struct)

#: Errors from joining the constructor's ``rooms`` that no reconnect can fix.
_JOIN_FATAL = frozenset(
    {
        "room_not_found",
        "room_exists",
        "forbidden",
        "invalid_name",
        "invalid_argument",
        "banned",
        "too_many_rooms",
    }
)
#: Seconds to hold the outbox after a transient refusal (``rate_limited``...) without a hint.
_TRANSIENT_PAUSE = 1.0
#: Seconds between cursor-file writes (the persisted cursor lags delivery by at most this).
_CURSOR_SAVE_DELAY = 0.2
#: pages of one list (``room_list``, ``member_list``) followed at most: 100 entries each by
#: default, so a million rooms; the bound only stops a server whose cursor never ends
_MAX_PAGES = 10_000
_CLOSED = object()


class ClientOffline(ClientError):
    """The client is stopped, or gave up (``error`` says why: auth_failed, a trust failure...)."""

    def __init__(self, message: str, error: BaseException | None = None) -> None:
        super().__init__(message)
        self.error = error


def normalize_name(name: str) -> str:
    """A user or room name as the server will store it (NFC, lower case): compare names in
    this form, e.g. ``msg.room == normalize_name("General")``. It does not validate."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).lower())


class EventStream:
    """An async iterator over the client's events, from its creation until the client closes.

    Each stream has its own unbounded queue: a stream nobody reads keeps every event, so close
    it (``async with`` or :meth:`close`) when done.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        client._subscribers.add(self._queue)
        if client._closed:
            self._queue.put_nowait(_CLOSED)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)
            raise StopAsyncIteration
        ev: Event = item  # type: ignore[assignment]
        return ev

    async def get(self, timeout: float | None = None) -> Event:
        """The next event; ``TimeoutError`` after ``timeout`` s, ``ClientOffline`` if closed."""
        async with asyncio.timeout(timeout):
            try:
                return await self.__anext__()
            except StopAsyncIteration:
                raise ClientOffline("the client is closed") from None

    def close(self) -> None:
        self._client._subscribers.discard(self._queue)

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class _Link:
    """What the reconnector waits on: ends when the connection ends, after the client cleaned up."""

    def __init__(self, client: Client, conn: Connection) -> None:
        self.client = client
        self.conn = conn

    async def wait_closed(self) -> BaseException | None:
        reason = await self.conn.wait_closed()
        await self.client._disconnected(self.conn)
        return reason


class Client:
    """A chat client for one account on one server, kept connected until :meth:`close`.

    Construct, register handlers, then ``await start()`` (or call :meth:`run` from synchronous
    code). ``trust`` says how to authenticate the server (a pinned fingerprint, TOFU, a CA; by
    default the system CAs). ``rooms`` are joined on the first connection; a missing one is
    created (public) unless ``create_rooms`` is false, in which case the client gives up with
    ``room_not_found`` (a follower such as ``tertulia listen`` must not create a room from a
    typo). ``outbox_path`` makes unsent messages survive a restart of the program;
    ``cursor_path`` makes the per-room cursors survive it, so a restarted bot resumes where it
    stopped instead of at "now". ``cursors`` sets starting cursors explicitly (``{room: 0}``
    replays a room's whole history), overriding the file. ``prompt(fp, host, port) -> bool`` is
    asked about a server seen for the first time in TOFU mode. ``pace_sends`` keeps the outbox
    within the server's announced ``message_rate``/``message_burst`` (see
    :mod:`tertulia.client.pacing`), so the server never has to refuse or disconnect it.

    A Client is started once; after :meth:`close` make a new one.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        user: str = "",
        password: str = "",
        *,
        trust: TrustPolicy | None = None,
        outbox_path: str | os.PathLike[str] | None = None,
        cursor_path: str | os.PathLike[str] | None = None,
        rooms: Iterable[str] = (),
        create_rooms: bool = True,
        cursors: Mapping[str, int] | None = None,
        prompt: PromptCallback | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        healthy_after: float = 10.0,
        connect_timeout: float = 15.0,
        send_window: int = 32,
        pace_sends: bool = True,
        client_name: str = f"tertulia-py/{__version__}",
    ) -> None:
        self.host = host
        self.port = port
        self.user = normalize_name(user)
        self._password = password
        self.trust = trust if trust is not None else TrustPolicy()
        self.prompt = prompt
        self.connect_timeout = connect_timeout
        self.send_window = max(1, send_window)
        self.client_name = client_name
        self.outbox = Outbox(outbox_path)
        self.cursor_path = Path(cursor_path) if cursor_path is not None else None
        #: seq handed on per room (dedupe + sync); ``_delivered``: handed to the application
        self._cursors: dict[str, int] = {}
        self._delivered: dict[str, int] = {}
        if self.cursor_path is not None:
            self._delivered = _load_cursors(self.cursor_path)
        for room, seq in (cursors or {}).items():
            self._delivered[normalize_name(room)] = max(0, int(seq))
        self._cursors = dict(self._delivered)
        self._rooms_to_join: dict[str, None] = {normalize_name(r): None for r in rooms}
        self.create_rooms = create_rooms
        #: paces the outbox by the server's message rate (unlimited if ``pace_sends`` is false)
        self.pacer = SendPacer()
        self.pace_sends = pace_sends
        self._fail_fast = False
        self._ever_connected = False
        self._buffers: dict[str, dict[int, m.Message]] = {}
        self._syncing: set[str] = set()
        self._gap_tasks: dict[str, asyncio.Task[None]] = {}
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers: set[asyncio.Queue[object]] = set()
        self._message_handlers: list[MessageHandler] = []
        self._event_handlers: list[EventHandler] = []
        self._conn: Connection | None = None
        self._inflight: dict[str, Connection] = {}
        self._pump_task: asyncio.Task[None] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self._outbox_wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._offline = asyncio.Event()
        self._send_paused_until = 0.0
        self._cursor_save: asyncio.TimerHandle | None = None
        self._started = False
        self._closed = False
        self.hello_ok: m.HelloOk | None = None
        self.admin = False
        #: resume token from the last password login (memory only)
        self._token: str | None = None
        self._reconnector = Reconnector(
            self._connect,
            on_state=self._on_state,
            base=backoff_base,
            cap=backoff_cap,
            healthy_after=healthy_after,
            retryable=self._retryable,
        )

    def __repr__(self) -> str:
        return (
            f"<Client {self.user}@{self.host}:{self.port} {self.state.value} "
            f"rooms={len(self._cursors)} outbox={self.outbox.unfinished}>"
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def state(self) -> ConnState:
        """The connection state (CONNECTING, CONNECTED, RECONNECTING, OFFLINE)."""
        return self._reconnector.state

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def retry_in(self) -> float | None:
        """While RECONNECTING: seconds until the next attempt (else None)."""
        return self._reconnector.retry_in

    @property
    def last_error(self) -> BaseException | None:
        """What ended the last connection or attempt (None while healthy)."""
        return self._reconnector.last_error

    @property
    def limits(self) -> m.Limits | None:
        """The server's limits from ``hello_ok`` (None before the first connection)."""
        return self.hello_ok.limits if self.hello_ok is not None else None

    @property
    def cursors(self) -> dict[str, int]:
        """Per room, the last ``seq`` handed to the application (what ``cursor_path`` holds)."""
        return dict(self._delivered)

    async def start(self, *, wait: bool = True, fail_fast: bool = False) -> None:
        """Start connecting (and reconnecting, for as long as the client runs).

        With ``wait`` (the default), return once the first connection is up -- logged in,
        ``rooms`` joined, caught up -- or raise what made the client give up (``ServerError``
        ``auth_failed``, a :class:`~tertulia.client.trust.TrustError`...). Network failures are
        retried with backoff meanwhile, so wrap this in ``asyncio.timeout`` to bound the wait.

        ``fail_fast``: if the server cannot be reached at all before the first successful
        connection -- the host name does not resolve, or the connection is refused -- give up
        at once with that ``OSError`` instead of retrying (a typo in a command line should not
        take the whole connect timeout). Once connected, every network failure is retried.
        """
        if self._started:
            raise RuntimeError("a Client can be started only once")
        self._started = True
        self._fail_fast = fail_fast
        self._dispatch_task = asyncio.get_running_loop().create_task(
            self._dispatch_loop(), name="tertulia-dispatch"
        )
        self._reconnector.start()
        if wait:
            await self.wait_connected()

    async def wait_connected(self) -> None:
        """Wait until a connection is usable; raise :class:`ClientOffline` if the client stops."""
        if self._ready.is_set():
            return
        if self._offline.is_set() or self._closed:
            raise self._offline_error()
        ready = asyncio.ensure_future(self._ready.wait())
        offline = asyncio.ensure_future(self._offline.wait())
        try:
            await asyncio.wait({ready, offline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            offline.cancel()
        if not self._ready.is_set():
            err = self._reconnector.last_error
            if err is not None and not isinstance(err, ClientOffline):
                raise err
            raise self._offline_error()

    def retry_now(self) -> None:
        """Skip the current reconnect delay and try at once."""
        self._reconnector.retry_now()

    async def close(self) -> None:
        """Stop: log out, close the connection, save cursors. Unsent messages stay in the outbox
        (and in its file, if any); events not yet handed to the application are dropped and
        will be delivered again by the next client using the same ``cursor_path``."""
        if self._closed:
            return
        self._closed = True
        await self._reconnector.stop()
        conn = self._conn
        if conn is not None:
            await conn.close(logout=True)
            await self._disconnected(conn)
        for task in (self._dispatch_task, *self._gap_tasks.values()):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._offline.set()
        self._save_cursors()
        self.outbox.close()
        for q in self._subscribers:
            q.put_nowait(_CLOSED)

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def run(self) -> None:
        """Blocking helper for bots: start, run until SIGINT/SIGTERM or a fatal error, close.

        Raises what made the client give up (e.g. ``ServerError('auth_failed')``).
        """

        async def main() -> None:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            try:
                await self.start()
                stopper = asyncio.ensure_future(stop.wait())
                offline = asyncio.ensure_future(self._offline.wait())
                await asyncio.wait({stopper, offline}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                offline.cancel()
                gave_up = self._offline.is_set() and not stop.is_set()
            finally:
                await self.close()
            if gave_up:
                raise self._reconnector.last_error or self._offline_error()

        asyncio.run(main())

    async def register(self) -> None:
        """Create this client's account on the server (does not log in; no need to start()).

        Raises ``ServerError`` with ``name_taken``, ``invalid_name``, ``weak_password`` or
        ``registration_closed``.
        """
        conn = await Connection.open(
            self.host,
            self.port,
            trust=self.trust,
            prompt=self.prompt,
            timeout=self.connect_timeout,
            client_name=self.client_name,
        )
        try:
            await conn.register(self.user, self._password)
        finally:
            await conn.close()

    # ------------------------------------------------------------------ handlers and events

    def on_message(self, handler: H) -> H:
        """Decorator: call ``handler(message)`` (sync or async) for every chat message, once,
        in seq order per room. Handlers run one at a time in the dispatcher task, so a slow
        handler delays the next event (start a task for long work); exceptions are logged."""
        self._message_handlers.append(handler)
        return handler

    def on_event(self, handler: H) -> H:
        """Decorator: call ``handler(event)`` for every :data:`Event` (messages included)."""
        self._event_handlers.append(handler)
        return handler

    def events(self) -> EventStream:
        """A new stream of every event from now on (use before :meth:`start` to miss nothing)."""
        return EventStream(self)

    def messages(self, room: str | None = None) -> AsyncIterator[m.Message]:
        """Async iterator over chat messages (of ``room``, or all) from *this call* on, until
        the client closes. Like :meth:`events`, it subscribes at once, so create it before
        the messages you want to see can arrive (e.g. before :meth:`start`)."""
        wanted = normalize_name(room) if room is not None else None
        stream = self.events()

        async def only_messages() -> AsyncIterator[m.Message]:
            try:
                async for ev in stream:
                    if isinstance(ev, m.Message) and (wanted is None or ev.room == wanted):
                        yield ev
            finally:
                stream.close()

        return only_messages()

    # ------------------------------------------------------------------ sending

    async def send(
        self, room: str, text: str, kind: m.MessageKind = "text", *, msg_id: str | None = None
    ) -> PendingMessage:
        """Queue a message and return its outbox entry at once (also when offline).

        ``await entry.acked()`` gives the server's :class:`~tertulia.proto.messages.Sent`
        (``seq``, ``ts``) or raises the ``ServerError`` that refused it. The entry is resent
        after reconnects, with the same ``msg_id``, until acknowledged: stored exactly once.

        What the server would refuse anyway is refused here without sending: the entry comes
        back FAILED with a :class:`~tertulia.client.connection.RefusedLocally` error
        (``text_too_long``, ``invalid_argument`` for blank text; ``frame_too_large`` when the
        pump finds the encoded frame over the limit). Empty text, and text that is not valid
        Unicode (unpaired surrogates), raise ``ValueError``: they cannot even be queued.
        """
        if self._closed:
            raise ClientOffline("the client is closed")
        if not text:
            raise ValueError("a message needs some text")
        if (why := unencodable(text)) is not None:
            raise ValueError(f"cannot send this text: {why}")
        entry = self.outbox.add(normalize_name(room), text, kind, msg_id=msg_id)
        refusal = message_refusal(text, self.limits)
        if refusal is not None:
            self.outbox.mark_failed(entry.msg_id, refusal)  # what the server would answer
        else:
            self._outbox_wake.set()
        return entry

    def retry(self, msg_id: str) -> PendingMessage:
        """Queue a FAILED outbox entry again (after fixing its cause)."""
        entry = self.outbox.retry(msg_id)
        self._outbox_wake.set()
        return entry

    async def flush(self) -> list[PendingMessage]:
        """Wait until every message in the outbox is acknowledged or failed; return the failed.

        Raises :class:`ClientOffline` if the client stops (or gives up) first.
        """
        while True:
            waiting = [e for e in self.outbox if not e.done]
            if not waiting:
                return [e for e in self.outbox if e.error is not None]
            for entry in waiting:
                with contextlib.suppress(ServerError):
                    await self._unless_offline(entry.acked())

    # ------------------------------------------------------------------ requests

    async def join(self, room: str, *, create: bool = True) -> m.RoomInfo:
        """Join ``room``; if it does not exist and ``create``, create it (public) and join.

        Creating races with other clients doing the same: whoever loses gets ``room_exists``
        and simply joins. From now on the room's messages are delivered from its current end
        (unless a cursor for it is already known).
        """
        conn = await self._usable()
        return await self._join_on(conn, normalize_name(room), create)

    async def create_room(
        self, room: str, *, visibility: str = "public", topic: str = ""
    ) -> m.RoomInfo:
        """Create a room (``public`` or ``private``); you become its first member."""
        vis: Any = visibility
        reply = await self._request(
            m.CreateRoom(id=0, room=room, visibility=vis, topic=topic), m.RoomReply
        )
        self._follow(reply.room)
        return reply.room

    async def leave(self, room: str) -> None:
        """Leave ``room``; its messages are no longer delivered."""
        name = normalize_name(room)
        await self._request(m.Leave(id=0, room=name), m.Ok)
        for d in (self._cursors, self._delivered, self._buffers):
            d.pop(name, None)
        self._schedule_cursor_save()

    async def history(
        self,
        room: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> m.HistoryPage:
        """One page of stored messages, ascending by seq; ``page.more`` says whether there are
        more in the direction asked (``after``: later ones; otherwise earlier ones).
        History pages do not go through the delivery path (no dedupe, no cursor change)."""
        return await self._request(
            m.History(id=0, room=normalize_name(room), before=before, after=after, limit=limit),
            m.HistoryPage,
        )

    async def list_rooms(self) -> list[m.RoomInfo]:
        """Rooms you are in (``joined``) and public rooms you could join, sorted by name.

        The server answers in pages (``room_list.next``); this follows them all, so callers
        get every room. An older server sends one page without ``next``.
        """
        rooms: list[m.RoomInfo] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self._request(m.ListRooms(id=0, cursor=cursor), m.RoomList)
            rooms.extend(page.rooms)
            if page.next is None or (cursor is not None and page.next <= cursor):
                break  # the last page (or a server whose cursor does not move on)
            cursor = page.next
        return rooms

    async def members(self, room: str) -> list[m.Member]:
        """The members of ``room`` with their presence (every page of ``member_list``)."""
        name = normalize_name(room)
        members: list[m.Member] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self._request(m.Members(id=0, room=name, cursor=cursor), m.MemberList)
            members.extend(page.members)
            if page.next is None or (cursor is not None and page.next <= cursor):
                break
            cursor = page.next
        return members

    async def open_dm(self, user: str) -> m.RoomInfo:
        """The direct-message room with ``user`` (created on first use); send to ``.name``."""
        reply = await self._request(m.OpenDm(id=0, user=user), m.RoomReply)
        self._follow(reply.room)
        return reply.room

    async def set_topic(self, room: str, topic: str) -> None:
        await self._request(m.SetTopic(id=0, room=normalize_name(room), topic=topic), m.Ok)

    async def invite(self, room: str, user: str) -> None:
        """Invite ``user`` into ``room``: the invitation stays pending until they accept it."""
        await self._request(m.Invite(id=0, room=normalize_name(room), user=user), m.Ok)

    async def invitations(self) -> list[m.Invitation]:
        """Your pending invitations, oldest first (``InvitationEvent`` announces new ones)."""
        return (await self._request(m.ListInvitations(id=0), m.InvitationList)).invitations

    async def accept_invitation(self, room: str) -> m.RoomInfo:
        """Accept a pending invitation: you become a member of ``room`` (quota applies)."""
        reply = await self._request(
            m.AcceptInvitation(id=0, room=normalize_name(room)), m.RoomReply
        )
        self._follow(reply.room)
        return reply.room

    async def decline_invitation(self, room: str) -> None:
        await self._request(m.DeclineInvitation(id=0, room=normalize_name(room)), m.Ok)

    async def mark_read(self, room: str, seq: int) -> None:
        """Move your read marker (it only moves forward); your other devices are told."""
        await self._request(m.MarkRead(id=0, room=normalize_name(room), seq=seq), m.Ok)

    async def set_presence(self, status: str) -> None:
        """``online`` or ``away``."""
        st: Any = status
        await self._request(m.Presence(id=0, status=st), m.Ok)

    async def typing(self, room: str) -> None:
        """Tell the room you are typing. Best effort: dropped silently while disconnected."""
        conn = self._conn
        if conn is not None and self._ready.is_set():
            with contextlib.suppress(ClientError):
                conn.notify(m.Typing(room=normalize_name(room)))

    async def ping(self) -> None:
        """A round trip to the server (for latency checks)."""
        await self._request(m.Ping(id=0), m.PongReply)

    # ------------------------------------------------------------------ connection cycle

    def _retryable(self, exc: BaseException | None) -> bool:
        if isinstance(exc, ServerError) and exc.code in _JOIN_FATAL:
            return False
        if self._fail_fast and not self._ever_connected and unreachable(exc) is not None:
            return False  # start(fail_fast=True): no such host, or nothing listening
        return not self._closed and is_retryable(exc)

    async def _connect(self) -> _Link:
        """One full connection cycle up to "usable": the reconnector calls this."""
        conn = await Connection.open(
            self.host,
            self.port,
            trust=self.trust,
            on_event=self._on_event,
            prompt=self.prompt,
            timeout=self.connect_timeout,
            client_name=self.client_name,
        )
        try:
            async with asyncio.timeout(self.connect_timeout):
                login = await self._login(conn)
            self.user = login.user
            self.admin = login.admin
            self.hello_ok = conn.hello_ok
            if self.pace_sends and conn.hello_ok is not None:
                lim = conn.hello_ok.limits
                self.pacer.configure(lim.message_rate, lim.message_burst)
            # every followed room is being caught up: its gaps are sync's to fill, not history's
            self._syncing = set(self._cursors)
            for room in list(self._rooms_to_join):
                await self._join_on(conn, room, create=self.create_rooms)
                self._rooms_to_join.pop(room, None)
            cursors = dict(self._cursors)
            self._syncing = set(cursors)
            self._conn = conn
            self._ready.set()
            if cursors:
                synced = await conn.request(m.Sync(id=0, cursors=cursors), m.Synced)
                self._synced(cursors, synced)
            else:
                self._syncing.clear()
            self.outbox.requeue_sending()
            self._pump_task = asyncio.get_running_loop().create_task(
                self._pump(conn), name="tertulia-outbox"
            )
            self._ever_connected = True
        except BaseException:
            self._syncing.clear()
            await conn.close()
            await self._disconnected(conn)
            raise
        return _Link(self, conn)

    async def _login(self, conn: Connection) -> m.LoginOk:
        """Resume with the token of the last login if there is one, else use the password.

        Resuming spares the server an argon2id hash per reconnect (a whole crowd reconnects
        after a server restart); a token the server no longer accepts falls back to the
        password. The token lives in memory only and is revoked by :meth:`close` (logout).
        """
        if self._token is not None:
            try:
                return await conn.resume(self._token)
            except ServerError as exc:
                if exc.code != "auth_failed":
                    raise
                self._token = None
        login = await conn.login(self.user, self._password)
        if login.token is not None:
            self._token = login.token
        return login

    async def _disconnected(self, conn: Connection) -> None:
        """Clean up after ``conn`` ended: nothing may be left thinking it is still usable."""
        if self._conn is conn:
            self._conn = None
            self._ready.clear()
        self._syncing.clear()
        pump, self._pump_task = self._pump_task, None
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        for msg_id, c in list(self._inflight.items()):
            if c is conn:
                del self._inflight[msg_id]
                self.outbox.requeue(msg_id)
        await conn.close()

    def _on_state(self, ev: ConnectionStateChanged) -> None:
        if ev.state is ConnState.OFFLINE:
            self._offline.set()
        self._queue.put_nowait(ev)

    def _offline_error(self) -> ClientOffline:
        err = self._reconnector.last_error
        if self._closed:
            return ClientOffline("the client is closed", err)
        return ClientOffline(f"the client gave up: {err}", err)

    async def _unless_offline(self, aw: Awaitable[Any]) -> Any:
        """Await ``aw``, but raise :class:`ClientOffline` if the client stops first."""
        task = asyncio.ensure_future(aw)
        offline = asyncio.ensure_future(self._offline.wait())
        try:
            await asyncio.wait({task, offline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            offline.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise self._offline_error()
        return task.result()

    async def _usable(self) -> Connection:
        """The current connection, waiting for one if the client is (re)connecting."""
        while True:
            if self._closed:
                raise self._offline_error()
            conn = self._conn
            if conn is not None and self._ready.is_set() and not conn.closed:
                return conn
            if not self._started:
                raise ClientOffline("the client is not started")
            await self._unless_offline(self._ready.wait())

    async def _request(self, msg: Any, expect: type[R]) -> R:
        conn = await self._usable()
        return await conn.request(msg, expect)

    async def _join_on(self, conn: Connection, room: str, create: bool) -> m.RoomInfo:
        try:
            reply = await conn.request(m.Join(id=0, room=room), m.RoomReply)
        except ServerError as exc:
            if exc.code != "room_not_found" or not create:
                raise
            try:
                reply = await conn.request(m.CreateRoom(id=0, room=room), m.RoomReply)
            except ServerError as exc2:
                if exc2.code != "room_exists" or exc2.params.get("reason") in (
                    "confusable",
                    "closed",
                    "unavailable",
                ):
                    raise  # a look-alike, closed or hidden: nothing to join
                # someone created it between our join and our create: join theirs
                try:
                    reply = await conn.request(m.Join(id=0, room=room), m.RoomReply)
                except ServerError as exc3:
                    if exc3.code == "room_not_found":
                        raise exc2 from None  # it exists but we cannot join it: say so
                    raise
        self._follow(reply.room)
        return reply.room

    def _follow(self, info: m.RoomInfo) -> None:
        """Start delivering ``info``'s messages from its current end, unless already followed."""
        if info.name not in self._cursors:
            self._cursors[info.name] = info.last_seq
            self._delivered.setdefault(info.name, info.last_seq)
            self._schedule_cursor_save()

    # ------------------------------------------------------------------ incoming

    def _on_event(self, ev: m.ServerMessage) -> None:
        """Called by the connection's reader for every event, in stream order."""
        if isinstance(ev, m.Message):
            self._on_message(ev)
        elif isinstance(ev, m.RoomAdded):
            self._follow(ev.room)
            self._queue.put_nowait(ev)
        elif isinstance(ev, m.RoomRemoved):
            # kicked, banned or closed: stop following it (sync would no longer include it)
            for d in (self._cursors, self._delivered, self._buffers):
                d.pop(ev.room, None)
            self._schedule_cursor_save()
            self._queue.put_nowait(ev)
        elif isinstance(
            ev,
            m.PresenceEvent
            | m.TypingEvent
            | m.MemberEvent
            | m.TopicEvent
            | m.ReadEvent
            | m.RoleEvent
            | m.MutedEvent
            | m.UnmutedEvent
            | m.InvitationEvent
            | m.InvitationRemoved
            | m.Error,
        ):
            if isinstance(ev, m.Error):
                log.warning("server error without a request: %s %s", ev.code, ev.message)
            self._queue.put_nowait(ev)
        else:
            log.debug("ignoring unexpected %r", ev)

    def _on_message(self, msg: m.Message) -> None:
        room = msg.room
        cursor = self._cursors.get(room)
        if cursor is None:
            # a room we did not know we were in (joined from another device...): follow it
            cursor = self._cursors[room] = msg.seq - 1
            self._delivered.setdefault(room, cursor)
        if msg.seq <= cursor:
            return  # already delivered: a replay overlapping live traffic, or a resend
        buf = self._buffers.setdefault(room, {})
        buf.setdefault(msg.seq, msg)
        self._drain(room)
        if buf and room not in self._syncing:
            self._fill_gap(room)

    def _drain(self, room: str) -> None:
        buf = self._buffers.get(room)
        if not buf:
            return
        cursor = self._cursors[room]
        while (msg := buf.pop(cursor + 1, None)) is not None:
            cursor += 1
            self._queue.put_nowait(msg)
        self._cursors[room] = cursor
        if not buf:
            del self._buffers[room]

    def _fill_gap(self, room: str) -> None:
        task = self._gap_tasks.get(room)
        if task is None or task.done():
            self._gap_tasks[room] = asyncio.get_running_loop().create_task(
                self._gap_filler(room), name=f"tertulia-gap-{room}"
            )

    async def _gap_filler(self, room: str) -> None:
        """Fetch the messages missing between the cursor and the buffered ones, then deliver."""
        try:
            while self._buffers.get(room) and room not in self._syncing:
                conn = self._conn
                if conn is None or conn.closed:
                    return  # the next sync fills it
                limit = self.limits.max_history_page if self.limits else 200
                cursor = self._cursors[room]
                page = await conn.request(
                    m.History(id=0, room=room, after=cursor, limit=limit), m.HistoryPage
                )
                for msg in page.messages:
                    if msg.seq > self._cursors[room]:
                        self._buffers.setdefault(room, {}).setdefault(msg.seq, msg)
                self._drain(room)
                buf = self._buffers.get(room)
                if buf and self._cursors[room] == cursor and not page.messages:
                    # the server has nothing between: never expected (seq is gap-free), but do
                    # not stall the room forever -- skip to what we have
                    first = min(buf)
                    log.warning("%s: seq %d..%d missing on the server", room, cursor + 1, first)
                    self._cursors[room] = first - 1
                    self._drain(room)
        except ClientError as exc:
            log.info("%s: gap fill interrupted (%s); the next sync will fill it", room, exc)
        finally:
            if self._gap_tasks.get(room) is asyncio.current_task():
                del self._gap_tasks[room]

    def _synced(self, sent: dict[str, int], synced: m.Synced) -> None:
        self._syncing.clear()
        for room in sent:
            if room not in synced.cursors:
                # not a member any more (left from another device, or the file is stale)
                log.info("no longer a member of %s: not following it", room)
                for d in (self._cursors, self._delivered, self._buffers):
                    d.pop(room, None)
                continue
            if self._buffers.get(room) or synced.cursors[room] > self._cursors.get(room, 0):
                self._fill_gap(room)
        self._schedule_cursor_save()

    async def _dispatch_loop(self) -> None:
        """Hand queued events to the handlers and streams, one at a time, in order."""
        while True:
            ev = await self._queue.get()
            if isinstance(ev, m.Message):
                for handler in self._message_handlers:
                    await _call(handler, ev)
            for ev_handler in self._event_handlers:
                await _call(ev_handler, ev)
            for q in self._subscribers:
                q.put_nowait(ev)
            if isinstance(ev, m.Message) and ev.seq > self._delivered.get(ev.room, -1):
                self._delivered[ev.room] = ev.seq
                self._schedule_cursor_save()

    # ------------------------------------------------------------------ outgoing

    async def _pump(self, conn: Connection) -> None:
        """Send outbox entries in order over ``conn``, at most ``send_window`` unacked, paced
        by :attr:`pacer`; refuse locally what the server's limits would refuse."""
        window = asyncio.Semaphore(self.send_window)
        loop = asyncio.get_running_loop()
        limits = conn.hello_ok.limits if conn.hello_ok is not None else None
        while not conn.closed:
            pause = max(self._send_paused_until - loop.time(), self.pacer.delay())
            if pause > 0:
                await _first(asyncio.sleep(pause), conn.wait_closed())
                continue
            await window.acquire()
            entry = self.outbox.next_pending()
            if entry is None:
                window.release()
                self._outbox_wake.clear()
                if self.outbox.has_pending():
                    continue
                await _first(self._outbox_wake.wait(), conn.wait_closed())
                continue
            refusal = message_refusal(entry.text, limits)
            try:
                if refusal is not None:
                    raise refusal
                fut = conn.send_request(
                    m.Send(
                        id=0, room=entry.room, msg_id=entry.msg_id, text=entry.text, kind=entry.kind
                    )
                )
            except RefusedLocally as exc:
                window.release()
                log.info("message %s refused before sending: %s", entry.msg_id, exc)
                self.outbox.mark_failed(entry.msg_id, exc)
                continue
            except ClientError:
                window.release()
                self.outbox.requeue(entry.msg_id)
                return
            self.pacer.take()
            self._inflight[entry.msg_id] = conn
            fut.add_done_callback(partial(self._acked, conn, entry.msg_id, window))
            with contextlib.suppress(ConnectionError, OSError):
                await conn.drain()

    def _acked(
        self,
        conn: Connection,
        msg_id: str,
        window: asyncio.Semaphore,
        fut: asyncio.Future[m.ServerMessage],
    ) -> None:
        window.release()
        if self._inflight.get(msg_id) is not conn:
            return  # already requeued after that connection ended
        del self._inflight[msg_id]
        reply = None if fut.cancelled() or fut.exception() else fut.result()
        if isinstance(reply, m.Sent):
            self.outbox.mark_sent(msg_id, reply)
        elif isinstance(reply, m.Error):
            err = ServerError.from_frame(reply)
            if err.code in TRANSIENT_SEND_ERRORS:
                delay = _retry_after(err)
                if err.code == "rate_limited" and self.pacer.limited:
                    self.pacer.refused(delay)  # resume after the pause at the sustained rate
                else:
                    self._send_paused_until = asyncio.get_running_loop().time() + delay
                self.outbox.requeue(msg_id)
                self._outbox_wake.set()
            else:  # PERMANENT_SEND_ERRORS, and codes unknown to this version: do not loop
                log.info("message %s refused: %s", msg_id, err)
                self.outbox.mark_failed(msg_id, err)
        else:
            self.outbox.requeue(msg_id)  # connection lost before the ack: resend later
            self._outbox_wake.set()

    # ------------------------------------------------------------------ cursor file

    def _schedule_cursor_save(self) -> None:
        if self.cursor_path is None or self._cursor_save is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._cursor_save = loop.call_later(_CURSOR_SAVE_DELAY, self._save_cursors)

    def _save_cursors(self) -> None:
        if self._cursor_save is not None:
            self._cursor_save.cancel()
            self._cursor_save = None
        if self.cursor_path is None:
            return
        try:
            _write_atomically(
                self.cursor_path,
                json.dumps({"version": 1, "cursors": self._delivered}, sort_keys=True) + "\n",
            )
        except OSError as exc:
            log.warning("cannot save cursors to %s: %s", self.cursor_path, exc)


def _retry_after(err: ServerError) -> float:
    """The pause a transient refusal asks for (``params.retry_after``), else a default."""
    try:
        return max(0.0, float(err.params.get("retry_after", _TRANSIENT_PAUSE)))
    except (TypeError, ValueError):
        return _TRANSIENT_PAUSE


async def _call(handler: Callable[[Any], Awaitable[None] | None], ev: Any) -> None:
    try:
        result = handler(ev)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("event handler %r failed on %r", handler, ev)


async def _first(*aws: Awaitable[Any]) -> None:
    """Wait until the first of ``aws`` completes; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def _load_cursors(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable cursor file %s: %s", path, exc)
        return {}
    raw = data.get("cursors", {}) if isinstance(data, dict) else {}
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int) and v >= 0}


def _write_atomically(path: Path, text: str) -> None:
    """Temp file in the same directory, fsync, rename: readers see the old or the new file."""
    private_dir(path.parent, tighten=False)
    tmp = path.with_name(f".{path.name}.tmp")
    with open_private(tmp) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
