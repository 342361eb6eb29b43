"""PostgreSQL statements of pending invitations (pg_migrations/0004), the twin of
``sqlite_invitations``. Each runs inside the writer's transaction (or a read connection), so
accept's delete-and-insert is atomic; ``add`` locks the invitee's user row so that two nodes
inviting the same user at once cannot both pass the per-invitee bound."""

from __future__ import annotations

import time
from typing import cast

import asyncpg

from tertulia.server.storage.base import (
    InvitationRecord,
    InviteOutcome,
    UnknownRoomError,
    Visibility,
)

__all__ = ["accept", "add", "decline", "forget", "of_user"]

Conn = asyncpg.Connection


def _now() -> int:
    return int(time.time() * 1000)


async def add(conn: Conn, room: str, user: str, by: str, max_pending: int) -> InviteOutcome:
    if await conn.fetchval("SELECT 1 FROM rooms WHERE name = $1", room) is None:
        raise UnknownRoomError(f"no room {room!r}")
    await conn.execute("SELECT 1 FROM users WHERE name = $1 FOR UPDATE", user)
    sql = "SELECT 1 FROM invitations WHERE room = $1 AND user_name = $2"
    if await conn.fetchval(sql, room, user) is not None:
        return "pending"
    count = await conn.fetchval("SELECT count(*) FROM invitations WHERE user_name = $1", user)
    if int(count) >= max_pending:
        return "full"
    await conn.execute(
        "INSERT INTO invitations (room, user_name, invited_by, created_at) VALUES ($1, $2, $3, $4)",
        room,
        user,
        by,
        _now(),
    )
    return "added"


async def of_user(conn: Conn, user: str) -> list[InvitationRecord]:
    rows = await conn.fetch(
        "SELECT i.room, i.user_name, i.invited_by, i.created_at, r.visibility, r.topic"
        " FROM invitations i JOIN rooms r ON r.name = i.room"
        " WHERE i.user_name = $1 AND NOT r.closed ORDER BY i.created_at, i.room",
        user,
    )
    return [
        InvitationRecord(
            str(r[0]), str(r[1]), str(r[2]), int(r[3]), cast(Visibility, r[4]), str(r[5])
        )
        for r in rows
    ]


async def accept(conn: Conn, room: str, user: str) -> bool:
    if not await decline(conn, room, user):
        return False
    await conn.execute(
        "INSERT INTO members (room, user_name, joined_at, role) VALUES ($1, $2, $3, 'member')"
        " ON CONFLICT DO NOTHING",
        room,
        user,
        _now(),
    )
    return True


async def decline(conn: Conn, room: str, user: str) -> bool:
    status = await conn.execute(
        "DELETE FROM invitations WHERE room = $1 AND user_name = $2", room, user
    )
    return bool(status == "DELETE 1")


async def forget(conn: Conn, room: str, user: str | None = None) -> list[str]:
    """Drop pending invitations into ``room`` (of ``user`` only, if given); returns the
    invitees whose invitation went (sorted), so the server can tell them."""
    if user is None:
        rows = await conn.fetch("DELETE FROM invitations WHERE room = $1 RETURNING user_name", room)
    else:
        rows = await conn.fetch(
            "DELETE FROM invitations WHERE room = $1 AND user_name = $2 RETURNING user_name",
            room,
            user,
        )
    return sorted(str(r[0]) for r in rows)
