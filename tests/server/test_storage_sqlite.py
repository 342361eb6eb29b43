"""Tests of the SQLite storage: the Storage contract, group commit, files, and crash safety."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from tertulia.server.storage.base import (
    NameTakenError,
    NewMessage,
    RoomExistsError,
    StorageError,
    StoredMessage,
    UnknownRoomError,
    UserRecord,
)
from tertulia.server.storage.sqlite import (
    SqliteStorage,
    load_migrations,
    split_statements,
)

ROOM = "lobby"


def new(msg_id: str, *, room: str = ROOM, sender: str = "ana", text: str = "hi") -> NewMessage:
    return NewMessage(room=room, sender=sender, msg_id=msg_id, text=text, kind="text", ts=1234)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    st = SqliteStorage(tmp_path / "tertulia.db")
    await st.open()
    await st.create_user("ana", "hash-a")
    await st.create_room(ROOM, "public", "ana", members=["ana"])
    try:
        yield st
    finally:
        await st.close()


async def in_one_batch(st: SqliteStorage, *calls: Awaitable[Any]) -> list[Any]:
    """Run ``calls`` so that their writes are certain to share one writer transaction.

    An outside connection holds the write lock; a first "plug" job makes the writer thread wait
    for it inside BEGIN IMMEDIATE; only then are ``calls`` queued, so the writer's next wake-up
    drains them all together.
    """
    lock = sqlite3.connect(st.path, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        plug = asyncio.ensure_future(st.set_topic(ROOM, "plug"))
        await asyncio.sleep(0.1)
        tasks = [asyncio.ensure_future(call) for call in calls]
        await asyncio.sleep(0.05)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    await plug
    return await asyncio.gather(*tasks, return_exceptions=True)


# ------------------------------------------------------------------------------------ users


async def test_users_crud(storage: SqliteStorage) -> None:
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
    assert await storage.set_password("bo", "hash-b2") is True
    assert await storage.get_user("bo") == UserRecord("bo", "hash-b2", True, bo.created_at)
    assert await storage.set_password("nobody", "x") is False


# ------------------------------------------------------------------------------------ rooms


async def test_rooms_and_members(storage: SqliteStorage) -> None:
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


# --------------------------------------------------------------------------------- messages


async def test_append_assigns_consecutive_seq_per_room(storage: SqliteStorage) -> None:
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


async def test_duplicate_msg_id_returns_original(storage: SqliteStorage) -> None:
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


async def test_duplicates_sent_concurrently(storage: SqliteStorage) -> None:
    results = await asyncio.gather(*(storage.append(new("same")) for _ in range(5)))
    assert sorted(r.duplicate for r in results) == [False, True, True, True, True]
    assert {r.seq for r in results} == {1}
    assert [m.msg_id for m in await storage.history(ROOM)] == ["same"]


async def test_duplicate_and_failure_within_one_batch(storage: SqliteStorage) -> None:
    commits = storage.stats.commits
    results = await in_one_batch(
        storage,
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


async def test_history_windows(storage: SqliteStorage) -> None:
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


# ----------------------------------------------------------------------------- read markers


async def test_read_markers_move_forward_only(storage: SqliteStorage) -> None:
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


async def test_append_advances_senders_marker(storage: SqliteStorage) -> None:
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


# ----------------------------------------------------------------------------- group commit


async def test_group_commit_batches_concurrent_appends(storage: SqliteStorage) -> None:
    commits, appends = storage.stats.commits, storage.stats.appends
    results = await asyncio.gather(*(storage.append(new(f"m{i}")) for i in range(200)))
    used = storage.stats.commits - commits
    print(f"200 concurrent appends took {used} transaction(s)")
    assert sorted(r.seq for r in results) == list(range(1, 201))
    assert storage.stats.appends - appends == 200
    assert used < 20
    assert storage.stats.largest_batch >= 10


async def test_max_batch_bounds_a_transaction(tmp_path: Path) -> None:
    st = SqliteStorage(tmp_path / "db", max_batch=7)
    await st.open()
    try:
        await st.create_room(ROOM, "public", "ana")
        await in_one_batch(st, *(st.append(new(f"m{i}")) for i in range(20)))
        assert st.stats.largest_batch == 7
        assert [m.seq for m in await st.history(ROOM, limit=100)] == list(range(1, 21))
    finally:
        await st.close()


# ------------------------------------------------------------------------- files, lifecycle


async def test_reopen_persists(tmp_path: Path) -> None:
    path = tmp_path / "db"
    st = SqliteStorage(path)
    await st.open()
    await st.create_user("ana", "h")
    await st.create_room(ROOM, "private", "ana", topic="t", members=["ana"])
    await st.append(new("m1"))
    await st.close()

    st = SqliteStorage(path, synchronous="normal")
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


async def test_migrations_set_user_version(tmp_path: Path) -> None:
    path = tmp_path / "db"
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    st = SqliteStorage(path)
    await st.open()
    await st.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
        assert {"users", "rooms", "members", "messages", "read_markers"} <= tables
        conn.execute(f"PRAGMA user_version = {len(migrations) + 1}")
        conn.commit()
    finally:
        conn.close()
    st = SqliteStorage(path)
    with pytest.raises(StorageError, match="newer"):
        await st.open()
    await st.close()


def test_split_statements() -> None:
    script = textwrap.dedent("""
        -- a comment; with a semicolon
        CREATE TABLE t (x TEXT DEFAULT 'a;b');
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN
            UPDATE t SET x = 'y;z'; DELETE FROM t WHERE 0;
        END;
        -- trailing comment
    """)
    parts = split_statements(script)
    assert len(parts) == 2
    assert parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")
    with pytest.raises(StorageError, match="incomplete"):
        split_statements("CREATE TABLE u (x)")


async def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "tertulia.db"
    st = SqliteStorage(path)
    await st.open()
    try:
        await st.create_user("ana", "h")  # make sure the WAL has been written to
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for suffix in ("", "-wal", "-shm"):
            file = path.with_name(path.name + suffix)
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        await st.close()

    loose = tmp_path / "loose.db"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    st = SqliteStorage(loose)
    await st.open()
    await st.close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


async def test_close_answers_queued_calls_then_refuses(tmp_path: Path) -> None:
    path = tmp_path / "db"
    st = SqliteStorage(path)
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
    assert not path.with_name("db-wal").exists() or path.with_name("db-wal").stat().st_size == 0

    st = SqliteStorage(path)
    await st.open()
    try:
        assert len(await st.history(ROOM, limit=100)) == 50
    finally:
        await st.close()


def test_result_after_loop_closed_is_dropped(tmp_path: Path) -> None:
    """A caller whose loop closed before its commit must not break the writer thread."""
    path = tmp_path / "db"
    st = SqliteStorage(path)
    main = asyncio.new_event_loop()
    try:
        main.run_until_complete(st.open())
        main.run_until_complete(st.create_room(ROOM, "public", "ana"))
        lock = sqlite3.connect(path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        doomed = asyncio.new_event_loop()
        task = doomed.create_task(st.append(new("orphan")))
        doomed.run_until_complete(asyncio.sleep(0.05))  # queued; the writer waits for the lock
        task.cancel()
        doomed.run_until_complete(asyncio.gather(task, return_exceptions=True))
        doomed.close()
        lock.execute("ROLLBACK")
        lock.close()
        # The orphan still commits; the writer keeps serving (a crash would surface as an
        # unhandled-thread-exception warning, which this suite turns into an error).
        assert main.run_until_complete(st.append(new("next"))).seq == 2
        history = main.run_until_complete(st.history(ROOM))
        assert [m.msg_id for m in history] == ["orphan", "next"]
        main.run_until_complete(st.close())
    finally:
        main.close()


def test_rejects_bad_synchronous(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SqliteStorage(tmp_path / "db", synchronous="FULL; DROP TABLE users")


# --------------------------------------------------------------------------- crash safety

CHILD = """
import asyncio, pathlib, sys
from tertulia.server.storage.base import NewMessage
from tertulia.server.storage.sqlite import SqliteStorage

