"""Room moderation (kick, ban, mute, roles) and server administration (disable, close).

Authorization model (docs/security.md):

* Every room but a DM has one **owner** (its creator, until they hand it on), any number of
  **moderators**, and **members**. Moderators and the owner may kick, ban, unban, mute and
  unmute, set the topic and invite into private rooms; only the owner may change roles. Nobody
  may act on someone of equal or higher rank, nor on themselves. DMs have no moderation.
* **Server admins** (``users.is_admin``) may disable accounts and close rooms, over the
  protocol or with ``tertulia admin`` (which asks the running server through its operator
  socket, so the effect is immediate).

Handlers read roles from storage, not the hub's cache, so a decision is never based on a stale
copy; the cache (kept for ``room_info.role`` and the mute check on ``send``) is updated through
the bus events each action publishes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tertulia.proto import ErrorCode
from tertulia.proto import messages as m
from tertulia.server.bus.base import (
    InvitationChanged,
    MemberRemoved,
    MuteChanged,
    RoleChanged,
    RoomClosed,
)
from tertulia.server.commands import Handler, _name, _room_name
from tertulia.server.errors import CommandError
from tertulia.server.hub import RoomState
from tertulia.server.paging import page_of, page_size
from tertulia.server.session import Session
from tertulia.server.storage.base import Role, UnknownRoomError

if TYPE_CHECKING:
    from tertulia.server.app import Server

__all__ = ["HANDLERS", "RANK", "close_room", "require_rank", "reset_password", "set_disabled"]

RANK: dict[Role, int] = {"member": 1, "moderator": 2, "owner": 3}
#: the longest timed mute (a year); longer is "until lifted" (``seconds: null``)
MAX_MUTE_SECONDS = 365 * 86400


async def require_rank(session: Session, raw_room: str, needed: Role) -> tuple[RoomState, Role]:
    """The room and the caller's role, if the caller is a member of at least ``needed`` rank."""
    user = session.user
    assert user is not None
    name = _room_name(session, raw_room)
    room = await session.hub.member_room(user, name)
    if room.visibility == "dm":
        raise CommandError(ErrorCode.FORBIDDEN, "direct conversations have no moderation")
    policy = await session.server.storage.room_policy(room.name)
    role = policy.roles.get(user, "member")
    if RANK[role] < RANK[needed]:
        raise CommandError(
            ErrorCode.FORBIDDEN, f"needs the {needed} role in {room.name!r}", required=needed
        )
    return room, role


async def _target(
    session: Session, room: RoomState, actor_role: Role, raw_user: str, *, member: bool = True
) -> str:
    """The normalized target user, checked to be outranked by the actor (and a member)."""
    target = _name(session, raw_user, "user")
    if target == session.user:
        raise CommandError(ErrorCode.INVALID_ARGUMENT, "not on yourself", field="user")
    storage = session.server.storage
    if member and target not in room.members:
        raise CommandError(ErrorCode.NOT_MEMBER, f"{target!r} is not a member", user=target)
    if not member and await storage.get_user(target) is None:
        raise CommandError(ErrorCode.USER_NOT_FOUND, f"no user {target!r}", user=target)
    policy = await storage.room_policy(room.name)
    if RANK[policy.roles.get(target, "member")] >= RANK[actor_role]:
        raise CommandError(ErrorCode.FORBIDDEN, f"{target!r} outranks or equals you", user=target)
    return target


async def kick(session: Session, msg: m.Kick) -> m.Ok:
    room, role = await require_rank(session, msg.room, "moderator")
    target = await _target(session, room, role, msg.user)
    await session.server.storage.remove_member(room.name, target)
    hub = session.hub
    by = session.user or ""
    hub.publish(
        MemberRemoved(origin=hub.bus.node_id, room=room.name, user=target, reason="kicked", by=by)
    )
    return m.Ok(id=msg.id)


async def ban(session: Session, msg: m.Ban) -> m.Ok:
    room, role = await require_rank(session, msg.room, "moderator")
    target = await _target(session, room, role, msg.user, member=False)
    by = session.user or ""
    outcome = await session.server.storage.ban(room.name, target, by, msg.reason[:200])
    hub = session.hub
    if outcome.was_member:
        hub.publish(
            MemberRemoved(
                origin=hub.bus.node_id, room=room.name, user=target, reason="banned", by=by
            )
        )
    if outcome.had_invitation:  # else the invitee's clients keep showing a dead invitation
        hub.publish(
            InvitationChanged(origin=hub.bus.node_id, room=room.name, user=target, action="banned")
        )
    return m.Ok(id=msg.id)


async def unban(session: Session, msg: m.Unban) -> m.Ok:
    room, _ = await require_rank(session, msg.room, "moderator")
    await session.server.storage.unban(room.name, _name(session, msg.user, "user"))
    return m.Ok(id=msg.id)


async def bans(session: Session, msg: m.Bans) -> m.BanList:
    room, _ = await require_rank(session, msg.room, "moderator")
    records = {b.user: b for b in await session.server.storage.bans(room.name)}
    size = page_size(msg.limit, session.server.config.limits.max_list_page)
    page, next_cursor = page_of(records, msg.cursor, size)
    entries = [
        m.BanEntry(user=b.user, by=b.banned_by, reason=b.reason, ts=b.created_at)
        for b in (records[u] for u in page)
    ]
    return m.BanList(id=msg.id, room=room.name, bans=entries, next=next_cursor)


