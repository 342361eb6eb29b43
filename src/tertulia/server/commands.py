"""Request handlers: one coroutine per client message type.

A handler validates, changes durable state through storage, mirrors the change in the hub, and
returns the reply message (or ``None`` when it wrote its own frames). Expected failures raise
:class:`~tertulia.server.errors.CommandError`; the session turns them into ``error`` frames.
Handlers never touch sockets; they write through the session.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from tertulia import __version__
from tertulia.proto import PROTOCOL_VERSION, ErrorCode
from tertulia.proto import messages as m
from tertulia.proto.text import is_blank
from tertulia.server.bus.base import (
    MemberChanged,
    PresenceChanged,
    ReadMoved,
    TopicChanged,
    TypingNotice,
)
from tertulia.server.errors import CommandError
from tertulia.server.hub import RoomState
from tertulia.server.names import (
    InvalidName,
    check_new_name,
    dm_room_name,
    is_dm,
    normalize_name,
    skeleton,
)
from tertulia.server.paging import page_of, page_size
from tertulia.server.room_rules import (
    check_can_speak,
    check_not_banned,
    check_rank,
    check_room_quota,
    hand_over_ownership,
)
from tertulia.server.session import Session
from tertulia.server.storage.base import NameTakenError, NewMessage, RoomExistsError
from tertulia.server.tokens import issue_token

__all__ = ["HANDLERS", "send"]

SUPPORTED_VERSIONS = (PROTOCOL_VERSION,)
MAX_PASSWORD = 1024
MAX_MSG_ID = 64
#: messages replayed per storage read during ``sync``: one page is what a replay adds to the
#: connection's output budget at most (50 maximal messages: about 0.8 MB), and the next page
#: is read only once the peer has drained below the budget (``Session.writable``)
SYNC_PAGE = 50
#: bytes of message text in one ``history_page`` at most: a page of ``max_history_page``
#: maximal messages would be 3.2 MB (and the reply is held until the peer reads it); a page
#: cut here says ``more: true``, and paging by the first or last ``seq`` goes on as usual
HISTORY_PAGE_BYTES = 1024 * 1024


def _name(session: Session, raw: str, field: str) -> str:
    try:
        return normalize_name(raw, session.server.config.limits.max_name)
    except InvalidName as exc:
        raise CommandError(
            ErrorCode.INVALID_NAME, str(exc), field=field, reason=exc.reason, **exc.params
        ) from None


def _new_name(session: Session, raw: str, field: str) -> str:
    """A name about to be created: normalized, then held to UTS #39's stricter rules."""
    name = _name(session, raw, field)
    try:
        check_new_name(name)
    except InvalidName as exc:
        raise CommandError(
            ErrorCode.INVALID_NAME, str(exc), field=field, reason=exc.reason, **exc.params
        ) from None
    return name


def _user(session: Session) -> str:
    assert session.user is not None  # the session checks login before dispatching
    return session.user


def _room_name(session: Session, raw: str) -> str:
    """Normalize a room name as given by a client: plain names, or an existing DM name."""
    if is_dm(raw):
        parts = raw.split(":")
        if len(parts) == 3:
            return dm_room_name(_name(session, parts[1], "room"), _name(session, parts[2], "room"))
        raise CommandError(
            ErrorCode.INVALID_NAME,
            "malformed direct-message room name",
            field="room",
            reason="malformed_dm",
        )
    return _name(session, raw, "room")


async def _info(session: Session, room: RoomState) -> m.RoomInfo:
    user = _user(session)
    markers = await session.server.storage.read_markers(user)
    return room.info(user, markers.get(room.name, 0))


# ---------------------------------------------------------------------- connection and accounts


