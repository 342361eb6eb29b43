"""SQLite statements of pending invitations (migration 0004), run on the storage threads.

Kept apart from ``sqlite.py`` so that file stays about messages, rooms and members; each
function takes the thread's connection and runs inside the writer's (or reader's)
transaction, so accept's delete-and-insert is atomic.
"""

from __future__ import annotations

import sqlite3
import time
from typing import cast

from tertulia.server.storage.base import (
    InvitationRecord,
    InviteOutcome,
    UnknownRoomError,
    Visibility,
)

__all__ = ["accept", "add", "decline", "forget", "of_user"]


def add(conn: sqlite3.Connection, room: str, user: str, by: str, max_pending: int) -> InviteOutcome:
    if conn.execute("SELECT 1 FROM rooms WHERE name = ?", (room,)).fetchone() is None:
        raise UnknownRoomError(f"no room {room!r}")
    if conn.execute(
        "SELECT 1 FROM invitations WHERE room = ? AND user = ?", (room, user)
    ).fetchone():
        return "pending"
    (count,) = conn.execute("SELECT count(*) FROM invitations WHERE user = ?", (user,)).fetchone()
    if int(count) >= max_pending:
        return "full"
    conn.execute(
        "INSERT INTO invitations (room, user, invited_by, created_at) VALUES (?, ?, ?, ?)",
        (room, user, by, int(time.time() * 1000)),
    )
    return "added"


def of_user(conn: sqlite3.Connection, user: str) -> list[InvitationRecord]:
    rows = conn.execute(
        "SELECT i.room, i.user, i.invited_by, i.created_at, r.visibility, r.topic"
        " FROM invitations i JOIN rooms r ON r.name = i.room"
        " WHERE i.user = ? AND r.closed = 0 ORDER BY i.created_at, i.room",
        (user,),
    ).fetchall()
    return [
        InvitationRecord(str(a), str(b), str(c), int(d), cast(Visibility, e), str(f))
        for a, b, c, d, e, f in rows
    ]


def accept(conn: sqlite3.Connection, room: str, user: str) -> bool:
    if not decline(conn, room, user):
        return False
    conn.execute(
        "INSERT INTO members (room, user, joined_at, role) VALUES (?, ?, ?, 'member')"
        " ON CONFLICT DO NOTHING",
        (room, user, int(time.time() * 1000)),
    )
    return True


def decline(conn: sqlite3.Connection, room: str, user: str) -> bool:
    cur = conn.execute("DELETE FROM invitations WHERE room = ? AND user = ?", (room, user))
    return cur.rowcount == 1


def forget(conn: sqlite3.Connection, room: str, user: str | None = None) -> list[str]:
    """Drop pending invitations into ``room`` (of ``user`` only, if given): the invitee
    became a member another way or was banned, or the room closed. Returns the invitees
    whose invitation went (sorted), so the server can tell them."""
    if user is None:
        cur = conn.execute("DELETE FROM invitations WHERE room = ? RETURNING user", (room,))
    else:
        cur = conn.execute(
            "DELETE FROM invitations WHERE room = ? AND user = ? RETURNING user", (room, user)
        )
    return sorted(str(r[0]) for r in cur.fetchall())
