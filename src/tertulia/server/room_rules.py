"""Checks the chat commands make on behalf of moderation and the per-user room quota.

Used by ``commands`` (join, invite, create_room, open_dm, send, set_topic, leave) so that those
handlers stay about chat; the moderation requests themselves live in ``moderation``.
"""

from __future__ import annotations

import time

from tertulia.proto import ErrorCode
from tertulia.server.bus.base import RoleChanged
from tertulia.server.errors import CommandError
from tertulia.server.hub import RoomState
from tertulia.server.session import Session
from tertulia.server.storage.base import Role

__all__ = [
    "check_can_speak",
    "check_not_banned",
    "check_rank",
    "check_room_quota",
    "hand_over_ownership",
]

_RANK: dict[Role, int] = {"member": 1, "moderator": 2, "owner": 3}


async def check_room_quota(session: Session, user: str, *, field: str = "room") -> None:
    """``too_many_rooms`` if ``user`` is already in ``limits.max_rooms_per_user`` rooms."""
    limit = session.server.config.limits.max_rooms_per_user
    if len(await session.server.storage.rooms_of(user)) >= limit:
        session.server.guard.refusals["max_rooms_per_user"] += 1
        raise CommandError(
            ErrorCode.TOO_MANY_ROOMS,
            f"{user!r} is in too many rooms (at most {limit})",
            max=limit,
            user=user,
            field=field,
        )


async def check_not_banned(session: Session, room: RoomState, user: str) -> None:
    if await session.server.storage.is_banned(room.name, user):
        raise CommandError(ErrorCode.BANNED, f"{user!r} is banned from {room.name!r}", user=user)


def check_can_speak(room: RoomState, user: str) -> None:
    """``muted`` (with ``until``, Unix ms or null) if ``user`` is muted in ``room``."""
    until = room.muted_until(user, int(time.time() * 1000))
    if until is not False:
        raise CommandError(ErrorCode.MUTED, f"you are muted in {room.name!r}", until=until)


async def check_rank(session: Session, room: RoomState, user: str, needed: Role) -> None:
    """``forbidden`` unless ``user`` has at least role ``needed`` (never in DMs: no roles)."""
    if room.visibility == "dm":
        return
    role = (await session.server.storage.room_policy(room.name)).roles.get(user, "member")
    if _RANK[role] < _RANK[needed]:
        raise CommandError(
            ErrorCode.FORBIDDEN, f"needs the {needed} role in {room.name!r}", required=needed
        )


async def hand_over_ownership(session: Session, room: RoomState, leaving: str) -> None:
    """When the owner leaves, the senior moderator (else a member) becomes the owner.

    "Senior" is alphabetical among equals: deterministic, and every node agrees.
    """
    if room.visibility == "dm":
        return
    storage = session.server.storage
    policy = await storage.room_policy(room.name)
    if policy.roles.get(leaving) != "owner":
        return
    others = sorted(u for u in room.members if u != leaving)
    moderators = [u for u in others if policy.roles.get(u) == "moderator"]
    candidates = moderators or others
    if not candidates:
        return
    heir = candidates[0]
    await storage.set_role(room.name, heir, "owner")
    hub = session.hub
    hub.publish(
        RoleChanged(origin=hub.bus.node_id, room=room.name, user=heir, role="owner", by=leaving)
    )