async def hello(session: Session, msg: m.Hello) -> m.HelloOk | None:
    if session.hello_done:
        raise CommandError(ErrorCode.INVALID_ARGUMENT, "hello was already sent", field="type")
    common = [v for v in msg.versions if v in SUPPORTED_VERSIONS]
    if not common:
        session.write_error(
            msg.id,
            ErrorCode.UNSUPPORTED_VERSION,
            "no common protocol version",
            supported=list(SUPPORTED_VERSIONS),
        )
        session.close()
        return None
    session.hello_done = True
    cfg = session.server.config
    lim = cfg.limits
    return m.HelloOk(
        id=msg.id,
        version=max(common),
        server=f"tertulia/{__version__}",
        limits=m.Limits(
            max_frame_pre_auth=lim.max_frame_pre_auth,
            max_frame=lim.max_frame,
            max_text=lim.max_text,
            max_history_page=lim.max_history_page,
            max_name=lim.max_name,
            max_topic=lim.max_topic,
            max_rooms=lim.max_rooms_per_user,
            message_rate=lim.message_rate,
            message_burst=lim.message_burst,
        ),
        heartbeat_interval=cfg.heartbeat.interval,
    )


async def register(session: Session, msg: m.Register) -> m.Ok:
    server = session.server
    if session.user is not None:
        raise CommandError(ErrorCode.ALREADY_AUTHENTICATED, "already logged in")
    if server.config.registration != "open":
        raise CommandError(ErrorCode.REGISTRATION_CLOSED, "registration is closed on this server")
    name = _new_name(session, msg.user, "user")
    min_len = server.config.passwords.min_length
    if not min_len <= len(msg.password) <= MAX_PASSWORD:
        raise CommandError(
            ErrorCode.WEAK_PASSWORD,
            f"password must be {min_len} to {MAX_PASSWORD} characters",
            min=min_len,
            max=MAX_PASSWORD,
        )
    pw_hash = await server.passwords.hash(msg.password, client=server.guard.address_key(session.ip))
    try:
        await server.storage.create_user(name, pw_hash)
    except NameTakenError:
        if await server.storage.get_user(name) is None:
            raise CommandError(
                ErrorCode.NAME_TAKEN,
                "that name looks like the name of an existing user",
                field="user",
                reason="confusable",
            ) from None
        raise CommandError(ErrorCode.NAME_TAKEN, "that name is taken", field="user") from None
    return m.Ok(id=msg.id)


async def login(session: Session, msg: m.Login) -> None:
    server = session.server
    if session.user is not None:
        raise CommandError(ErrorCode.ALREADY_AUTHENTICATED, "already logged in")
    try:
        name = normalize_name(msg.user, server.config.limits.max_name)
    except InvalidName:
        name = None
    record = await server.storage.get_user(name) if name else None
    ok = await server.passwords.verify(
        record.password_hash if record else None,
        msg.password,
        client=server.guard.address_key(session.ip),
    )
    if not ok or record is None or record.disabled or session.closing:
        raise CommandError(ErrorCode.AUTH_FAILED, "wrong user name or password")
    await complete_login(
        session, msg.id, record.name, record.cred_gen, refusal="wrong user name or password"
    )


async def complete_login(
    session: Session,
    request_id: str | int,
    user: str,
    cred_gen: int,
    *,
    refusal: str,
    token_hash: bytes | None = None,
) -> None:
    """Log ``session`` in as ``user``, whose password or token was checked under credential
    generation ``cred_gen``, and say so; or refuse with ``auth_failed`` (``refusal``) if the
    credentials changed meanwhile.

    This is the one place where a login becomes a session, for ``login`` and ``resume``
    alike. The record is read again here, after the (slow) password check, so a change
    committed on any node before this read refuses the login; a change committed after it is
    caught by :meth:`Hub.credentials_current` right before attaching, with no ``await``
    between that check and the attach, or else closes the session once attached (its
    ``UserRevoked`` event). A password login gets a fresh resume token recorded under
    ``cred_gen``; a ``resume`` (``token_hash`` given) keeps its.
    """
    server = session.server
    record = await server.storage.get_user(user)
    if record is None or record.disabled or record.cred_gen != cred_gen:
        raise CommandError(ErrorCode.AUTH_FAILED, refusal)
    issued = None
    if token_hash is None:
        issued = await issue_token(server.storage, server.config.sessions, user, cred_gen)
        token_hash = issued.token_hash
    if session.closing:
        return
    rooms = [r.name for r in await server.storage.rooms_of(record.name)]
    for rname in rooms:  # presence and fan-out need the member sets of the user's rooms
        await session.hub.room(rname)
    if session.closing:
        return
    # from here to hub.attach: no await (see the docstring)
    if not session.hub.credentials_current(user, cred_gen):
        raise CommandError(ErrorCode.AUTH_FAILED, refusal)
    session.user = record.name
    session.cred_gen = cred_gen
    session.token_hash = token_hash
    session.conn.authenticated()
    session.send(
        m.LoginOk(
            id=request_id,
            user=record.name,
            admin=record.is_admin,
            token=issued.token if issued else None,
            token_expires=issued.expires if issued else None,
        )
    )
    hub = session.hub
    for rname in rooms:  # no await between these and attach: live delivery starts right here
        room_state = hub.rooms.get(rname)
        if room_state is not None:
            session.live_from[rname] = room_state.delivered_seq + 1
    if hub.attach(session, record.name, rooms):
        hub.publish(PresenceChanged(origin=hub.bus.node_id, user=record.name, status="online"))
    return None  # reply already written, so it precedes the presence events


