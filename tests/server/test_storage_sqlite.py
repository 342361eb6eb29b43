"""Tests specific to the SQLite storage: migrations, files, threads, and crash safety.

The Storage contract itself (users, rooms, seq, msg_id, history, markers, group commit) is in
test_storage_contract.py, run against SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tertulia.server.storage.base import (
    NewMessage,
    StorageError,
    StoredMessage,
)
from tertulia.server.storage.sqlite import (
    SqliteStorage,
    load_migrations,
    split_statements,
)

ROOM = "lobby"


def new(msg_id: str, *, room: str = ROOM, sender: str = "ana", text: str = "hi") -> NewMessage:
    return NewMessage(room=room, sender=sender, msg_id=msg_id, text=text, kind="text", ts=1234)


# ------------------------------------------------------------------------- files, lifecycle


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
