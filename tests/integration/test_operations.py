"""Operations on a single node, as an operator meets them: real processes, real HTTP, signals.

Health and metrics over a real HTTP GET, the first-run admin password, SIGHUP reloading the
configuration, ``tertulia server check``, JSON logs, ``tertulia admin backup`` and the
automatic backup before a schema migration.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tertulia.proto import messages as m
from tertulia.server.config import ServerConfig
from tertulia.server.storage.sqlite import apply_migrations, load_migrations
from tertulia_testkit import FAST_PASSWORDS_TOML, SCALE, RawClient, ServerError


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def tertulia(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA__")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tertulia", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def test_health_ready_and_metrics(server_proc_factory: Callable[..., Any]) -> None:
    srv = server_proc_factory()
    assert srv.http_port
    assert await asyncio.to_thread(http_get, srv.http_port, "/healthz") == (200, "ok\n")
    assert await asyncio.to_thread(http_get, srv.http_port, "/readyz") == (200, "ready\n")
    assert (await asyncio.to_thread(http_get, srv.http_port, "/nope"))[0] == 404
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("alice", register=True)
    await c.request(m.CreateRoom(id=1, room="r"))
    for i in range(3):
        await c.request(m.Send(id=10 + i, room="r", msg_id=f"m{i}", text="hi"))
    status, text = await asyncio.to_thread(http_get, srv.http_port, "/metrics")
    assert status == 200
    assert metric(text, "tertulia_messages_total") == 3
    assert metric(text, "tertulia_connections") == 1
    assert metric(text, "tertulia_append_seconds_count") == 3
    assert metric(text, "tertulia_slow_consumer_drops_total") == 0
    assert metric(text, "tertulia_storage_commits_total") >= 3
    assert "# TYPE tertulia_append_seconds histogram" in text
    # the standard process metrics and the build info, as Prometheus's client libraries give
    from tertulia import __version__

    assert metric(text, "process_resident_memory_bytes") > 1_000_000
    assert metric(text, "process_cpu_seconds_total") > 0
    assert 5 < metric(text, "process_open_fds") < metric(text, "process_max_fds")
    assert abs(metric(text, "process_start_time_seconds") - time.time()) < 600 * SCALE
    assert metric(text, "process_virtual_memory_bytes") > metric(
        text, "process_resident_memory_bytes"
    )
    build = [ln for ln in text.splitlines() if ln.startswith("tertulia_build_info{")]
    assert len(build) == 1 and build[0].endswith(" 1")
    assert f'version="{__version__}"' in build[0]
    assert f'python="{platform.python_version()}"' in build[0]
    assert "# TYPE process_cpu_seconds_total counter" in text
    await c.close()
    assert srv.terminate() == 0


async def test_first_start_prints_an_admin_password_once(
    server_proc_factory: Callable[..., Any],
) -> None:
    srv = server_proc_factory()
    assert srv.admin_password
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    ok = await c.request(m.Login(id=1, user="admin", password=srv.admin_password))
    assert ok.admin is True
    await c.close()
    assert srv.terminate() == 0
    db = sqlite3.connect(srv.data_dir / "tertulia.db")
    try:
        (stored,) = db.execute("SELECT password_hash FROM users WHERE name = 'admin'").fetchone()
    finally:
        db.close()
    assert stored.startswith("$argon2id$") and srv.admin_password not in stored
    first = srv.admin_password
    srv.admin_password = None
    srv.start()
    assert srv.admin_password is None  # printed on the first start only
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    assert (await c.request(m.Login(id=1, user="admin", password=first))).admin is True
    await c.close()
    assert srv.terminate() == 0


async def test_sighup_reloads_the_configuration(server_proc_factory: Callable[..., Any]) -> None:
    srv = server_proc_factory()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    await c.request(m.Register(id=1, user="early", password="early password"))
    await c.close()
    text = srv.config_path.read_text()
    srv.config_path.write_text(text + '\n[server]\nregistration = "closed"\n')
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10 * SCALE
    while True:
        c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
        await c.hello()
        try:
            await c.request(m.Register(id=2, user=f"late{time.monotonic_ns()}", password="x" * 12))
        except ServerError as exc:
            assert exc.code == "registration_closed"
            break
        finally:
            await c.close()
        assert time.monotonic() < deadline, "SIGHUP did not close registration"
        await asyncio.sleep(0.2)
    assert srv.terminate() == 0


def test_server_check_prints_the_effective_config_with_secrets_masked(tmp_path: Path) -> None:
    conf = tmp_path / "t.toml"
    conf.write_text(FAST_PASSWORDS_TOML + "[bus]\npresence_ttl = 9.0\n")
    secret = tmp_path / "url"
    secret.write_text("postgresql://tertulia:hunter2@127.0.0.1:5432/chat\n")
    env = {
        "TERTULIA__STORE__URL__FILE": str(secret),
        "TERTULIA__BUS__URL": "redis://:hunter3@127.0.0.1:6379/0",
    }
    out = tertulia("server", "check", "--config", str(conf), "--port", "7999", env=env)
    assert out.returncode == 0, out.stderr
    assert "hunter2" not in out.stdout + out.stderr and "hunter3" not in out.stdout
    assert 'url = "postgresql://tertulia:***@127.0.0.1:5432/chat"' in out.stdout
    assert "presence_ttl = 9.0" in out.stdout and "port = 7999" in out.stdout
    assert "time_cost = 1" in out.stdout
    bad = tertulia("server", "check", env={"TERTULIA__HTTP__PROT": "1"})
    assert bad.returncode == 2 and "PROT" in bad.stderr
    assert not (tmp_path / "data").exists()  # check starts nothing, creates nothing


def test_json_logs_and_backups(tmp_path: Path) -> None:
    data = tmp_path / "d"
    conf = tmp_path / "t.toml"
    conf.write_text(FAST_PASSWORDS_TOML + "[http]\nenabled = false\n")
    cmd = [sys.executable, "-m", "tertulia", "server", "--port", "0", "--data-dir", str(data)]
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*cmd, "--config", str(conf), "--log-format", "json"],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30 * SCALE
        while "Fingerprint:" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        out = tertulia(
            "admin", "backup", "--data-dir", str(data), "--output", str(tmp_path / "b.tar.gz")
        )
        assert out.returncode == 0, out.stderr
        assert "integrity ok" in out.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    err = log.read_text()
    records = [json.loads(line) for line in err.splitlines()]  # every line is JSON
    assert any(r["msg"].startswith("created the initial admin") for r in records), err
    assert all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
    import tarfile

    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        tar.extract("tertulia.db", tmp_path / "x", filter="data")
    copy = sqlite3.connect(tmp_path / "x" / "tertulia.db")
    try:
        assert copy.execute("SELECT name FROM users").fetchall() == [("admin",)]
    finally:
        copy.close()


def test_backup_before_a_pending_migration(tmp_path: Path) -> None:
    from tertulia.server.app import open_storage

    data = tmp_path / "d"
    data.mkdir()
    db = sqlite3.connect(data / "tertulia.db", isolation_level=None)
    apply_migrations(db, load_migrations()[:1])  # a database written by an older release
    db.execute("INSERT INTO users (name, password_hash, created_at) VALUES ('ana', 'h', 1)")
    db.close()
    cfg = ServerConfig(data_dir=data)
    cfg.store.backups_keep = 2
    for _ in range(3):
        open_storage(cfg)  # not opened: the pending migration is still pending
    backups = sorted((data / "backups").glob("tertulia-*-v1.db"))
    assert len(backups) == 2  # only the newest two are kept
    copy = sqlite3.connect(backups[-1])
    try:
        assert copy.execute("SELECT name FROM users").fetchall() == [("ana",)]
        assert copy.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        copy.close()
    latest = ServerConfig(data_dir=tmp_path / "fresh")
    open_storage(latest)
    assert not (tmp_path / "fresh" / "backups").exists()  # nothing to protect yet