async def mute(session: Session, msg: m.Mute) -> m.Ok:
    room, role = await require_rank(session, msg.room, "moderator")
    if msg.seconds is not None and not 1 <= msg.seconds <= MAX_MUTE_SECONDS:
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT,
            f"seconds must be 1 to {MAX_MUTE_SECONDS}, or null",
            field="seconds",
            max=MAX_MUTE_SECONDS,
        )
    target = await _target(session, room, role, msg.user)
    until = None if msg.seconds is None else int((time.time() + msg.seconds) * 1000)
    by = session.user or ""
    await session.server.storage.mute(room.name, target, by, until)
    hub = session.hub
    hub.publish(
        MuteChanged(
            origin=hub.bus.node_id, room=room.name, user=target, by=by, muted=True, until=until
        )
    )
    return m.Ok(id=msg.id)


async def unmute(session: Session, msg: m.Unmute) -> m.Ok:
    room, role = await require_rank(session, msg.room, "moderator")
    target = await _target(session, room, role, msg.user)
    if await session.server.storage.unmute(room.name, target):
        hub = session.hub
        hub.publish(
            MuteChanged(
                origin=hub.bus.node_id,
                room=room.name,
                user=target,
                by=session.user or "",
                muted=False,
            )
        )
    return m.Ok(id=msg.id)


async def set_role(session: Session, msg: m.SetRole) -> m.Ok:
    """Owner only. Making someone ``owner`` hands the room over: the old owner becomes a
    moderator."""
    room, _ = await require_rank(session, msg.room, "owner")
    target = await _target(session, room, "owner", msg.user)
    storage = session.server.storage
    hub = session.hub
    me = session.user or ""
    changes: list[tuple[str, Role]] = [(target, msg.role)]
    if msg.role == "owner":
        changes.append((me, "moderator"))
    for user, role in changes:
        await storage.set_role(room.name, user, role)
        hub.publish(
            RoleChanged(origin=hub.bus.node_id, room=room.name, user=user, role=role, by=me)
        )
    return m.Ok(id=msg.id)


async def _require_admin(session: Session) -> None:
    record = await session.server.storage.get_user(session.user or "")
    if record is None or not record.is_admin:
        raise CommandError(ErrorCode.FORBIDDEN, "server admins only", required="admin")


async def disable_user(session: Session, msg: m.DisableUser) -> m.Ok:
    await _require_admin(session)
    target = _name(session, msg.user, "user")
    if target == session.user:
        raise CommandError(ErrorCode.INVALID_ARGUMENT, "not on yourself", field="user")
    if not await set_disabled(session.server, target, msg.disabled):
        raise CommandError(ErrorCode.USER_NOT_FOUND, f"no user {target!r}", user=target)
    return m.Ok(id=msg.id)


async def close_room_request(session: Session, msg: m.CloseRoom) -> m.Ok:
    await _require_admin(session)
    name = _room_name(session, msg.room)
    if not await close_room(session.server, name):
        raise CommandError(ErrorCode.ROOM_NOT_FOUND, f"no room {name!r}", room=name)
    return m.Ok(id=msg.id)


# ------------------------------------------------------------- operations shared with the CLI


async def set_disabled(server: Server, user: str, disabled: bool) -> bool:
    """Disable (revoking tokens, closing connections) or re-enable ``user``; False if unknown."""
    gen = await server.storage.set_disabled(user, disabled)
    if gen is None:
        return False
    if disabled:
        server.hub.revoke(user, gen, ErrorCode.ACCOUNT_DISABLED, "this account has been disabled")
    return True


async def reset_password(server: Server, user: str, password_hash: str) -> bool:
    """The operator sets ``user``'s password (``tertulia admin user passwd`` on a running
    server): tokens revoked and every connection closed at once, on every node; False if
    unknown."""
    gen = await server.storage.set_password(user, password_hash)
    if gen is None:
        return False
    server.hub.revoke(
        user, gen, ErrorCode.SESSION_REVOKED, "the password was changed: log in again"
    )
    return True


async def close_room(server: Server, name: str) -> bool:
    """Close room ``name`` for good: members and holders of a pending invitation into it
    removed and told; False if there is no such room."""
    record = await server.storage.get_room(name)
    if record is None or record.closed:
        return False
    try:
        closed = await server.storage.close_room(name)
    except UnknownRoomError:
        return False
    hub = server.hub
    node = hub.bus.node_id
    hub.publish(RoomClosed(origin=node, room=name, members=closed.members))
    for user in closed.invitees:  # bounded by the inviters' invitation rate, and sent once
        hub.publish(InvitationChanged(origin=node, room=name, user=user, action="closed"))
    return True


HANDLERS: dict[type, Handler] = {
    m.Kick: kick,
    m.Ban: ban,
    m.Unban: unban,
    m.Bans: bans,
    m.Mute: mute,
    m.Unmute: unmute,
    m.SetRole: set_role,
    m.DisableUser: disable_user,
    m.CloseRoom: close_room_request,
}
