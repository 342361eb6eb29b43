"""Storage of the security features: skeleton uniqueness, roles, bans, mutes, tokens, closing."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tertulia.server.storage.base import NameTakenError, RoomExistsError
from tertulia.server.storage.sqlite import SqliteStorage


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    st = SqliteStorage(tmp_path / "t.db", synchronous="NORMAL")
    await st.open()
    yield st
    await st.close()


async def test_look_alike_names_are_taken(storage: SqliteStorage) -> None:
    await storage.create_user("alice", "h")
    with pytest.raises(NameTakenError):
        await storage.create_user("\u0430lice", "h")  # Cyrillic a
    await storage.create_room("general", "public", "alice", members=["alice"])
    with pytest.raises(RoomExistsError):
        await storage.create_room("gener\u0430l", "public", "alice")
    # DM rooms have no skeleton of their own
    await storage.create_room("dm:alice:bob", "dm", "alice", members=["alice", "bob"])


async def test_creator_owns_the_room_and_roles_change(storage: SqliteStorage) -> None:
    await storage.create_room("r", "public", "ana", members=["ana"])
    await storage.add_member("r", "bob")
    policy = await storage.room_policy("r")
    assert policy.roles == {"ana": "owner"} and policy.mutes == {}
    assert await storage.set_role("r", "bob", "moderator")
    assert not await storage.set_role("r", "ghost", "moderator")
    assert (await storage.room_policy("r")).roles == {"ana": "owner", "bob": "moderator"}
    await storage.create_room("dm:ana:bob", "dm", "ana", members=["ana", "bob"])
    assert (await storage.room_policy("dm:ana:bob")).roles == {}


async def test_ban_removes_membership_and_unban(storage: SqliteStorage) -> None:
    await storage.create_room("r", "public", "ana", members=["ana", "bob"])
    await storage.mute("r", "bob", "ana", None)
    assert (await storage.ban("r", "bob", "ana", "spam")).was_member
    assert await storage.members("r") == ["ana"]
    assert await storage.is_banned("r", "bob")
    assert (await storage.room_policy("r")).mutes == {}  # a ban lifts the mute with the seat
    assert [(b.user, b.banned_by, b.reason) for b in await storage.bans("r")] == [
        ("bob", "ana", "spam")
    ]
    assert not (await storage.ban("r", "eve", "ana")).was_member  # pre-emptive: eve was no member
    assert await storage.unban("r", "bob") and not await storage.unban("r", "bob")
    assert not await storage.is_banned("r", "bob")


async def test_mutes_expire(storage: SqliteStorage) -> None:
    await storage.create_room("r", "public", "ana", members=["ana", "bob", "cy"])
    await storage.mute("r", "bob", "ana", None)
    await storage.mute("r", "cy", "ana", 1)  # ended long ago
    assert (await storage.room_policy("r")).mutes == {"bob": None}
    assert await storage.unmute("r", "bob")
    assert (await storage.room_policy("r")).mutes == {}


async def test_tokens_expire_are_capped_and_revoked(storage: SqliteStorage) -> None:
    await storage.create_user("ana", "h")
    far = 2**62
    for i in range(5):
        await storage.add_token("ana", bytes([i]) * 32, far, keep=3, cred_gen=0)
    assert await storage.token_user(bytes([0]) * 32, 0) is None  # pruned: only 3 kept
    assert await storage.token_user(bytes([4]) * 32, 0) == ("ana", 0)
    await storage.add_token("ana", b"x" * 32, 1000, keep=3, cred_gen=0)
    assert await storage.token_user(b"x" * 32, 999) == ("ana", 0)
    assert await storage.token_user(b"x" * 32, 1000) is None  # expired
    assert await storage.revoke_token(bytes([4]) * 32)
    assert await storage.token_user(bytes([4]) * 32, 0) is None
    assert await storage.set_password("ana", "h2")  # a new password revokes every token
    assert await storage.token_user(bytes([3]) * 32, 0) is None
    await storage.add_token("ana", b"y" * 32, far, keep=3, cred_gen=1)
    assert await storage.token_user(b"y" * 32, 0) == ("ana", 1)
    assert await storage.set_disabled("ana", True)
    assert (await storage.get_user("ana")).disabled  # type: ignore[union-attr]
    assert await storage.token_user(b"y" * 32, 0) is None
    assert not await storage.set_disabled("ghost", True)


async def test_close_room(storage: SqliteStorage) -> None:
    await storage.create_room("r", "public", "ana", members=["ana", "bob"])
    assert (await storage.close_room("r")).members == ["ana", "bob"]
    room = await storage.get_room("r")
    assert room is not None and room.closed
    assert await storage.members("r") == []
    assert await storage.list_public_rooms() == []
    with pytest.raises(RoomExistsError):
        await storage.create_room("r", "public", "bob")


async def test_old_database_gets_skeletons_and_owners(tmp_path: Path) -> None:
    """A database at schema 1 is migrated: skeletons filled in, creators become owners."""
    path = tmp_path / "old.db"
    st = SqliteStorage(path)
    await st.open()
    await st.close()
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        DROP TABLE invitations; DROP TABLE tokens; DROP TABLE mutes; DROP TABLE bans;
        DROP INDEX users_by_skeleton; DROP INDEX rooms_by_skeleton;
        ALTER TABLE users DROP COLUMN skeleton;
        ALTER TABLE rooms DROP COLUMN skeleton; ALTER TABLE rooms DROP COLUMN closed;
        ALTER TABLE members DROP COLUMN role;
        ALTER TABLE users DROP COLUMN cred_gen;
        INSERT INTO users (name, password_hash, created_at) VALUES ('alice', 'h', 0);
        INSERT INTO users (name, password_hash, created_at) VALUES ('\u0430lice', 'h', 0);
        INSERT INTO rooms (name, visibility, created_by, created_at)
            VALUES ('r', 'public', 'alice', 0);
        INSERT INTO members (room, user, joined_at) VALUES ('r', 'alice', 0);
        PRAGMA user_version = 1;
        """
    )
    conn.close()
    st = SqliteStorage(path)
    await st.open()
    try:
        assert (await st.room_policy("r")).roles == {"alice": "owner"}
        with pytest.raises(NameTakenError):
            await st.create_user("\u0430lic\u0435", "h")
    finally:
        await st.close()
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name, skeleton FROM users ORDER BY name").fetchall()
    conn.close()
    assert sorted(s for _, s in rows if s is not None) == ["alice"]  # one of the pair is left
