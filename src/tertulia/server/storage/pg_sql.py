"""The SQL of the PostgreSQL storage: migrations, row conversions, and the write jobs.

Every function here runs on a connection it is given, inside a transaction its caller owns
(:mod:`tertulia.server.storage.postgres` decides batching, savepoints and retries). Kept apart
so the storage module reads as the concurrency design it is, and this one as plain SQL.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import asyncpg

from tertulia.server.names import legacy_name_problem, skeleton
from tertulia.server.storage import pg_invitations as invitations
from tertulia.server.storage.base import (
    BanOutcome,
    ClosedRoom,
    NameTakenError,
    NewMessage,
    Role,
    RoomExistsError,
    RoomPolicy,
    RoomRecord,
    StorageError,
    StoredMessage,
    UnknownRoomError,
    UserRecord,
    Visibility,
)

__all__ = [
    "MSG_COLS",
    "ROOM_COLS",
    "USER_COLS",
    "Conn",
    "PgMigration",
    "add_member",
    "add_token",
    "apply_migrations",
    "backfill_skeletons",
    "ban",
    "close_room",
    "create_room",
    "create_user",
    "load_pg_migrations",
    "lock_key",
    "message",
    "mute",
    "now_ms",
    "room",
    "room_exists",
    "room_policy",
    "set_disabled",
    "set_password",
    "set_read_marker",
    "set_topic",
    "status_is",
    "user",
]

log = logging.getLogger("tertulia.server.storage.postgres")

Conn = asyncpg.Connection

MIGRATION_FILE: Final = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
MSG_COLS: Final = "room, seq, msg_id, sender, ts, text, kind"
USER_COLS: Final = "name, password_hash, is_admin, created_at, disabled, cred_gen"
ROOM_COLS: Final = "name, visibility, topic, created_by, created_at, last_seq, closed"


# ------------------------------------------------------------------------------- migrations


@dataclass(frozen=True, slots=True)
class PgMigration:
    version: int
    name: str
    sql: str


def load_pg_migrations() -> list[PgMigration]:
    """The packaged ``pg_migrations/NNNN_*.sql`` files, numbered 1, 2, 3... without gaps."""
    root = importlib.resources.files("tertulia.server.storage") / "pg_migrations"
    found: list[PgMigration] = []
    for entry in root.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = MIGRATION_FILE.match(entry.name)
        if match is None:
            raise StorageError(f"badly named migration file {entry.name!r} (want NNNN_name.sql)")
        found.append(PgMigration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    for expected, mig in enumerate(found, start=1):
        if mig.version != expected:
            raise StorageError(f"migration {mig.name} found where number {expected:04d} was due")
    return found


async def apply_migrations(conn: Conn, migrations: Sequence[PgMigration]) -> int:
    """Bring the schema up to date under an advisory lock; return the resulting version."""
    latest = len(migrations)
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('tertulia-migrate:' || current_schema()))"
        )
        await conn.execute("CREATE TABLE IF NOT EXISTS tertulia_schema (version INT NOT NULL)")
        current = await conn.fetchval("SELECT max(version) FROM tertulia_schema")
        current = int(current or 0)
        if current > latest:
            raise StorageError(
                f"database schema version {current} is newer than this Tertulia knows ({latest})"
            )
        for mig in migrations[current:]:
            await conn.execute(mig.sql)
            await conn.execute("DELETE FROM tertulia_schema")
            await conn.execute("INSERT INTO tertulia_schema (version) VALUES ($1)", mig.version)
            log.info("applied PostgreSQL migration %s", mig.name)
        return max(current, latest)


# ------------------------------------------------------------------------------ messages


def lock_key(sender: str, msg_id: str) -> int:
    """A signed 64-bit advisory-lock key for one ``(sender, msg_id)``."""
    digest = hashlib.blake2b(f"{sender}\0{msg_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def message(row: Any, *, duplicate: bool = False) -> StoredMessage:
    return StoredMessage(
        room=str(row[0]),
        seq=int(row[1]),
        msg_id=str(row[2]),
        sender=str(row[3]),
        ts=int(row[4]),
        text=str(row[5]),
        kind=str(row[6]),
        duplicate=duplicate,
    )


def user(row: Any) -> UserRecord:
    return UserRecord(
        name=str(row[0]),
        password_hash=str(row[1]),
        is_admin=bool(row[2]),
        created_at=int(row[3]),
        disabled=bool(row[4]),
        cred_gen=int(row[5]),
    )


def room(row: Any) -> RoomRecord:
    return RoomRecord(
        name=str(row[0]),
        visibility=cast(Visibility, str(row[1])),
        topic=str(row[2]),
        created_by=str(row[3]),
        created_at=int(row[4]),
        last_seq=int(row[5]),
        closed=bool(row[6]),
    )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def append_group(conn: Conn, msgs: Sequence[NewMessage]) -> list[Any]:
    """Store consecutive appends of one batch; return one result (or exception) per message.

    Runs inside the batch's transaction. Order within the group is the order of ``msgs``: a
    resend later in the group is a duplicate of the earlier one, seqs follow job order.
    """
    keys = sorted({(m.sender, m.msg_id) for m in msgs})
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k",
        sorted({lock_key(s, i) for s, i in keys}),
    )
    rows = await conn.fetch(
        f"SELECT {MSG_COLS} FROM messages"
        " WHERE (sender, msg_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [s for s, _ in keys],
        [i for _, i in keys],
    )
    existing = {(str(r[3]), str(r[2])): message(r, duplicate=True) for r in rows}
    wanted_rooms = sorted({m.room for m in msgs})
    found = await conn.fetch(
        "SELECT name FROM rooms WHERE name = ANY($1::text[]) ORDER BY name FOR NO KEY UPDATE",
        wanted_rooms,
    )
    rooms = {str(r[0]) for r in found}

    results: list[Any] = [None] * len(msgs)
    fresh: dict[tuple[str, str], int] = {}  # key -> index of the job that stores it
    counts: dict[str, int] = {}
    for i, m in enumerate(msgs):
        key = (m.sender, m.msg_id)
        if key in existing:
            results[i] = existing[key]
        elif key in fresh:
            results[i] = key  # resolved below, once the original has its seq
        elif m.room not in rooms:
            results[i] = UnknownRoomError(f"no room {m.room!r}")
        else:
            fresh[key] = i
            counts[m.room] = counts.get(m.room, 0) + 1
    if not fresh:
        return [existing[r] if isinstance(r, tuple) else r for r in results]

    bumped = await conn.fetch(
        "UPDATE rooms SET last_seq = rooms.last_seq + c.n"
        " FROM unnest($1::text[], $2::bigint[]) AS c(name, n)"
        " WHERE rooms.name = c.name RETURNING rooms.name, rooms.last_seq",
        list(counts),
        list(counts.values()),
    )
    next_seq = {str(r[0]): int(r[1]) - counts[str(r[0])] + 1 for r in bumped}
    stored: dict[tuple[str, str], StoredMessage] = {}
    for key, i in fresh.items():
        m = msgs[i]
        seq = next_seq[m.room]
        next_seq[m.room] = seq + 1
        stored[key] = results[i] = StoredMessage(
            room=m.room, seq=seq, msg_id=m.msg_id, sender=m.sender, ts=m.ts, text=m.text,
            kind=m.kind,
        )  # fmt: skip
    new = list(stored.values())
    await conn.execute(
        f"INSERT INTO messages ({MSG_COLS}) SELECT * FROM unnest($1::text[], $2::bigint[],"
        " $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])",
        [s.room for s in new],
        [s.seq for s in new],
        [s.msg_id for s in new],
        [s.sender for s in new],
        [s.ts for s in new],
        [s.text for s in new],
        [s.kind for s in new],
    )
    markers: dict[tuple[str, str], int] = {}
    for s in new:
        mkey = (s.sender, s.room)
        markers[mkey] = max(markers.get(mkey, 0), s.seq)
    await conn.execute(
        "INSERT INTO read_markers (user_name, room, seq)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"
        " ON CONFLICT (user_name, room) DO UPDATE"
        " SET seq = GREATEST(read_markers.seq, EXCLUDED.seq)",
        [u for u, _ in markers],
        [r for _, r in markers],
        list(markers.values()),
    )
    out: list[Any] = []
    for r in results:
        if isinstance(r, tuple):
            orig = stored[r]
            out.append(
                StoredMessage(
                    orig.room, orig.seq, orig.msg_id, orig.sender, orig.ts, orig.text, orig.kind,
                    duplicate=True,
                )
            )  # fmt: skip
        else:
            out.append(r)
    return out


# ------------------------------------------------------------------------------ write jobs


async def create_user(conn: Conn, name: str, password_hash: str, is_admin: bool) -> UserRecord:
    now = now_ms()
    status = await conn.execute(
        "INSERT INTO users (name, password_hash, is_admin, disabled, created_at, skeleton)"
        " VALUES ($1, $2, $3, false, $4, $5) ON CONFLICT DO NOTHING",
        name,
        password_hash,
        is_admin,
        now,
        skeleton(name),
    )
    if status != "INSERT 0 1":
        raise NameTakenError(f"user {name!r} (or a look-alike) already exists")
    return UserRecord(name, password_hash, is_admin, now, False)


async def create_room(
    conn: Conn,
    name: str,
    visibility: Visibility,
    created_by: str,
    topic: str,
    members: tuple[str, ...],
) -> RoomRecord:
    now = now_ms()
    status = await conn.execute(
        "INSERT INTO rooms (name, visibility, topic, created_by, created_at, last_seq, skeleton)"
        " VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT DO NOTHING",
        name,
        visibility,
        topic,
        created_by,
        now,
        None if visibility == "dm" else skeleton(name),
    )
    if status != "INSERT 0 1":
        raise RoomExistsError(f"room {name!r} (or a look-alike) already exists")
    if members:
        owner = created_by if visibility != "dm" else None
        users = list(dict.fromkeys(members))
        await conn.execute(
            "INSERT INTO members (room, user_name, joined_at, role)"
            " SELECT $1, u, $2, r FROM unnest($3::text[], $4::text[]) AS t(u, r)"
            " ON CONFLICT DO NOTHING",
            name,
            now,
            users,
            ["owner" if u == owner else "member" for u in users],
        )
    return RoomRecord(name, visibility, topic, created_by, now, 0)


async def status_is(conn: Conn, expected: str, sql: str, *args: Any) -> bool:
    """Run a one-row write; True if it touched a row (``expected`` is e.g. ``"DELETE 1"``)."""
    return bool(await conn.execute(sql, *args) == expected)


async def room_exists(conn: Conn, room: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM rooms WHERE name = $1", room) is not None


async def add_member(conn: Conn, room: str, user: str, role: Role) -> bool:
    if not await room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    status = await conn.execute(
        "INSERT INTO members (room, user_name, joined_at, role) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        room,
        user,
        now_ms(),
        role,
    )
    await invitations.forget(conn, room, user)
    return bool(status == "INSERT 0 1")


async def set_password(conn: Conn, name: str, password_hash: str, if_gen: int | None) -> int | None:
    gen = await conn.fetchval(
        "UPDATE users SET password_hash = $1, cred_gen = cred_gen + 1 WHERE name = $2"
        " AND ($3::bigint IS NULL OR (cred_gen = $3 AND NOT disabled)) RETURNING cred_gen",
        password_hash,
        name,
        if_gen,
    )
    if gen is None:
        return None
    await conn.execute("DELETE FROM tokens WHERE user_name = $1", name)
    return int(gen)


async def set_disabled(conn: Conn, name: str, disabled: bool) -> int | None:
    gen = await conn.fetchval(
        "UPDATE users SET disabled = $1, cred_gen = cred_gen + $2 WHERE name = $3"
        " RETURNING cred_gen",
        disabled,
        int(disabled),
        name,
    )
    if gen is None:
        return None
    if disabled:
        await conn.execute("DELETE FROM tokens WHERE user_name = $1", name)
    return int(gen)


async def add_token(
    conn: Conn, user: str, token_hash: bytes, expires_at: int, keep: int, gen: int
) -> None:
    now = now_ms()
    await conn.execute("DELETE FROM tokens WHERE user_name = $1 AND expires_at <= $2", user, now)
    await conn.execute(
        "INSERT INTO tokens (hash, user_name, created_at, expires_at, cred_gen)"
        " VALUES ($1, $2, $3, $4, $5)",
        token_hash,
        user,
        now,
        expires_at,
        gen,
    )
    await conn.execute(
        "DELETE FROM tokens WHERE user_name = $1 AND hash NOT IN (SELECT hash FROM tokens"
        " WHERE user_name = $1 ORDER BY created_at DESC, id DESC LIMIT $2)",
        user,
        max(1, keep),
    )


async def close_room(conn: Conn, room: str) -> ClosedRoom:
    if not await room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    rows = await conn.fetch("DELETE FROM members WHERE room = $1 RETURNING user_name", room)
    await conn.execute("UPDATE rooms SET closed = true WHERE name = $1", room)
    await conn.execute("DELETE FROM mutes WHERE room = $1", room)
    invitees = await invitations.forget(conn, room)
    return ClosedRoom(sorted(str(r[0]) for r in rows), invitees)


async def ban(conn: Conn, room: str, user: str, by: str, reason: str) -> BanOutcome:
    if not await room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    await conn.execute(
        "INSERT INTO bans (room, user_name, banned_by, reason, created_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room, user_name) DO UPDATE"
        " SET banned_by = EXCLUDED.banned_by, reason = EXCLUDED.reason",
        room,
        user,
        by,
        reason,
        now_ms(),
    )
    await conn.execute("DELETE FROM mutes WHERE room = $1 AND user_name = $2", room, user)
    had_invitation = bool(await invitations.forget(conn, room, user))
    status = await conn.execute(
        "DELETE FROM members WHERE room = $1 AND user_name = $2", room, user
    )
    return BanOutcome(was_member=status == "DELETE 1", had_invitation=had_invitation)


async def mute(conn: Conn, room: str, user: str, by: str, until: int | None) -> None:
    if not await room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    await conn.execute(
        "INSERT INTO mutes (room, user_name, muted_by, until, created_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room, user_name) DO UPDATE"
        " SET muted_by = EXCLUDED.muted_by, until = EXCLUDED.until",
        room,
        user,
        by,
        until,
        now_ms(),
    )


async def room_policy(conn: Conn, room: str) -> RoomPolicy:
    rows = await conn.fetch(
        "SELECT user_name, role FROM members WHERE room = $1 AND role <> 'member'", room
    )
    roles = {str(r[0]): cast(Role, str(r[1])) for r in rows}
    rows = await conn.fetch(
        "SELECT user_name, until FROM mutes WHERE room = $1 AND (until IS NULL OR until > $2)",
        room,
        now_ms(),
    )
    mutes = {str(r[0]): (None if r[1] is None else int(r[1])) for r in rows}
    return RoomPolicy(roles=roles, mutes=mutes)


async def backfill_skeletons(conn: Conn) -> None:
    """Give rows without a skeleton theirs (before 0002, and all after 0004 cleared them for
    ICU's skeletons); look-alike pairs keep NULL for the younger name, and names today's rules
    refuse are logged (they keep working)."""
    for table, where in (("users", ""), ("rooms", " AND visibility <> 'dm'")):
        names = [
            str(r[0])
            for r in await conn.fetch(
                f"SELECT name FROM {table} WHERE skeleton IS NULL{where} ORDER BY created_at"
            )
        ]
        for name in names:
            legacy_name_problem(table, name)
            try:
                async with conn.transaction():
                    await conn.execute(
                        f"UPDATE {table} SET skeleton = $1 WHERE name = $2", skeleton(name), name
                    )
            except asyncpg.UniqueViolationError:
                log.warning("%s %r looks like another name; its skeleton stays unset", table, name)


async def set_topic(conn: Conn, room: str, topic: str) -> None:
    status = await conn.execute("UPDATE rooms SET topic = $1 WHERE name = $2", topic, room)
    if status != "UPDATE 1":
        raise UnknownRoomError(f"no room {room!r}")


async def set_read_marker(conn: Conn, user: str, room: str, seq: int) -> int:
    if not await room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    value = await conn.fetchval(
        "INSERT INTO read_markers (user_name, room, seq) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_name, room) DO UPDATE"
        " SET seq = GREATEST(read_markers.seq, EXCLUDED.seq) RETURNING seq",
        user,
        room,
        seq,
    )
    return int(value)
