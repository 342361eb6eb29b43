"""``tertulia admin backup`` / ``restore`` and ``server check --connect`` against real servers.

A restore must bring back every message and the same certificate (clients keep their pinned
fingerprint), refuse while a server holds the data directory, and keep what it replaces.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tertulia.proto import messages as m
from tertulia_testkit import FAST_PASSWORDS_TOML, SCALE, RawClient, ServerProcess

BOUND = 30 * SCALE
N_MESSAGES = 60


def tertulia(*args: str, env: dict[str, str] | None = None) -> tuple[Any, float]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA__")}
    full.update(env or {})
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tertulia", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=BOUND * 2,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, time.monotonic() - started


async def history(srv: ServerProcess, user: str, room: str) -> list[str]:
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login(user)
    texts: list[str] = []
    before = None
    while True:
        page = await c.request(m.History(id=c.next_id(), room=room, before=before, limit=50))
        texts = [x.text for x in page.messages] + texts
        if not page.more:
            break
        before = page.messages[0].seq
    await c.close()
    return texts


async def test_backup_then_restore_brings_back_every_message_and_the_certificate(
    tmp_path: Path, server_proc_factory: Callable[..., Any]
) -> None:
    srv = server_proc_factory()
    data = str(srv.data_dir)
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("ana", register=True)
    await c.request(m.CreateRoom(id=1, room="lobby"))
    sent = [f"message {i}" for i in range(N_MESSAGES)]
    for i, text in enumerate(sent):
        await c.request(m.Send(id=10 + i, room="lobby", msg_id=f"m{i}", text=text))
    await c.close()
    archive = tmp_path / "nightly.tar.gz"
    out, took = await asyncio.to_thread(
        tertulia, "admin", "--data-dir", data, "backup", "--output", str(archive)
    )
    assert out.returncode == 0 and took < BOUND, out.stderr
    assert out.stdout.strip() == (
        f"backup written to {archive} ({archive.stat().st_size} bytes, mode 0600): the database"
        f" (2 users, 1 rooms, 1 members, {N_MESSAGES} messages; integrity ok) and tls/"
    )
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == [
            "manifest.json",
            "tertulia.db",
            "tls/cert.pem",
            "tls/key.pem",
        ]
    # refused while the server runs: it holds the data directory
    busy, took = await asyncio.to_thread(
        tertulia, "admin", "--data-dir", data, "restore", str(archive)
    )
    assert busy.returncode == 1 and took < BOUND
    assert busy.stderr.strip() == (
        f"tertulia: restore refused: the data directory {data} is in use by a server"
        f" (PID {srv.proc.pid}, started at "
        + re.search(r"started at ([^)]+)\)", busy.stderr).group(1)  # type: ignore[union-attr]
        + "): stop that server first, then try again"
    )
    assert srv.terminate() == 0
    fingerprint = srv.fingerprint
    # disaster: the database and the key are gone
    for name in ("tertulia.db", "tertulia.db-wal", "tertulia.db-shm"):
        (srv.data_dir / name).unlink(missing_ok=True)
    for name in ("cert.pem", "key.pem"):
        (srv.data_dir / "tls" / name).unlink()
    (srv.data_dir / "tls").rmdir()
    done, took = await asyncio.to_thread(
        tertulia, "admin", "--data-dir", data, "restore", str(archive)
    )
    assert done.returncode == 0 and took < BOUND, done.stderr
    assert done.stdout.strip() == (
        f"restored {data}: the database (2 users, 1 rooms, 1 members, {N_MESSAGES} messages)"
        " and tls/"
    )
    srv.start()
    assert srv.fingerprint == fingerprint  # the same certificate: pinned clients still connect
    assert await history(srv, "ana", "lobby") == sent
    assert srv.terminate() == 0


async def test_restore_keeps_what_it_replaces_and_takes_a_bare_database(
    tmp_path: Path, server_proc_factory: Callable[..., Any]
) -> None:
    srv = server_proc_factory()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("ana", register=True)
    await c.request(m.CreateRoom(id=1, room="r"))
    await c.request(m.Send(id=2, room="r", msg_id="a", text="in the backup"))
    await c.close()
    assert srv.terminate() == 0
    copy = tmp_path / "copy.db"  # a bare database, like the automatic pre-migration copies
    src = sqlite3.connect(srv.data_dir / "tertulia.db")
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    srv.start()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("ana")
    await c.request(m.Send(id=3, room="r", msg_id="b", text="after the backup"))
    await c.close()
    srv.kill()  # no clean shutdown: the WAL holds the newest message
    data = str(srv.data_dir)
    done, took = await asyncio.to_thread(
        tertulia, "admin", "--data-dir", data, "restore", str(copy)
    )
    assert done.returncode == 0 and took < BOUND, done.stderr
    line = done.stdout.strip()
    assert line.startswith(f"restored {data}: the database (2 users, 1 rooms, 1 members,")
    assert "(the backup has no tls/: the certificate is unchanged)" in line
    kept = sorted(srv.data_dir.glob("tertulia.db.pre-restore-*"))
    assert kept and all(str(p) in line for p in kept)
    # the replaced database, with its WAL, still holds the message the backup lacks
    old = next(p for p in kept if not p.name.endswith(("-wal", "-shm")))
    conn = sqlite3.connect(old)
    try:
        texts = [r[0] for r in conn.execute("SELECT text FROM messages ORDER BY seq")]
    finally:
        conn.close()
    assert texts == ["in the backup", "after the backup"]
    srv.start()
    assert await history(srv, "ana", "r") == ["in the backup"]
    assert srv.terminate() == 0


def test_restore_of_something_else_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    (data / "tertulia.db").write_bytes(b"precious bytes")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup\n")
    out, took = tertulia("admin", "--data-dir", str(data), "restore", str(junk))
    assert out.returncode == 1 and took < BOUND
    assert out.stderr.strip() == (
        f"tertulia: restore refused: {junk} is neither a Tertulia backup archive nor an SQLite"
        " database: give a file that 'tertulia admin backup' wrote"
    )
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(junk, arcname="../../escape.txt")
    out, _ = tertulia("admin", "--data-dir", str(data), "restore", str(evil))
    assert out.returncode == 1
    assert "is not a Tertulia backup (unexpected entry '../../escape.txt')" in out.stderr
    assert not (tmp_path / "escape.txt").exists()
    assert (data / "tertulia.db").read_bytes() == b"precious bytes"
    assert sorted(p.name for p in data.iterdir()) == ["tertulia.db", "tertulia.lock"]


def test_check_connect_reaches_store_bus_and_ports(tmp_path: Path) -> None:
    conf = tmp_path / "t.toml"
    conf.write_text(FAST_PASSWORDS_TOML + "[http]\nport = 0\n")
    data = tmp_path / "d"
    env = {
        "TERTULIA__STORE__URL": "postgresql://tertulia:hunter2@127.0.0.1:1/chat",
        "TERTULIA__BUS__URL": "redis://:hunter3@127.0.0.1:1/0",
    }
    args = ("server", "check", "--connect", "--config", str(conf), "--data-dir", str(data))
    bad, took = tertulia(*args, "--port", "0", "--timeout", "3", env=env)
    assert bad.returncode == 1 and took < BOUND
    err = bad.stderr
    assert "hunter2" not in err + bad.stdout and "hunter3" not in err + bad.stdout
    assert re.search(
        r"^FAIL  store postgresql://tertulia:\*\*\*@127\.0\.0\.1:1/chat: cannot connect: ",
        err,
        re.M,
    ), err
    assert re.search(r"^FAIL  bus redis://:\*\*\*@127\.0\.0\.1:1/0: cannot connect: ", err, re.M)
    assert re.search(rf"^ok    data directory {data}: does not exist yet", err, re.M)
    assert err.strip().endswith("tertulia: 2 check(s) failed")
    assert not data.exists()  # a check creates nothing
    # without --connect the same configuration only validates
    plain, _ = tertulia("server", "check", "--config", str(conf), env=env)
    assert plain.returncode == 0 and "add --connect" in plain.stderr


def test_check_connect_passes_on_a_usable_setup_and_sees_a_busy_port(tmp_path: Path) -> None:
    import socket

    conf = tmp_path / "t.toml"
    # any free metrics port: the fixed default (7480) may be taken on this machine
    conf.write_text(FAST_PASSWORDS_TOML + "[http]\nport = 0\n")
    data = tmp_path / "d"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out, took = tertulia(
            "server",
            "check",
            "--connect",
            "--config",
            str(conf),
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--timeout",
            "3",
        )
    assert out.returncode == 1 and took < BOUND
    assert (
        f"FAIL  chat port 127.0.0.1:{port}: cannot be bound (Address already in use): choose"
        " another with --port ([server] port)" in out.stderr
    )
    assert out.stderr.strip().endswith("tertulia: 1 check(s) failed")
    # the machine's PostgreSQL and Redis (as the cluster tests use them)
    pg = os.environ.get("TERTULIA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    redis = os.environ.get("TERTULIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    for host_port in (("127.0.0.1", 5432), ("127.0.0.1", 6379)):
        try:
            socket.create_connection(host_port, timeout=2).close()
        except OSError as exc:  # as tests/server/storage_backends.require_service does
            if os.environ.get("CI"):
                pytest.fail(f"{host_port} is unreachable: {exc} (CI is set)")
            pytest.skip(f"{host_port} is unreachable: {exc}")
    env = {"TERTULIA__STORE__URL": pg, "TERTULIA__BUS__URL": redis}
    good, took = tertulia(
        "server",
        "check",
        "--connect",
        "--config",
        str(conf),
        "--data-dir",
        str(data),
        "--port",
        "0",
        "--timeout",
        "5",
        env=env,
    )
    assert good.returncode == 0 and took < BOUND, good.stderr
    assert re.search(r"^ok    store postgresql://\S+: answers \(PostgreSQL ", good.stderr, re.M)
    assert re.search(r"^ok    bus redis://\S+: answers PING$", good.stderr, re.M)
    assert good.stderr.strip().endswith("# configuration OK; every check passed")
