"""The Storage contract, run against every implementation (SQLite, PostgreSQL).

Moved here from test_storage_sqlite.py unchanged but for the backend plumbing: what one
implementation must do, all must. Implementation details (files, PRAGMAs, threads, crash safety
of one engine) stay in that engine's own test module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from storage_backends import Backend, backend_for

from tertulia.server.storage.base import (
    BanOutcome,
    ClosedRoom,
    NameTakenError,
    NewMessage,
    RoomExistsError,
    StorageError,
    StoredMessage,
    UnknownRoomError,
    UserRecord,
)

ROOM = "lobby"


def new(msg_id: str, *, room: str = ROOM, sender: str = "ana", text: str = "hi") -> NewMessage:
    return NewMessage(room=room, sender=sender, msg_id=msg_id, text=text, kind="text", ts=1234)


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async for b in backend_for(request.param, tmp_path):
        yield b


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[Any]:
    st = backend.make()
    await st.open()
    await st.create_user("ana", "hash-a")
    await st.create_room(ROOM, "public", "ana", members=["ana"])
    try:
        yield st
    finally:
        await st.close()


async def test_users_crud(storage: Any, backend: Backend) -> None:
    bo = await storage.create_user("bo", "hash-b", is_admin=True)
    assert (bo.name, bo.password_hash, bo.is_admin, bo.disabled) == ("bo", "hash-b", True, False)
    assert bo.created_at > 1_600_000_000_000  # Unix ms
    assert await storage.get_user("bo") == bo
    assert await storage.get_user("nobody") is None
    with pytest.raises(NameTakenError):
        await storage.create_user("bo", "other")
    assert (await storage.get_user("bo")) == bo  # the failed create changed nothing
    assert [u.name for u in await storage.list_users()] == ["ana", "bo"]
    assert await storage.count_users() == 2
    assert await storage.set_password("bo", "hash-b2") == 1  # the new credential generation
    assert await storage.get_user("bo") == UserRecord(
        "bo", "hash-b2", True, bo.created_at, cred_gen=1
    )
    assert await storage.set_password("nobody", "x") is None


async def test_credential_generations(storage: Any) -> None:
    """Migration 0003: a password change or a disable bumps ``cred_gen`` in the transaction
    that drops the tokens; a token of an older generation (a login still in flight when the
    password changed) is dead; ``if_gen`` refuses a change from a connection being revoked."""
    await storage.create_user("cy", "h0")
    assert (await storage.get_user("cy")).cred_gen == 0
    far = 2**62
    await storage.add_token("cy", b"a" * 32, far, keep=5, cred_gen=0)
    assert await storage.token_user(b"a" * 32, 0) == ("cy", 0)
    assert await storage.set_password("cy", "h1", if_gen=0) == 1
    assert await storage.token_user(b"a" * 32, 0) is None  # dropped with the change
    # a login that read generation 0 before the change issues its token after it: dead too
    await storage.add_token("cy", b"b" * 32, far, keep=5, cred_gen=0)
    assert await storage.token_user(b"b" * 32, 0) is None
    await storage.add_token("cy", b"c" * 32, far, keep=5, cred_gen=1)
    assert await storage.token_user(b"c" * 32, 0) == ("cy", 1)
    assert await storage.set_password("cy", "h2", if_gen=0) is None  # stale: nothing changed
    assert (await storage.get_user("cy")).password_hash == "h1"
    assert await storage.set_disabled("cy", True) == 2
    assert await storage.token_user(b"c" * 32, 0) is None
    assert await storage.set_password("cy", "h3", if_gen=2) is None  # disabled
    assert await storage.set_disabled("cy", False) == 2  # enabling changes no credential
    await storage.add_token("cy", b"d" * 32, far, keep=5, cred_gen=2)
    assert await storage.token_user(b"d" * 32, 0) == ("cy", 2)
    assert await storage.set_password("cy", "h4") == 3  # the operator's: no if_gen
    assert await storage.set_disabled("ghost", True) is None


async def test_rooms_and_members(storage: Any, backend: Backend) -> None:
    room = await storage.create_room(
        "secret", "private", "ana", topic="shh", members=iter(["ana", "bo", "ana"])
    )
    assert (room.name, room.visibility, room.topic, room.created_by, room.last_seq) == (
        "secret",
        "private",
        "shh",
        "ana",
        0,
    )
    assert await storage.get_room("secret") == room
    assert await storage.get_room("nope") is None
    with pytest.raises(RoomExistsError):
        await storage.create_room("secret", "public", "bo", members=["cy"])
    assert await storage.members("secret") == ["ana", "bo"]  # the failed create added nobody
    await storage.create_room("agora", "public", "bo")
    await storage.create_room("dm:ana:bo", "dm", "ana", members=["ana", "bo"])

    assert [r.name for r in await storage.list_public_rooms()] == ["agora", ROOM]
    # pages: after a name (exclusive), at most ``limit``
    assert [r.name for r in await storage.list_public_rooms(limit=1)] == ["agora"]
    assert [r.name for r in await storage.list_public_rooms(after="agora")] == [ROOM]
    assert [r.name for r in await storage.list_public_rooms(after=ROOM, limit=5)] == []
    assert [r.name for r in await storage.rooms_of("ana")] == ["dm:ana:bo", ROOM, "secret"]
    assert [r.name for r in await storage.rooms_of("bo")] == ["dm:ana:bo", "secret"]
    assert await storage.rooms_of("nobody") == []

    assert await storage.add_member("agora", "cy") is True
    assert await storage.add_member("agora", "cy") is False
    assert await storage.members("agora") == ["cy"]
    with pytest.raises(UnknownRoomError):
        await storage.add_member("nope", "cy")
    assert await storage.remove_member("agora", "cy") is True
    assert await storage.remove_member("agora", "cy") is False
    assert await storage.remove_member("nope", "cy") is False
    assert await storage.members("agora") == []

    await storage.set_topic("agora", "new topic")
    assert (await storage.get_room("agora")) is not None
    assert (await storage.get_room("agora")).topic == "new topic"  # type: ignore[union-attr]
    with pytest.raises(UnknownRoomError):
        await storage.set_topic("nope", "x")
    with pytest.raises(ValueError):
        await storage.create_room("bad", "secretive", "ana")  # type: ignore[arg-type]


async def test_pending_invitations(storage: Any, backend: Backend) -> None:
    """Pending until accepted (atomically a membership) or declined; not memberships; bounded
    per invitee; gone when the invitee joins another way, is banned or the room closes."""
    for u in ("bo", "cy"):
        await storage.create_user(u, "h")
    await storage.create_room("plans", "private", "ana", topic="shh", members=["ana"])
    await storage.create_room("b", "private", "ana", members=["ana"])
    await storage.create_room("c", "private", "ana", members=["ana"])
    assert await storage.add_invitation("plans", "bo", "ana", max_pending=2) == "added"
    assert await storage.add_invitation("plans", "bo", "ana", max_pending=2) == "pending"
    assert await storage.add_invitation(ROOM, "bo", "ana", max_pending=2) == "added"
    assert await storage.add_invitation("b", "bo", "ana", max_pending=2) == "full"
    with pytest.raises(UnknownRoomError):
        await storage.add_invitation("nope", "bo", "ana", max_pending=2)
    pending = await storage.invitations_of("bo")
    assert {(i.room, i.invited_by, i.visibility) for i in pending} == {
        ("plans", "ana", "private"),
        (ROOM, "ana", "public"),
    }
    assert next(i for i in pending if i.room == "plans").topic == "shh"
    assert await storage.rooms_of("bo") == []  # an invitation is not a membership
    assert await storage.members("plans") == ["ana"]

    assert await storage.accept_invitation("plans", "bo") is True
    assert await storage.members("plans") == ["ana", "bo"]
    assert await storage.accept_invitation("plans", "bo") is False  # used up
    assert await storage.decline_invitation(ROOM, "bo") is True
    assert await storage.decline_invitation(ROOM, "bo") is False
    assert await storage.invitations_of("bo") == []
    assert await storage.rooms_of("bo") == [await storage.get_room("plans")]

    # joining by other means, a ban and a closed room each drop the pending invitation, and
    # ban / close_room say whose went (the server tells them: invitation_removed)
    for room in ("b", "c", ROOM):
        assert await storage.add_invitation(room, "cy", "ana", max_pending=5) == "added"
    assert await storage.add_invitation("c", "bo", "ana", max_pending=5) == "added"
    await storage.add_member(ROOM, "cy")
    assert await storage.ban("b", "cy", "ana") == BanOutcome(False, had_invitation=True)
    assert await storage.ban("b", "cy", "ana") == BanOutcome(False, had_invitation=False)
    await storage.add_member("b", "bo")
    assert await storage.ban("b", "bo", "ana") == BanOutcome(True, had_invitation=False)
    assert await storage.close_room("c") == ClosedRoom(members=["ana"], invitees=["bo", "cy"])
    assert await storage.invitations_of("cy") == []
    assert await storage.accept_invitation("b", "cy") is False
    assert await storage.members("b") == ["ana"]


async def test_append_assigns_consecutive_seq_per_room(storage: Any, backend: Backend) -> None:
    await storage.create_room("other", "public", "ana")
    seqs = [(await storage.append(new(f"m{i}"))).seq for i in range(3)]
    assert seqs == [1, 2, 3]
    first_other = await storage.append(new("o1", room="other"))
    assert first_other.seq == 1
    assert (await storage.append(new("m3"))).seq == 4
    stored = await storage.append(new("m4", text="hello", sender="bo"))
    assert stored == StoredMessage(ROOM, 5, "m4", "bo", 1234, "hello", "text", duplicate=False)
    room = await storage.get_room(ROOM)
    assert room is not None and room.last_seq == 5
    with pytest.raises(UnknownRoomError):
        await storage.append(new("x", room="nope"))
    assert (await storage.append(new("m5"))).seq == 6  # the failure consumed no seq


async def test_duplicate_msg_id_returns_original(storage: Any, backend: Backend) -> None:
    await storage.create_room("other", "public", "ana")
    original = await storage.append(new("dup", text="first"))
    again = await storage.append(new("dup", text="changed", room="other"))
    assert again.duplicate is True
    assert again == StoredMessage(ROOM, 1, "dup", "ana", 1234, "first", "text", duplicate=True)
    assert original.duplicate is False
    assert len(await storage.history(ROOM)) == 1
    assert await storage.history("other") == []
    assert (await storage.get_room("other")).last_seq == 0  # type: ignore[union-attr]
    # msg_id is unique per sender only
    assert (await storage.append(new("dup", sender="bo"))).duplicate is False
    assert storage.stats.duplicates == 1


async def test_duplicates_sent_concurrently(storage: Any, backend: Backend) -> None:
    results = await asyncio.gather(*(storage.append(new("same")) for _ in range(5)))
    assert sorted(r.duplicate for r in results) == [False, True, True, True, True]
    assert {r.seq for r in results} == {1}
    assert [m.msg_id for m in await storage.history(ROOM)] == ["same"]


async def test_duplicate_and_failure_within_one_batch(storage: Any, backend: Backend) -> None:
    commits = storage.stats.commits
    results = await backend.in_one_batch(
        storage,
        ROOM,
        storage.append(new("a", text="one")),
        storage.append(new("a", text="two")),
        storage.append(new("b", room="nope")),
        storage.create_user("ana", "again"),
        storage.append(new("c")),
    )
    assert storage.stats.commits == commits + 2  # the plug, then everything else at once
    first, dup, unknown, taken, third = results
    assert isinstance(first, StoredMessage) and first.seq == 1 and not first.duplicate
    assert dup == StoredMessage(ROOM, 1, "a", "ana", 1234, "one", "text", duplicate=True)
    assert isinstance(unknown, UnknownRoomError)
    assert isinstance(taken, NameTakenError)
    assert isinstance(third, StoredMessage) and third.seq == 2
    assert [(m.seq, m.msg_id) for m in await storage.history(ROOM)] == [(1, "a"), (2, "c")]
    assert (await storage.get_user("ana")).password_hash == "hash-a"  # type: ignore[union-attr]


async def test_history_windows(storage: Any, backend: Backend) -> None:
    for i in range(1, 11):
        await storage.append(new(f"m{i}"))

    def seqs(msgs: list[StoredMessage]) -> list[int]:
        return [m.seq for m in msgs]

    assert seqs(await storage.history(ROOM)) == list(range(1, 11))
    assert seqs(await storage.history(ROOM, limit=3)) == [8, 9, 10]
    assert seqs(await storage.history(ROOM, after=2, limit=3)) == [3, 4, 5]
    assert seqs(await storage.history(ROOM, after=8)) == [9, 10]
    assert seqs(await storage.history(ROOM, after=10)) == []
    assert seqs(await storage.history(ROOM, before=5, limit=3)) == [2, 3, 4]
    assert seqs(await storage.history(ROOM, before=3)) == [1, 2]
    assert seqs(await storage.history(ROOM, before=1)) == []
    assert seqs(await storage.history(ROOM, after=2, before=9, limit=4)) == [3, 4, 5, 6]
    assert seqs(await storage.history(ROOM, after=2, before=5)) == [3, 4]
    assert seqs(await storage.history(ROOM, limit=0)) == []
    assert await storage.history("nope") == []
    assert (await storage.history(ROOM, limit=1))[0] == StoredMessage(
        ROOM, 10, "m10", "ana", 1234, "hi", "text"
    )


async def test_read_markers_move_forward_only(storage: Any, backend: Backend) -> None:
    await storage.create_room("other", "public", "ana")
    assert await storage.read_markers("bo") == {}
    assert await storage.set_read_marker("bo", ROOM, 5) == 5
    assert await storage.set_read_marker("bo", ROOM, 3) == 5
    assert await storage.set_read_marker("bo", ROOM, 7) == 7
    assert await storage.set_read_marker("bo", "other", 0) == 0
    assert await storage.read_markers("bo") == {ROOM: 7, "other": 0}
    with pytest.raises(UnknownRoomError):
        await storage.set_read_marker("bo", "nope", 1)
    with pytest.raises(ValueError):
        await storage.set_read_marker("bo", ROOM, -1)


async def test_append_advances_senders_marker(storage: Any, backend: Backend) -> None:
    await storage.set_read_marker("bo", ROOM, 1)
    await storage.append(new("a1"))
    await storage.append(new("a2"))
    assert await storage.read_markers("ana") == {ROOM: 2}
    assert await storage.read_markers("bo") == {ROOM: 1}  # only the sender's moves
    await storage.set_read_marker("bo", ROOM, 10)
    await storage.append(new("b1", sender="bo"))  # seq 3 must not pull bo's marker back
    assert await storage.read_markers("bo") == {ROOM: 10}
    await storage.append(new("a1"))  # a duplicate moves nothing
    assert await storage.read_markers("ana") == {ROOM: 2}


async def test_group_commit_batches_concurrent_appends(storage: Any, backend: Backend) -> None:
    commits, appends = storage.stats.commits, storage.stats.appends
    results = await asyncio.gather(*(storage.append(new(f"m{i}")) for i in range(200)))
    used = storage.stats.commits - commits
    print(f"200 concurrent appends took {used} transaction(s)")
    assert sorted(r.seq for r in results) == list(range(1, 201))
    assert storage.stats.appends - appends == 200
    assert used < 20
    assert storage.stats.largest_batch >= 10


async def test_max_batch_bounds_a_transaction(backend: Backend) -> None:
    st = backend.make(max_batch=7)
    await st.open()
    try:
        await st.create_room(ROOM, "public", "ana")
        await backend.in_one_batch(st, ROOM, *(st.append(new(f"m{i}")) for i in range(20)))
        assert st.stats.largest_batch == 7
        assert [m.seq for m in await st.history(ROOM, limit=100)] == list(range(1, 21))
    finally:
        await st.close()


async def test_reopen_persists(backend: Backend) -> None:
    st = backend.make()
    await st.open()
    await st.create_user("ana", "h")
    await st.create_room(ROOM, "private", "ana", topic="t", members=["ana"])
    await st.append(new("m1"))
    await st.close()

    st = backend.make(**backend.reopen_kw)
    await st.open()
    try:
        assert [u.name for u in await st.list_users()] == ["ana"]
        assert await st.members(ROOM) == ["ana"]
        assert [m.msg_id for m in await st.history(ROOM)] == ["m1"]
        assert await st.read_markers("ana") == {ROOM: 1}
        assert (await st.append(new("m2"))).seq == 2
        assert (await st.append(new("m1"))).duplicate
    finally:
        await st.close()


async def test_close_answers_queued_calls_then_refuses(backend: Backend) -> None:
    st = backend.make()
    with pytest.raises(StorageError, match="not open"):
        await st.get_user("ana")
    await st.open()
    await st.create_room(ROOM, "public", "ana")
    tasks = [asyncio.ensure_future(st.append(new(f"m{i}"))) for i in range(50)]
    reads = [asyncio.ensure_future(st.count_users()) for _ in range(5)]
    await asyncio.sleep(0)  # the tasks queue their jobs
    await asyncio.gather(st.close(), st.close())
    assert sorted(t.result().seq for t in tasks) == list(range(1, 51))
    assert [r.result() for r in reads] == [0] * 5
    with pytest.raises(StorageError, match="closed"):
        await st.append(new("late"))
    with pytest.raises(StorageError, match="closed"):
        await st.history(ROOM)
    with pytest.raises(StorageError):
        await st.open()
    await st.close()  # idempotent
    backend.after_close(st)

    st = backend.make()
    await st.open()
    try:
        assert len(await st.history(ROOM, limit=100)) == 50
    finally:
        await st.close()