async def logout(session: Session, msg: m.Logout) -> None:
    """End the connection and revoke its resume token (the device must log in again)."""
    if session.token_hash is not None:
        await session.server.storage.revoke_token(session.token_hash)
        session.token_hash = None
    session.send(m.Ok(id=msg.id))
    session.close_reason = "logged out"
    session.close()


async def ping(session: Session, msg: m.Ping) -> m.PongReply:
    return m.PongReply(id=msg.id)


async def pong(session: Session, msg: m.Pong) -> None:
    session.pong(msg.nonce)


# ---------------------------------------------------------------------- rooms


async def create_room(session: Session, msg: m.CreateRoom) -> m.RoomReply:
    user = _user(session)
    if is_dm(msg.room):
        raise CommandError(
            ErrorCode.INVALID_NAME, "dm: names are reserved", field="room", reason="reserved"
        )
    name = _new_name(session, msg.room, "room")
    _check_topic(session, msg.topic)
    await check_room_quota(session, user)
    session.server.guard.check_room_creation(user)
    try:
        await session.server.storage.create_room(
            name, msg.visibility, user, topic=msg.topic, members=[user]
        )
    except RoomExistsError:
        raise await _room_exists(session, name) from None
    room = await session.hub.room(name)
    assert room is not None
    session.hub.joined(room, user)
    return m.RoomReply(id=msg.id, room=await _info(session, room))


async def _room_exists(session: Session, name: str) -> CommandError:
    """``room_exists``, told only as much as the caller may see (docs/security.md, Names).

    A name is taken whether the room is public, private, closed or only a look-alike, and
    creation must fail either way; what differs is what the refusal may say. Plain
    ``room_exists {room}`` for a room the caller could see (public, or one it is a member
    of); ``reason: "confusable"`` for a look-alike of such a room, ``"closed"`` for a closed
    public room; for everything else (a private room or DM the caller is not in, a closed
    private room, a look-alike of one) the same
    ``reason: "unavailable"``, so an outsider cannot tell a private room from a closed one or
    from a look-alike, nor learn anything of it beyond "that name is taken".
    """
    user = _user(session)
    storage = session.server.storage
    record = await storage.get_room(name)
    if record is not None and record.closed and record.visibility == "public":
        return CommandError(
            ErrorCode.ROOM_EXISTS, f"room {name!r} was closed", room=name, reason="closed"
        )
    if record is not None and not record.closed:
        if record.visibility == "public" or user in await storage.members(name):
            return CommandError(ErrorCode.ROOM_EXISTS, f"room {name!r} exists", room=name)
    elif record is None and await _looks_like_visible_room(session, user, name):
        return CommandError(
            ErrorCode.ROOM_EXISTS,
            f"room {name!r} looks like the name of an existing room",
            room=name,
            reason="confusable",
        )
    return CommandError(
        ErrorCode.ROOM_EXISTS,
        f"the room name {name!r} is not available",
        room=name,
        reason="unavailable",
    )


async def _looks_like_visible_room(session: Session, user: str, name: str) -> bool:
    """Whether ``name`` is a look-alike of a public room or of one ``user`` belongs to."""
    storage = session.server.storage
    target = skeleton(name)
    visible = await storage.list_public_rooms() + await storage.rooms_of(user)
    return any(r.visibility != "dm" and skeleton(r.name) == target for r in visible)


