"""The hub: the single owner of in-memory server state shared between connections.

It knows which users are online (with their sessions) and caches each touched room (members,
topic, sequence counters). Every change to that state happens here, on the event loop thread,
so no locks are needed. Durable state lives in :class:`~tertulia.server.storage.base.Storage`;
the hub mirrors what it needs for routing and updates the mirror after each successful write.

Fan-out order: the storage layer may hand back committed messages of one room in any order
(group commits resolve their waiters in a batch), so each room keeps a small reorder buffer
and delivers strictly in ``seq`` order. Each event is encoded once and the same bytes are
written to every recipient.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tertulia.proto import encode
from tertulia.proto import messages as m
from tertulia.proto.errors import ErrorCode
from tertulia.server.bus.base import (
    Bus,
    BusEvent,
    InvitationChanged,
    MemberChanged,
    MemberRemoved,
    MessageCommitted,
    MuteChanged,
    PresenceChanged,
    ReadMoved,
    RoleChanged,
    RoomClosed,
    TopicChanged,
    TypingNotice,
    UserRevoked,
)
from tertulia.server.bus.local import LocalBus
from tertulia.server.errors import CommandError
from tertulia.server.metrics import Histogram
from tertulia.server.moderation_events import apply_moderation
from tertulia.server.names import dm_peer
from tertulia.server.presence_gate import PresenceGate
from tertulia.server.storage.base import (
    NewMessage,
    Role,
    Storage,
    StorageError,
    StorageFullError,
    StoredMessage,
)
from tertulia.server.storage_full import StorageFull

if TYPE_CHECKING:
    from tertulia.server.session import Session

__all__ = ["Hub", "RoomState", "UserState"]

log = logging.getLogger("tertulia.server.hub")


@dataclass(slots=True, eq=False)
class RoomState:
    name: str
    visibility: Literal["public", "private", "dm"]
    topic: str
    members: set[str]
    #: highest seq handed to fan-out; everything at or below it is committed and delivered
    delivered_seq: int
    #: roles above ``member`` (owner, moderators) and active mutes (Unix ms, None: until lifted)
    roles: dict[str, Role] = field(default_factory=dict)
    mutes: dict[str, int | None] = field(default_factory=dict)
    #: connected sessions of the members: the fan-out list, kept in step with ``members`` and
    #: with logins/logouts by the hub (so fan-out touches no offline member and no dict)
    sessions: set[Session] = field(default_factory=set)
    _pending: dict[int, MessageCommitted] = field(default_factory=dict)
    _backfill: asyncio.TimerHandle | None = None

    def info(self, user: str, read_seq: int) -> m.RoomInfo:
        read = min(read_seq, self.delivered_seq)
        return m.RoomInfo(
            name=self.name,
            visibility=self.visibility,
            topic=self.topic,
            last_seq=self.delivered_seq,
            read_seq=read,
            unread=self.delivered_seq - read,
            member_count=len(self.members),
            joined=user in self.members,
            peer=dm_peer(self.name, user),
            role=self.role_of(user),
        )

    def role_of(self, user: str) -> Role:
        return self.roles.get(user, "member")

    def muted_until(self, user: str, now_ms: int) -> int | Literal[False] | None:
        """False if ``user`` may speak; else when the mute ends (None: until lifted)."""
        if user not in self.mutes:
            return False
        until = self.mutes[user]
        if until is not None and until <= now_ms:
            del self.mutes[user]
            return False
        return until


@dataclass(slots=True, eq=False)
class UserState:
    """A user known to be present: connected, or held for the grace period after a drop."""

    name: str
    sessions: set[Session] = field(default_factory=set)
    rooms: set[str] = field(default_factory=set)
    status: Literal["online", "away"] = "online"
    #: loop time when the last connection dropped (None while connected)
    held_since: float | None = None
    expiry: asyncio.TimerHandle | None = None


class Hub:
    #: how long a seq gap may stand before the hub fetches the missing messages from storage
    GAP_WAIT = 0.25

    def __init__(
        self,
        storage: Storage,
        *,
        session_grace: float = 30.0,
        bus: Bus | None = None,
        presence_fanout_rate: float = 2.0,
    ) -> None:
        self.storage = storage
        self.bus = bus or LocalBus()
        self.session_grace = session_grace
        self.rooms: dict[str, RoomState] = {}
        self.users: dict[str, UserState] = {}
        #: per user whose credentials changed since start, the oldest credential generation
        #: still valid (from ``UserRevoked`` events, ours and peers'); at most one int per
        #: account, so bounded by the number of accounts
        self.cred_floor: dict[str, int] = {}
        self._loading: dict[str, asyncio.Future[RoomState | None]] = {}
        #: commits in flight (futures) and backfill tasks: what drain() waits for
        self._appends: set[asyncio.Future[Any]] = set()
        self.stats_messages = 0
        self.stats_deliveries = 0
        #: seconds from handing a message to storage to its commit (``/metrics``)
        self.append_latency = Histogram()
        #: writes refused for a full disk: counts, the bounded log line, the error to answer
        self.storage_full = StorageFull()
        self.bus.presence.bind(self._local_presence, self._remote_presence_changed)
        #: at most ``presence_fanout_rate`` presence frames per user per receiver per second
        self.presence_gate = PresenceGate(
            1.0 / presence_fanout_rate, self._broadcast_presence_now, self.presence_of
        )

    # ------------------------------------------------------------------ rooms
    async def room(self, name: str) -> RoomState | None:
        """The cached state of ``name``, loading it from storage on first use."""
        state = self.rooms.get(name)
        if state is not None:
            return state
        pending = self._loading.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[RoomState | None] = asyncio.get_running_loop().create_future()
        self._loading[name] = fut
        try:
            rec = await self.storage.get_room(name)
            if rec is None or rec.closed:
                result = None
            else:
                members = await self.storage.members(name)
                policy = await self.storage.room_policy(name)
                result = self.rooms.setdefault(
                    name,
                    RoomState(
                        rec.name,
                        rec.visibility,
                        rec.topic,
                        set(members),
                        rec.last_seq,
                        roles=policy.roles,
                        mutes=policy.mutes,
                    ),
                )
                for member in result.members:  # members already online get their route
                    online = self.users.get(member)
                    if online is not None:
                        result.sessions.update(online.sessions)
                        online.rooms.add(name)
            fut.set_result(result)
            return result
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._loading[name]

    async def member_room(self, user: str, name: str) -> RoomState:
        """The room if ``user`` is a member; otherwise the error a non-member deserves.

        A private room is reported as not found to outsiders, so its existence stays hidden.
        """
        room = await self.room(name)
        if room is None or (room.visibility != "public" and user not in room.members):
            raise CommandError(ErrorCode.ROOM_NOT_FOUND, f"no room {name!r}", room=name)
        if user not in room.members:
            raise CommandError(ErrorCode.NOT_MEMBER, f"not a member of {name!r}", room=name)
        return room

    def joined(self, room: RoomState, user: str) -> None:
        room.members.add(user)
        state = self.users.get(user)
        if state is not None:
            state.rooms.add(room.name)
            room.sessions.update(state.sessions)

    def left(self, room: RoomState, user: str) -> None:
        room.members.discard(user)
        room.roles.pop(user, None)  # coming back means coming back as a plain member
        state = self.users.get(user)
        if state is not None:
            state.rooms.discard(room.name)
            room.sessions.difference_update(state.sessions)

    # ------------------------------------------------------------------ users and sessions
    def credentials_current(self, user: str, cred_gen: int) -> bool:
        """May a login or resume made under generation ``cred_gen`` attach now?

        The caller attaches in the same synchronous step (no ``await`` in between), which is
        what makes logins linearizable with :meth:`revoke_below` (docs/security.md).
        """
        return cred_gen >= self.cred_floor.get(user, 0)

    def revoke_below(self, user: str, cred_gen: int) -> None:
        """From now on refuse logins of ``user`` made under a generation older than
        ``cred_gen`` (the caller closes the sessions already attached)."""
        if cred_gen > self.cred_floor.get(user, 0):
            self.cred_floor[user] = cred_gen

    def attach(self, session: Session, user: str, rooms: Iterable[str]) -> bool:
        """Register a logged-in session; return True if the user just came online.

        A user still held after a recent drop is not "new": others saw no change, so no
        presence event is due.
        """
        state = self.users.get(user)
        first = state is None
        if state is None:
            state = self.users[user] = UserState(user)
        if state.expiry is not None:
            state.expiry.cancel()
            state.expiry = None
        state.held_since = None
        state.sessions.add(session)
        state.rooms.update(rooms)
        for rname in state.rooms:
            room = self.rooms.get(rname)
            if room is not None and user in room.members:
                room.sessions.add(session)
        return first

    def detach(self, session: Session) -> None:
        """Forget a closed session at once; hold the user's presence for the grace period.

        The connection's own resources are already gone; what is held is only the small
        ``UserState`` (presence, room routes), released by :meth:`_expire` on schedule.
        """
        user = session.user
        if user is None:
            return
        state = self.users.get(user)
        if state is None or session not in state.sessions:
            return
        state.sessions.discard(session)
        for rname in state.rooms:  # a session is routed only in its user's rooms
            room = self.rooms.get(rname)
            if room is not None:
                room.sessions.discard(session)
        if state.sessions:
            return
        loop = asyncio.get_running_loop()
        state.held_since = loop.time()
        if self.session_grace <= 0:
            self._expire(state)
        else:
            state.expiry = loop.call_later(self.session_grace, self._expire, state)

    def _expire(self, state: UserState) -> None:
        """End of the grace period: the user goes offline and their state is released."""
        state.expiry = None
        if state.sessions or self.users.get(state.name) is not state:
            return
        del self.users[state.name]
        self.publish(PresenceChanged(origin=self.bus.node_id, user=state.name, status="offline"))

    def release_all(self) -> None:
        """Cancel every grace timer (server shutdown)."""
        self.presence_gate.cancel_all()
        for state in self.users.values():
            if state.expiry is not None:
                state.expiry.cancel()
                state.expiry = None

    def presence_of(self, user: str) -> Literal["online", "away", "offline"]:
        """Presence as others see it: a user held after a drop still counts as present, and so
        does a user connected to another node of the cluster."""
        state = self.users.get(user)
        if state is not None:
            return state.status
        return self.bus.presence.others(user) or "offline"

    def _local_presence(self) -> dict[str, Literal["online", "away"]]:
        """This node's users (connected or held), for the cluster presence directory."""
        return {name: state.status for name, state in self.users.items()}

    def _presence_event(self, ev: PresenceChanged) -> None:
        """Presence changed here or on a peer: tell local members if what they see changed."""
        directory = self.bus.presence
        user = ev.user
        if ev.origin == self.bus.node_id:
            state = self.users.get(user)
            directory.set_local(user, None if state is None else state.status)
            if ev.status == "offline" and directory.others(user) is not None:
                return  # still connected to another node: nobody sees a change
            self.broadcast_presence_of(user, self.presence_of(user))
            return
        before = self.presence_of(user)
        directory.peer(user, ev.origin, ev.status)
        after = self.presence_of(user)
        if after != before:
            self.broadcast_presence_of(user, after)

    def _remote_presence_changed(
        self,
        user: str,
        before: Literal["online", "away"] | None,
        after: Literal["online", "away"] | None,
    ) -> None:
        """The directory found a change no event told us (a node died, an event was lost)."""
        if user not in self.users and (before or "offline") != (after or "offline"):
            self.broadcast_presence_of(user, after or "offline")

    def broadcast_presence_of(
        self, user: str, status: Literal["online", "away", "offline"]
    ) -> None:
        """:meth:`broadcast_presence` for a user who may not be (or no longer be) local,
        through the presence gate (coalesced: the last state wins)."""
        self.presence_gate.changed(user, status)

    def _broadcast_presence_now(
        self, user: str, status: Literal["online", "away", "offline"]
    ) -> None:
        state = self.users.get(user)
        if state is None:
            rooms = {name for name, room in self.rooms.items() if user in room.members}
            state = UserState(user, rooms=rooms)
        self.broadcast_presence(state, status)

    def broadcast_presence(
        self, state: UserState, status: Literal["online", "away", "offline"]
    ) -> None:
        """Tell every connection of every user sharing a room with ``state`` (and its own)."""
        frame = encode(m.PresenceEvent(user=state.name, status=status))
        seen: set[str] = set()
        for rname in state.rooms:
            room = self.rooms.get(rname)
            if room is None:
                continue
            for member in room.members:
                if member not in seen:
                    seen.add(member)
                    self.send_to_user(member, frame)
        if state.name not in seen:
            self.send_to_user(state.name, frame)

    def status(self) -> dict[str, object]:
        """A snapshot for operators: connected and held sessions, ages, queue sizes."""
        now = asyncio.get_running_loop().time()
        users = []
        for state in sorted(self.users.values(), key=lambda s: s.name):
            users.append(
                {
                    "user": state.name,
                    "status": "held" if state.held_since is not None else state.status,
                    "held_for": None
                    if state.held_since is None
                    else round(now - state.held_since, 1),
                    "expires_in": None
                    if state.held_since is None
                    else round(max(0.0, state.held_since + self.session_grace - now), 1),
                    "rooms": len(state.rooms),
                    "connections": [s.describe() for s in state.sessions],
                }
            )
        return {
            "users": users,
            "rooms_cached": len(self.rooms),
            "messages": self.stats_messages,
            "deliveries": self.stats_deliveries,
        }

    def send_to_user(self, user: str, frame: bytes, *, exclude: Session | None = None) -> None:
        state = self.users.get(user)
        if state is None:
            return
        for session in tuple(state.sessions):
            if session is not exclude:
                session.write(frame)

    def fanout(
        self,
        room: RoomState,
        frame: bytes,
        *,
        exclude_user: str | None = None,
        replaying_aware: bool = False,
    ) -> None:
        """Write ``frame`` to every connection of every member of ``room``.

        With ``replaying_aware`` set, sessions currently replaying this room (``sync``) are
        skipped: their replay reads the message from storage instead, so it arrives once.
        """
        name = room.name
        sent = 0
        for session in tuple(room.sessions):
            if session.user == exclude_user or (replaying_aware and name in session.syncing):
                continue
            session.write(frame)
            sent += 1
        self.stats_deliveries += sent

    # ------------------------------------------------------------------ messages
    def submit(
        self, session: Session, request_id: str | int, new: NewMessage
    ) -> asyncio.Future[StoredMessage]:
        """Store ``new`` and, once committed, ack it to ``session`` and fan it out.

        The message is queued for storage right now (so one connection's sends commit in the
        order they came), and the ack and fan-out run as a callback of the commit -- no task
        per message. Nothing cancels that callback with the session: once a message is handed
        to storage its fan-out must happen, or the room's ordered delivery would wait for that
        ``seq`` forever.
        """
        loop = asyncio.get_running_loop()
        fut = self.storage.append_future(new)
        self._appends.add(fut)
        fut.add_done_callback(
            functools.partial(self._appended, session, request_id, new, loop.time())
        )
        return fut

    @property
    def pending_appends(self) -> int:
        """Messages handed to storage and not yet acked and fanned out (plus backfills)."""
        return len(self._appends)

    def _appended(
        self,
        session: Session,
        request_id: str | int,
        new: NewMessage,
        started: float,
        fut: asyncio.Future[StoredMessage],
    ) -> None:
        self._appends.discard(fut)
        if fut.cancelled():
            session.write_error(request_id, ErrorCode.INTERNAL, "message could not be stored")
            return
        exc = fut.exception()
        if isinstance(exc, StorageFullError):
            err = self.storage_full.refuse("send", exc)
            session.write_error(request_id, err.code, err.message, **err.params)
            return
        if exc is not None:
            if not isinstance(exc, StorageError):
                log.error("append failed unexpectedly", exc_info=exc)
            else:
                log.warning("append failed for %s in %s: %s", new.sender, new.room, exc)
            session.write_error(request_id, ErrorCode.INTERNAL, "message could not be stored")
            return
        stored = fut.result()
        if self.storage_full.active:
            self.storage_full.write_succeeded()
        self.append_latency.observe(asyncio.get_running_loop().time() - started)
        if stored.duplicate and stored.room != new.room:
            session.write_error(
                request_id,
                ErrorCode.MSG_ID_CONFLICT,
                "msg_id was already used for a message in another room",
                room=stored.room,
            )
            return
        session.write(
            encode(
                m.Sent(
                    id=request_id,
                    room=stored.room,
                    msg_id=stored.msg_id,
                    seq=stored.seq,
                    ts=stored.ts,
                    duplicate=stored.duplicate,
                )
            )
        )
        if not stored.duplicate:
            self.stats_messages += 1
        # A duplicate is announced again: the node that stored the original may have died
        # between its commit and its publish, and this resend is then the only news of it.
        # Whoever delivered it already drops it by seq.
        self.publish(_committed_event(stored, self.bus.node_id))

    def _committed(self, ev: MessageCommitted) -> None:
        """Deliver committed messages of a room strictly in ``seq`` order.

        Out-of-order arrivals wait in the room's buffer; a gap that persists (an event lost
        between nodes) is filled from storage after :attr:`GAP_WAIT`.
        """
        room = self.rooms.get(ev.room)
        if room is None or ev.seq <= room.delivered_seq:
            return
        pending = room._pending
        pending[ev.seq] = ev
        while (nxt := pending.pop(room.delivered_seq + 1, None)) is not None:
            room.delivered_seq = nxt.seq
            frame = encode(
                m.Message(
                    room=nxt.room,
                    seq=nxt.seq,
                    msg_id=nxt.msg_id,
                    sender=nxt.sender,
                    ts=nxt.ts,
                    text=nxt.text,
                    kind=nxt.kind,  # type: ignore[arg-type]
                )
            )
            self.fanout(room, frame, replaying_aware=True)
        if pending and room._backfill is None:
            loop = asyncio.get_running_loop()
            room._backfill = loop.call_later(self.GAP_WAIT, self._start_backfill, room)

    def _start_backfill(self, room: RoomState) -> None:
        room._backfill = None
        if room._pending:
            task = asyncio.get_running_loop().create_task(self.backfill(room))
            self._appends.add(task)
            task.add_done_callback(self._appends.discard)

    async def backfill(self, room: RoomState) -> None:
        """Fetch from storage every message after ``room.delivered_seq`` and deliver it."""
        while True:
            try:
                rows = await self.storage.history(room.name, after=room.delivered_seq, limit=500)
            except StorageError as exc:
                log.warning("backfill of %s failed: %s", room.name, exc)
                return
            for r in rows:
                self._committed(_committed_event(r, self.bus.node_id))
            if len(rows) < 500:
                return

    def resync(self) -> None:
        """The bus lost events it cannot name: reload every cached room's members and topic
        from storage, and backfill its messages; and check the credentials of every connected
        user, in case a ``UserRevoked`` was among the lost events."""
        loop = asyncio.get_running_loop()
        for room in tuple(self.rooms.values()):
            task = loop.create_task(self._resync_room(room))
            self._appends.add(task)
            task.add_done_callback(self._appends.discard)
        task = loop.create_task(self._recheck_credentials())
        self._appends.add(task)
        task.add_done_callback(self._appends.discard)

    async def _recheck_credentials(self) -> None:
        """Apply, from storage, the revocations a lost bus event would have applied: a user
        disabled, or whose generation is newer than a connection's, loses those connections."""
        for name in [u for u, state in self.users.items() if state.sessions]:
            try:
                record = await self.storage.get_user(name)
            except StorageError as exc:
                log.warning("credential check of %s failed: %s", name, exc)
                continue
            if record is None:
                continue
            floor = record.cred_gen  # a disable bumped it too
            if any(s.cred_gen < floor for s in self.users.get(name, UserState(name)).sessions):
                code = ErrorCode.ACCOUNT_DISABLED if record.disabled else ErrorCode.SESSION_REVOKED
                message = (
                    "this account has been disabled"
                    if record.disabled
                    else "the password was changed: log in again"
                )
                self.apply(UserRevoked(user=name, code=code.value, message=message, gen=floor))

    async def _resync_room(self, room: RoomState) -> None:
        before = set(room.members)
        try:
            rec = await self.storage.get_room(room.name)
            fresh = set(await self.storage.members(room.name))
        except StorageError as exc:
            log.warning("resync of %s failed: %s", room.name, exc)
        else:
            if rec is not None:
                room.topic = rec.topic
            # changes applied here while the read was in flight are newer than the read
            now = set(room.members)
            target = (fresh | (now - before)) - (before - now)
            for user in now - target:
                self.left(room, user)
            for user in target - now:
                self.joined(room, user)
        await self.backfill(room)

    # ------------------------------------------------------------------ events
    def publish(self, ev: BusEvent, *, exclude: Session | None = None) -> None:
        """Apply ``ev`` to this node's sessions now, and send it to the other nodes."""
        self.apply(ev, exclude=exclude)
        self.bus.publish(ev)

    def revoke(self, user: str, gen: int, code: ErrorCode, message: str) -> None:
        """Close every session of ``user`` logged in under a credential generation older than
        ``gen``, here and on every node (after a password change or a disable committed)."""
        self.publish(
            UserRevoked(
                origin=self.bus.node_id, user=user, code=code.value, message=message, gen=gen
            )
        )

    def on_peer_event(self, ev: BusEvent) -> None:
        """An event from another node (the bus never echoes our own, but be safe)."""
        if ev.origin != self.bus.node_id:
            self.apply(ev)

    def apply(self, ev: BusEvent, *, exclude: Session | None = None) -> None:
        """Mirror ``ev`` in the cached state and write it to the local sessions concerned."""
        if isinstance(ev, MessageCommitted):
            self._committed(ev)
        elif isinstance(ev, MemberChanged):
            self._member_changed(ev)
        elif isinstance(ev, TopicChanged):
            room = self.rooms.get(ev.room)
            if room is not None:
                room.topic = ev.topic
                self.fanout(room, encode(m.TopicEvent(room=ev.room, topic=ev.topic, by=ev.by)))
        elif isinstance(ev, TypingNotice):
            room = self.rooms.get(ev.room)
            if room is not None:
                frame = encode(m.TypingEvent(room=ev.room, user=ev.user))
                self.fanout(room, frame, exclude_user=ev.user)
        elif isinstance(ev, ReadMoved):
            frame = encode(m.ReadEvent(room=ev.room, seq=ev.seq))
            self.send_to_user(ev.user, frame, exclude=exclude)
        elif isinstance(ev, PresenceChanged):
            self._presence_event(ev)
        elif isinstance(ev, MemberRemoved | RoleChanged | MuteChanged | RoomClosed | UserRevoked):
            apply_moderation(self, ev)
        elif isinstance(ev, InvitationChanged):
            self.send_to_user(ev.user, encode(_invitation_frame(ev)), exclude=exclude)

    def _member_changed(self, ev: MemberChanged) -> None:
        room = self.rooms.get(ev.room)
        if ev.action in ("invited", "created") and ev.user in self.users:
            # the new member is connected here: make sure the room is loaded, then tell them
            task = asyncio.get_running_loop().create_task(self._room_added(ev))
            self._appends.add(task)
            task.add_done_callback(self._appends.discard)
        if room is None:
            return
        if ev.action == "left":
            self.left(room, ev.user)
            frame = encode(m.MemberEvent(room=ev.room, user=ev.user, action="left"))
            self.fanout(room, frame)
            self.send_to_user(ev.user, frame)
            return
        self.joined(room, ev.user)
        if ev.action != "created":
            frame = encode(m.MemberEvent(room=ev.room, user=ev.user, action=ev.action))
            self.fanout(room, frame, exclude_user=ev.user)

    async def _room_added(self, ev: MemberChanged) -> None:
        room = await self.room(ev.room)
        if room is None:
            return
        self.joined(room, ev.user)
        markers = await self.storage.read_markers(ev.user)
        info = room.info(ev.user, markers.get(ev.room, 0))
        self.send_to_user(ev.user, encode(m.RoomAdded(room=info)))

    async def drain(self) -> None:
        """Wait until every message handed to storage has been acked and fanned out."""
        while self._appends:
            await asyncio.gather(*tuple(self._appends), return_exceptions=True)


def _invitation_frame(ev: InvitationChanged) -> m.InvitationEvent | m.InvitationRemoved:
    if ev.action == "invited":
        invitation = m.Invitation(
            room=ev.room, by=ev.by, visibility=ev.visibility, topic=ev.topic, ts=ev.ts
        )
        return m.InvitationEvent(invitation=invitation)
    return m.InvitationRemoved(room=ev.room, reason=ev.action)


def _committed_event(r: StoredMessage, origin: str) -> MessageCommitted:
    return MessageCommitted(
        origin=origin,
        room=r.room,
        seq=r.seq,
        msg_id=r.msg_id,
        sender=r.sender,
        ts=r.ts,
        text=r.text,
        kind=r.kind,
    )
