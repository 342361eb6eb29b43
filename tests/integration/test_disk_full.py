"""A full disk, for real (issue 12, item 10): a server whose data directory is on a small tmpfs
that the test fills until ``write`` fails with ``ENOSPC`` (tests/integration/disk_kit.py).

What must hold: writes (send, register, password login) answer ``storage_full`` with a
``retry_after`` instead of ``internal``; the log says so in one line (not one per refusal); a
metric counts the refusals; reads (history, sync) and ``resume`` go on; the client library keeps
refused messages in its outbox and sends them again when space returns; a restart on the full
disk starts (or, with a migration pending, refuses in one line without a traceback); and no
acknowledged message is lost or stored twice.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from disk_kit import SmallDisk

from tertulia.client import Client, EntryState, TrustPolicy
from tertulia.proto import messages as m
from tertulia_testkit import PASSWORD, SCALE, RawClient, ServerProcess

pytestmark = pytest.mark.timeout(240)

TEXT = "x" * 3000  # big messages fill the WAL quickly


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    d = SmallDisk(tmp_path, "6m")
    d.start()
    yield d
    d.stop()


def metric(srv: ServerProcess, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.http_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    mo = re.search(rf"^{name} (\S+)$", text, re.M)
    assert mo is not None, f"no {name} in /metrics"
    return float(mo.group(1))


async def raw(srv: ServerProcess, user: str, *, register: bool = False) -> RawClient:
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login(user, register=register)
    return c


async def stored(c: RawClient, room: str) -> list[m.Message]:
    """Every message of ``room``, read page by page."""
    out: list[m.Message] = []
    while True:
        after = out[-1].seq if out else 0
        page = await c.request(m.History(id=c.next_id(), room=room, after=after, limit=100))
        out.extend(page.messages)
        if not page.more or not page.messages:
            return out


async def send_until_full(c: RawClient, room: str, bound: int = 4000) -> tuple[list[str], m.Error]:
    """Send until the server refuses for a full disk; the acked msg_ids and the refusal."""
    acked: list[str] = []
    for i in range(bound):
        reply = await c.request(
            m.Send(id=c.next_id(), room=room, msg_id=f"fill-{i}", text=TEXT), check=False
        )
        if isinstance(reply, m.Error):
            return acked, reply
        acked.append(reply.msg_id)
    raise AssertionError(f"{bound} sends of {len(TEXT)} bytes and the disk is still not full")


async def login_token(srv: ServerProcess, user: str) -> str:
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    ok = await c.request(m.Login(id=c.next_id(), user=user, password=PASSWORD))
    await c.close()
    assert ok.token
    return str(ok.token)


async def resume(srv: ServerProcess, token: str) -> RawClient:
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    await c.request(m.Resume(id=c.next_id(), token=token))
    return c


async def raw_resume_or_refused(srv: ServerProcess) -> RawClient:
    """A password login on the full disk: refused with storage_full (it would store a token)."""
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    reply = await c.request(m.Login(id=c.next_id(), user="writer", password=PASSWORD), check=False)
    assert isinstance(reply, m.Error) and reply.code == "storage_full", reply
    return c


def lines(srv: ServerProcess, pattern: str) -> list[str]:
    return [ln for ln in srv.stderr_path.read_text().splitlines() if re.search(pattern, ln)]


async def test_disk_full_refuses_writes_keeps_reads_and_loses_nothing(
    disk: SmallDisk, tmp_path: Path
) -> None:
    srv = disk.server()
    srv.start()
    try:
        reader = await raw(srv, "reader", register=True)
        token = await login_token(srv, "reader")  # resume needs no write: it works when full
        writer = await raw(srv, "writer", register=True)
        await reader.request(m.CreateRoom(id=reader.next_id(), room="general"))
        await writer.request(m.Join(id=writer.next_id(), room="general"))
        alice = Client(
            srv.host,
            srv.port,
            "alice",
            PASSWORD,
            trust=TrustPolicy(fingerprint=srv.fingerprint),
            outbox_path=tmp_path / "alice-outbox.jsonl",
            rooms=["general"],
        )
        await alice.register()
        await asyncio.wait_for(alice.start(), 15 * SCALE)
        before = [await alice.send("general", f"before {i}") for i in range(5)]
        for e in before:
            await asyncio.wait_for(e.acked(), 10 * SCALE)

        filled = disk.fill()
        acked, refusal = await send_until_full(writer, "general")
        print(f"filler {filled} bytes; {len(acked)} more sends acked until the disk was full")
        assert refusal.code == "storage_full", refusal
        assert refusal.params.get("retry_after", 0) > 0

        # the client library keeps what the server refused, and tries again later
        during = [await alice.send("general", f"during {i}") for i in range(5)]
        # other writes: registration and a password login (it stores a resume token)
        newbie = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
        await newbie.hello()
        reg = await newbie.request(
            m.Register(id=newbie.next_id(), user="newbie", password=PASSWORD), check=False
        )
        assert isinstance(reg, m.Error) and reg.code == "storage_full", reg
        login = await newbie.request(
            m.Login(id=newbie.next_id(), user="reader", password=PASSWORD), check=False
        )
        assert isinstance(login, m.Error) and login.code == "storage_full", login
        await newbie.close()

        # reads keep serving: history and sync
        got = await stored(reader, "general")
        assert [x.msg_id for x in got if x.sender == "writer"] == acked
        synced = await reader.request(m.Sync(id=reader.next_id(), cursors={"general": 0}))
        assert isinstance(synced, m.Synced) and synced.cursors["general"] == got[-1].seq

        deadline = asyncio.get_running_loop().time() + 20 * SCALE
        while metric(srv, "tertulia_storage_full_refusals_total") < 4:  # writer, reg, login, alice
            assert asyncio.get_running_loop().time() < deadline, "alice's sends never refused"
            await asyncio.sleep(0.2)
        assert metric(srv, "tertulia_storage_full") == 1
        assert all(e.state is not EntryState.FAILED for e in during), [e.error for e in during]
        # one log line for many refusals, no traceback, no "internal"
        assert len(lines(srv, "disk full: the store refused a write")) == 1
        assert not lines(srv, "Traceback|internal")

        # a restart on the full disk starts, says what it means, and serves reads
        await reader.close()
        await writer.close()
        srv.terminate()
        srv.start()
        assert lines(srv, r"WARNING.*is full .*starting read-only"), srv.stderr_path.read_text()
        reader = await resume(srv, token)
        assert await stored(reader, "general") == got
        writer = await raw_resume_or_refused(srv)
        await writer.close()

        # space comes back: the outbox drains, nothing acked is missing, nothing is doubled
        disk.free()
        for e in during:
            await asyncio.wait_for(e.acked(), 30 * SCALE)
        assert metric(srv, "tertulia_storage_full") == 0
        assert lines(srv, "disk no longer full: writes succeed again")
        final = await stored(reader, "general")
        ids = [x.msg_id for x in final]
        assert len(ids) == len(set(ids)), "a message was stored twice"
        want = set(acked) | {e.msg_id for e in before + during}
        assert want <= set(ids), f"acked but missing: {sorted(want - set(ids))}"
        assert f"fill-{len(acked)}" not in ids  # the refused send left nothing behind
        assert [x.seq for x in final] == list(range(1, len(final) + 1))
        await reader.close()
        await alice.close()
    except BaseException:
        print(srv.stderr_path.read_text()[-3000:])
        raise
    finally:
        srv.stop()


def start_once(disk: SmallDisk, srv: ServerProcess) -> subprocess.CompletedProcess[str]:
    """``tertulia server`` in the namespace, to its exit (it must not start here)."""
    cmd = [*disk.prefix, sys.executable, "-m", "tertulia", "server", "--port", "0",
           "--data-dir", str(srv.data_dir), "--config", str(srv.config_path)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60 * SCALE, check=False)


def user_version(db: Path, set_to: int | None = None) -> int:
    conn = sqlite3.connect(db)
    try:
        if set_to is not None:
            conn.execute(f"PRAGMA user_version = {int(set_to)}")
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_restart_on_full_disk_with_a_migration_pending_refuses_in_one_line(
    disk: SmallDisk,
) -> None:
    """The backup taken before a migration cannot be written: say so in one line and stop,
    with the database untouched (no half-written copy, no half-applied migration)."""
    srv = disk.server()
    srv.start()
    srv.terminate()
    db = disk.view(srv.data_dir / "tertulia.db")
    latest = user_version(db)
    user_version(db, latest - 1)  # as after an upgrade that brings a migration
    disk.fill()
    disk.fill_inodes()  # a full ext4 also refuses the backup folder's mkdir
    done = start_once(disk, srv)
    print(done.stderr)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    said = [ln for ln in done.stderr.splitlines() if ln.startswith("tertulia: ")]
    assert len(said) == 1, done.stderr
    assert "back up before a pending schema migration" in said[0]
    assert "is full" in said[0] and "free some space" in said[0]
    assert user_version(db) == latest - 1
    assert not list(disk.view(srv.data_dir).glob("backups/tertulia-*.db"))
    # space back: the backup is taken, the server starts
    disk.free()
    user_version(db, latest)  # (the test's fake migration is not a real one)
    srv.start()
    srv.stop()