async def join(session: Session, msg: m.Join) -> m.RoomReply:
    user = _user(session)
    name = _room_name(session, msg.room)
    hub = session.hub
    room = await hub.room(name)
    if room is None or (room.visibility != "public" and user not in room.members):
        raise CommandError(ErrorCode.ROOM_NOT_FOUND, f"no room {name!r}", room=name)
    if user not in room.members:
        await check_not_banned(session, room, user)
        await check_room_quota(session, user)
        await session.server.storage.add_member(name, user)
        hub.publish(MemberChanged(origin=hub.bus.node_id, room=name, user=user, action="joined"))
        session.live_from[name] = room.delivered_seq + 1
    return m.RoomReply(id=msg.id, room=await _info(session, room))


async def leave(session: Session, msg: m.Leave) -> m.Ok:
    user = _user(session)
    name = _room_name(session, msg.room)
    room = await session.hub.member_room(user, name)
    await hand_over_ownership(session, room, user)
    await session.server.storage.remove_member(name, user)
    hub = session.hub
    hub.publish(MemberChanged(origin=hub.bus.node_id, room=room.name, user=user, action="left"))
    return m.Ok(id=msg.id)


async def list_rooms(session: Session, msg: m.ListRooms) -> m.RoomList:
    """One page: the user's rooms and the public ones, merged by name after ``msg.cursor``."""
    user = _user(session)
    storage = session.server.storage
    size = page_size(msg.limit, session.server.config.limits.max_list_page)
    markers = await storage.read_markers(user)
    # own rooms are at most max_rooms; public ones are read one page (and one more) at a time
    names = [r.name for r in await storage.rooms_of(user)]
    names += [r.name for r in await storage.list_public_rooms(after=msg.cursor, limit=size + 1)]
    page, next_cursor = page_of(names, msg.cursor, size)
    infos = []
    for name in page:
        room = await session.hub.room(name)
        if room is not None:
            infos.append(room.info(user, markers.get(name, 0)))
    return m.RoomList(id=msg.id, rooms=infos, next=next_cursor)


def _check_topic(session: Session, topic: str) -> None:
    limit = session.server.config.limits.max_topic
    if len(topic) > limit:
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT, "topic is too long", field="topic", max=limit
        )


async def set_topic(session: Session, msg: m.SetTopic) -> m.Ok:
    user = _user(session)
    name = _room_name(session, msg.room)
    room = await session.hub.member_room(user, name)
    await check_rank(session, room, user, "moderator")
    check_can_speak(room, user)
    _check_topic(session, msg.topic)
    await session.server.storage.set_topic(name, msg.topic)
    hub = session.hub
    hub.publish(TopicChanged(origin=hub.bus.node_id, room=room.name, topic=msg.topic, by=user))
    return m.Ok(id=msg.id)


async def open_dm(session: Session, msg: m.OpenDm) -> m.RoomReply:
    user = _user(session)
    peer = _name(session, msg.user, "user")
    if peer == user:
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT, "cannot open a DM with yourself", field="user"
        )
    storage = session.server.storage
    if await storage.get_user(peer) is None:
        raise CommandError(ErrorCode.USER_NOT_FOUND, f"no user {peer!r}", user=peer)
    name = dm_room_name(user, peer)
    hub = session.hub
    created = False
    if await hub.room(name) is None:
        await check_room_quota(session, user)
        await check_room_quota(session, peer, field="user")
        session.server.guard.check_room_creation(user)
        try:
            await storage.create_room(name, "dm", user, members=[user, peer])
            created = True
        except RoomExistsError:
            pass
    room = await hub.room(name)
    if room is None:  # closed by an admin: the conversation cannot be reopened
        raise CommandError(ErrorCode.ROOM_NOT_FOUND, f"no room {name!r}", room=name)
    node = hub.bus.node_id
    if created:
        hub.publish(MemberChanged(origin=node, room=name, user=peer, action="created"))
    else:
        # reopening a conversation one side (or both) had left brings both back, durably
        back: tuple[tuple[str, Literal["joined", "created"]], ...] = (
            (user, "joined"),
            (peer, "created"),
        )
        for who, action in back:
            if who not in room.members:
                await check_room_quota(session, who, field="user" if who == peer else "room")
                await storage.add_member(name, who)
                hub.publish(MemberChanged(origin=node, room=name, user=who, action=action))
    return m.RoomReply(id=msg.id, room=await _info(session, room))


