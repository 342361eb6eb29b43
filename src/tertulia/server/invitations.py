"""Invitations: ``invite`` makes one pending; the invitee lists, accepts or declines it.

Why pending: an invitation that made the invitee a member at once let anyone with a private
room fill a victim's ``max_rooms_per_user`` quota (create, invite, leave, in a loop), after
which the victim could not join, create or be DMed. Now nothing changes for the invitee until
they accept, as in Matrix (Synapse keeps invites as a membership state of their own) and IRC
(an ``INVITE`` only lets the user ``JOIN``). Pending invitations do not count as rooms; they
are bounded per invitee (``limits.max_pending_invitations``: ``too_many_invitations`` beyond)
and rated per inviter (``limits.invitation_rate``/``invitation_burst``: ``rate_limited``), so
an attacker fills at most the victim's invitation list, which the victim clears by declining,
and never their room quota.
"""

from __future__ import annotations

import time
from typing import Literal

from tertulia.proto import ErrorCode
from tertulia.proto import messages as m
from tertulia.server.bus.base import InvitationChanged, MemberChanged
from tertulia.server.commands import Handler, _info, _name, _room_name, _user
from tertulia.server.errors import CommandError
from tertulia.server.room_rules import check_not_banned, check_rank, check_room_quota
from tertulia.server.session import Session
from tertulia.server.storage.base import InvitationRecord, UnknownRoomError

__all__ = ["HANDLERS"]


async def invite(session: Session, msg: m.Invite) -> m.Ok:
    user = _user(session)
    name = _room_name(session, msg.room)
    hub = session.hub
    room = await hub.member_room(user, name)
    if room.visibility == "dm":
        raise CommandError(ErrorCode.FORBIDDEN, "cannot invite into a direct conversation")
    if room.visibility == "private":
        await check_rank(session, room, user, "moderator")
    target = _name(session, msg.user, "user")
    storage = session.server.storage
    if await storage.get_user(target) is None:
        raise CommandError(ErrorCode.USER_NOT_FOUND, f"no user {target!r}", user=target)
    if target in room.members:
        return m.Ok(id=msg.id)  # nothing to do, and nothing to rate
    await check_not_banned(session, room, target)
    session.server.guard.check_invitation(user)
    limit = session.server.config.limits.max_pending_invitations
    outcome = await storage.add_invitation(name, target, user, max_pending=limit)
    if outcome == "full":
        session.server.guard.refusals["max_pending_invitations"] += 1
        raise CommandError(
            ErrorCode.TOO_MANY_INVITATIONS,
            f"{target!r} has too many pending invitations (at most {limit})",
            max=limit,
            user=target,
        )
    if outcome == "added":
        visibility: Literal["public", "private"] = (
            "public" if room.visibility == "public" else "private"
        )
        hub.publish(
            InvitationChanged(
                origin=hub.bus.node_id,
                room=name,
                user=target,
                action="invited",
                by=user,
                visibility=visibility,
                topic=room.topic,
                ts=_now_ms(),
            )
        )
    return m.Ok(id=msg.id)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _wire(rec: InvitationRecord) -> m.Invitation:
    visibility: Literal["public", "private"] = "public" if rec.visibility == "public" else "private"
    return m.Invitation(
        room=rec.room, by=rec.invited_by, visibility=visibility, topic=rec.topic, ts=rec.created_at
    )


async def list_invitations(session: Session, msg: m.ListInvitations) -> m.InvitationList:
    records = await session.server.storage.invitations_of(_user(session))
    return m.InvitationList(id=msg.id, invitations=[_wire(r) for r in records])


def _no_invitation(name: str) -> CommandError:
    # the same answer as for a room that does not exist: an invitation is the only way an
    # outsider learns of a private room, so without one nothing is revealed
    return CommandError(ErrorCode.ROOM_NOT_FOUND, f"no invitation into {name!r}", room=name)


async def accept_invitation(session: Session, msg: m.AcceptInvitation) -> m.RoomReply:
    """Become a member: the room quota applies now, at acceptance, not at invitation."""
    user = _user(session)
    name = _room_name(session, msg.room)
    storage = session.server.storage
    hub = session.hub
    if not any(r.room == name for r in await storage.invitations_of(user)):
        raise _no_invitation(name)
    room = await hub.room(name)
    if room is None:
        raise _no_invitation(name)
    if user not in room.members:
        await check_not_banned(session, room, user)
        await check_room_quota(session, user)
    try:
        accepted = await storage.accept_invitation(name, user)
    except UnknownRoomError:
        accepted = False
    if not accepted:  # declined or accepted on another connection meanwhile
        raise _no_invitation(name)
    node = hub.bus.node_id
    hub.publish(MemberChanged(origin=node, room=name, user=user, action="invited"))
    hub.publish(
        InvitationChanged(origin=node, room=name, user=user, action="accepted"), exclude=session
    )
    session.live_from[name] = room.delivered_seq + 1
    hub.joined(room, user)
    return m.RoomReply(id=msg.id, room=await _info(session, room))


async def decline_invitation(session: Session, msg: m.DeclineInvitation) -> m.Ok:
    user = _user(session)
    name = _room_name(session, msg.room)
    if not await session.server.storage.decline_invitation(name, user):
        raise _no_invitation(name)
    hub = session.hub
    hub.publish(
        InvitationChanged(origin=hub.bus.node_id, room=name, user=user, action="declined"),
        exclude=session,
    )
    return m.Ok(id=msg.id)


HANDLERS: dict[type, Handler] = {
    m.Invite: invite,
    m.ListInvitations: list_invitations,
    m.AcceptInvitation: accept_invitation,
    m.DeclineInvitation: decline_invitation,
}
