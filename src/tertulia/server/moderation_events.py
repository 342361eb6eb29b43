"""How the hub applies moderation events (its own, and those of peer nodes) to its state.

Kept apart from ``hub.py`` so the hub stays about routing; these functions run inside
``Hub.apply`` on the event loop thread and change only the hub's cached state and the frames
it writes -- storage was already changed by the handler that published the event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tertulia.proto import ErrorCode, encode
from tertulia.proto import messages as m
from tertulia.server.bus.base import (
    MemberRemoved,
    MuteChanged,
    RoleChanged,
    RoomClosed,
    UserRevoked,
)

if TYPE_CHECKING:
    from tertulia.server.hub import Hub

__all__ = ["apply_moderation"]


def apply_moderation(
    hub: Hub, ev: MemberRemoved | RoleChanged | MuteChanged | RoomClosed | UserRevoked
) -> None:
    if isinstance(ev, UserRevoked):
        _revoked(hub, ev)
        return
    if isinstance(ev, RoomClosed):
        _closed(hub, ev)
        return
    room = hub.rooms.get(ev.room)
    if isinstance(ev, MemberRemoved):
        if room is not None:
            hub.left(room, ev.user)
            room.roles.pop(ev.user, None)
            room.mutes.pop(ev.user, None)
            frame = encode(m.MemberEvent(room=ev.room, user=ev.user, action=ev.reason, by=ev.by))
            hub.fanout(room, frame)
        hub.send_to_user(ev.user, encode(m.RoomRemoved(room=ev.room, reason=ev.reason, by=ev.by)))
    elif isinstance(ev, RoleChanged):
        if room is None:
            return
        if ev.role == "member":
            room.roles.pop(ev.user, None)
        else:
            room.roles[ev.user] = ev.role
        hub.fanout(room, encode(m.RoleEvent(room=ev.room, user=ev.user, role=ev.role, by=ev.by)))
    elif isinstance(ev, MuteChanged):
        if room is None:
            return
        if ev.muted:
            room.mutes[ev.user] = ev.until
            frame = encode(m.MutedEvent(room=ev.room, user=ev.user, by=ev.by, until=ev.until))
        else:
            room.mutes.pop(ev.user, None)
            frame = encode(m.UnmutedEvent(room=ev.room, user=ev.user, by=ev.by))
        hub.fanout(room, frame)


def _closed(hub: Hub, ev: RoomClosed) -> None:
    room = hub.rooms.pop(ev.room, None)
    members = set(ev.members) | (room.members if room is not None else set())
    frame = encode(m.RoomRemoved(room=ev.room, reason="closed"))
    for user in members:
        state = hub.users.get(user)
        if state is not None:
            state.rooms.discard(ev.room)
        hub.send_to_user(user, frame)


def _revoked(hub: Hub, ev: UserRevoked) -> None:
    """Raise the user's credential floor, then close what was logged in below it.

    Both happen in this one synchronous call, and a login checks the floor with no ``await``
    between that check and its attach: every login is either attached before this runs (and
    closed here) or sees the new floor (and is refused).
    """
    hub.revoke_below(ev.user, ev.gen)
    state = hub.users.get(ev.user)
    if state is None:
        return
    code = ErrorCode(ev.code)
    for session in tuple(state.sessions):
        if ev.gen == 0 or session.cred_gen < ev.gen:
            session.close(code, ev.message)