async def members(session: Session, msg: m.Members) -> m.MemberList:
    user = _user(session)
    room = await session.hub.member_room(user, _room_name(session, msg.room))
    hub = session.hub
    size = page_size(msg.limit, session.server.config.limits.max_list_page)
    page, next_cursor = page_of(room.members, msg.cursor, size)
    return m.MemberList(
        id=msg.id,
        room=room.name,
        members=[m.Member(user=u, presence=hub.presence_of(u), role=room.role_of(u)) for u in page],
        next=next_cursor,
    )


async def send(session: Session, msg: m.Send) -> None:
    """Validate and hand the message to storage; the ack follows the commit (see Hub.submit)."""
    user = _user(session)
    name = _room_name(session, msg.room)
    check_can_speak(await session.hub.member_room(user, name), user)
    if not 1 <= len(msg.msg_id) <= MAX_MSG_ID:
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT, "msg_id must be 1 to 64 characters", field="msg_id"
        )
    limit = session.server.config.limits.max_text
    if len(msg.text) > limit:
        raise CommandError(ErrorCode.TEXT_TOO_LONG, f"text exceeds {limit} characters", max=limit)
    if is_blank(msg.text):
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT, "text has no visible character", field="text"
        )
    await session.wait_room_slot()
    new = NewMessage(
        room=name,
        sender=user,
        msg_id=msg.msg_id,
        text=msg.text,
        kind=msg.kind,
        ts=int(time.time() * 1000),
    )
    task = session.hub.submit(session, msg.id, new)
    session.inflight.add(task)
    task.add_done_callback(session.inflight.discard)


async def history(session: Session, msg: m.History) -> m.HistoryPage:
    user = _user(session)
    room = await session.hub.member_room(user, _room_name(session, msg.room))
    max_page = session.server.config.limits.max_history_page
    if not 1 <= msg.limit <= max_page:
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT,
            f"limit must be 1 to {max_page}",
            field="limit",
            max=max_page,
        )
    for field, value in (("before", msg.before), ("after", msg.after)):
        if value is not None and value < 0:
            raise CommandError(ErrorCode.INVALID_ARGUMENT, f"{field} must be >= 0", field=field)
    rows = await session.server.storage.history(
        room.name, before=msg.before, after=msg.after, limit=msg.limit + 1
    )
    more = len(rows) > msg.limit
    forward = msg.after is not None
    if more:
        rows = rows[: msg.limit] if forward else rows[1:]
    keep = _within_page_bytes(rows if forward else rows[::-1])
    if keep < len(rows):
        more = True
        rows = rows[:keep] if forward else rows[len(rows) - keep :]
    return m.HistoryPage(id=msg.id, room=room.name, messages=[_message(r) for r in rows], more=more)


def _within_page_bytes(rows: Any) -> int:
    """How many of ``rows`` (in the order they are kept) fit in ``HISTORY_PAGE_BYTES`` of
    text; at least one, so paging always moves on."""
    total = 0
    for n, r in enumerate(rows):
        text = r.text
        total += 200 + (len(text) if text.isascii() else len(text.encode("utf-8", "replace")))
        if total > HISTORY_PAGE_BYTES and n > 0:
            return n
    return len(rows)


def _message(r: Any) -> m.Message:
    return m.Message(
        room=r.room,
        seq=r.seq,
        msg_id=r.msg_id,
        sender=r.sender,
        ts=r.ts,
        text=r.text,
        kind=r.kind,
    )