async def main(path: str, prefix: str) -> None:
    st = SqliteStorage(pathlib.Path(path))
    await st.open()

    async def sender(w: int) -> None:
        i = 0
        while True:
            i += 1
            msg_id = f"{prefix}-{w}-{i}"
            m = await st.append(NewMessage("crash", "ana", msg_id, "x" * 40, "text", 0))
            sys.stdout.write(f"{m.seq} {msg_id}\\n")
            sys.stdout.flush()

    await asyncio.gather(*(sender(w) for w in range(8)))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_acknowledged_messages_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"

    async def setup() -> None:
        st = SqliteStorage(path)
        await st.open()
        await st.create_room("crash", "public", "ana")
        await st.close()

    async def stored() -> list[StoredMessage]:
        st = SqliteStorage(path)
        await st.open()
        try:
            return await st.history("crash", limit=1_000_000)
        finally:
            await st.close()

    asyncio.run(setup())
    acked: dict[int, str] = {}
    for round_ in range(3):
        wanted = len(acked) + 150
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), f"r{round_}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                seq, msg_id = line.split()
                assert int(seq) not in acked
                acked[int(seq)] = msg_id
                if len(acked) >= wanted:
                    break
            proc.send_signal(signal.SIGKILL)  # mid-flight: 8 senders keep appending
            _, err = proc.communicate()
            assert len(acked) >= wanted, f"child stopped early: {err}"
            assert proc.returncode == -signal.SIGKILL

        messages = asyncio.run(stored())
        seqs = [m.seq for m in messages]
        assert seqs == list(range(1, len(seqs) + 1)), "seq has a gap or a repeat"
        by_seq = {m.seq: m.msg_id for m in messages}
        missing = {s: mid for s, mid in acked.items() if by_seq.get(s) != mid}
        assert not missing, f"acknowledged but lost: {sorted(missing)[:10]}"
    print(f"{len(acked)} acked messages survived 3 SIGKILLs; {len(seqs)} stored")