async def mark_read(session: Session, msg: m.MarkRead) -> m.Ok:
    user = _user(session)
    room = await session.hub.member_room(user, _room_name(session, msg.room))
    if msg.seq < 0:
        raise CommandError(ErrorCode.INVALID_ARGUMENT, "seq must be >= 0", field="seq")
    seq = await session.server.storage.set_read_marker(
        user, room.name, min(msg.seq, room.delivered_seq)
    )
    hub = session.hub
    hub.publish(
        ReadMoved(origin=hub.bus.node_id, user=user, room=room.name, seq=seq), exclude=session
    )
    return m.Ok(id=msg.id)


async def set_presence(session: Session, msg: m.Presence) -> m.Ok:
    hub = session.hub
    state = hub.users[_user(session)]
    if state.status != msg.status:
        # per user, across their connections (30 connections must not mean 30 times the rate);
        # setting the status it already has costs nothing and changes nothing
        session.server.guard.check_presence(state.name)
        state.status = msg.status
        hub.publish(PresenceChanged(origin=hub.bus.node_id, user=state.name, status=msg.status))
    return m.Ok(id=msg.id)


async def typing(session: Session, msg: m.Typing) -> None:
    user = _user(session)
    hub = session.hub
    room = await hub.member_room(user, _room_name(session, msg.room))
    if room.muted_until(user, int(time.time() * 1000)) is not False:
        return  # a muted member's typing is not shown (a notice: no error either)
    if not session.server.guard.allow_typing(user):
        return  # over the user's typing rate: dropped (a notice gets no answer)
    hub.publish(TypingNotice(origin=hub.bus.node_id, room=room.name, user=user))


async def sync(session: Session, msg: m.Sync) -> m.Synced:
    """Replay each room after its cursor from storage, then let live traffic through.

    While a room replays, live messages for it are not written to this session (the hub
    checks ``session.syncing``); the replay loop reads until it has reached the room's
    delivered ``seq`` and only then, with no await in between, re-enables live delivery.
    """
    user = _user(session)
    storage = session.server.storage
    result: dict[str, int] = {}
    most = session.server.config.limits.max_rooms_per_user
    if len(msg.cursors) > most:
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT, f"at most {most} rooms per sync", field="cursors", max=most
        )
    if any(cursor < 0 for cursor in msg.cursors.values()):
        raise CommandError(ErrorCode.INVALID_ARGUMENT, "cursors must be >= 0", field="cursors")
    for raw, cursor in msg.cursors.items():
        try:
            name = _room_name(session, raw)
        except CommandError:
            continue
        room = await session.hub.room(name)
        if room is None or user not in room.members:
            continue
        # what this connection already got live: [live_from, delivered_seq now]; no await
        # between reading these and suppressing live delivery for the room
        skip_from = session.live_from.get(name, room.delivered_seq + 1)
        skip_to = room.delivered_seq
        session.syncing.add(name)
        try:
            while not session.closing:
                await session.writable()  # produce a page only when the last one has drained
                rows = await storage.history(name, after=cursor, limit=SYNC_PAGE)
                if not rows:
                    break
                ahead = False
                for r in rows:
                    if r.seq > room.delivered_seq:
                        # committed but not fanned out yet: live delivery brings it, once
                        ahead = True
                        break
                    if not skip_from <= r.seq <= skip_to:
                        session.send(_message(r))
                    cursor = r.seq
                del rows  # not held while waiting for the peer
                if ahead or cursor >= room.delivered_seq:
                    break
        finally:
            session.syncing.discard(name)
            # live delivery resumes after what the replay covered
            session.live_from[name] = max(cursor, room.delivered_seq) + 1
        result[name] = cursor
    return m.Synced(id=msg.id, cursors=result)


Handler = Callable[[Session, Any], Awaitable[Any]]

HANDLERS: dict[type, Handler] = {
    m.Hello: hello,
    m.Register: register,
    m.Login: login,
    m.Logout: logout,
    m.Ping: ping,
    m.Pong: pong,
    m.CreateRoom: create_room,
    m.Join: join,
    m.Leave: leave,
    m.ListRooms: list_rooms,
    m.SetTopic: set_topic,
    m.OpenDm: open_dm,
    m.Members: members,
    m.History: history,
    m.MarkRead: mark_read,
    m.Presence: set_presence,
    m.Typing: typing,
    m.Sync: sync,
}
