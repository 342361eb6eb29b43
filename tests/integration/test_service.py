"""``tertulia server`` starts, refuses and reports like a well-kept service (real processes).

Every start-up failure here is one line on stderr that names the file, path or address and the
fix, with its exit code, within a time bound, and without a traceback; where something could be
lost (a corrupt database, a running server's data directory), it is checked that nothing was.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tertulia.proto import messages as m
from tertulia_testkit import FAST_PASSWORDS_TOML, SCALE, RawClient

SERVER = (sys.executable, "-m", "tertulia", "server", "--port", "0")
JSON_WARNING = ("--log-format", "json", "--log-level", "WARNING")
#: generous: each of these should take about a second
BOUND = 30 * SCALE


def run_tertulia(
    *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``tertulia ARGS`` with no TERTULIA__ variables but ``env``; (result, seconds taken)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA__")}
    full.update(env or {})
    started = time.monotonic()
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "tertulia", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=BOUND * 2,
        stdin=subprocess.DEVNULL,
    )
    return proc, time.monotonic() - started


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single line of stderr (asserting there is exactly one, and no traceback)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the lock


async def test_second_server_on_the_same_data_dir_is_refused(
    server_proc_factory: Callable[..., Any],
) -> None:
    srv = server_proc_factory()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("alice", register=True)
    await c.request(m.CreateRoom(id=1, room="r"))
    await c.request(m.Send(id=2, room="r", msg_id="m1", text="before the second server"))
    data = str(srv.data_dir)
    cmd = ("server", "--data-dir", data, "--config", str(srv.config_path), "--port", "0")
    second, took = run_tertulia(*cmd)
    assert second.returncode == 1 and took < BOUND
    line = one_line(second)
    assert line.startswith(f"tertulia: the data directory {data} is in use by another server")
    assert f"PID {srv.proc.pid}" in line and re.search(r"started at \d{4}-\d\d-\d\d \d\d:", line)
    assert "stop it first, or give this one its own --data-dir" in line
    # the first server is untouched: its admin socket answers, it still takes messages
    sessions, _ = run_tertulia("admin", "--data-dir", data, "sessions", "--json")
    assert sessions.returncode == 0, sessions.stderr
    assert [u["user"] for u in json.loads(sessions.stdout)["users"]] == ["alice"]
    await c.request(m.Send(id=3, room="r", msg_id="m2", text="after"))
    page = await c.request(m.History(id=4, room="r"))
    assert [x.text for x in page.messages] == ["before the second server", "after"]
    await c.close()
    # SIGKILL: the kernel drops the lock, so the next start succeeds at once
    srv.kill()
    started = time.monotonic()
    srv.start()
    assert time.monotonic() - started < BOUND
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("alice")
    page = await c.request(m.History(id=1, room="r"))
    assert [x.text for x in page.messages] == ["before the second server", "after"]
    await c.close()
    assert srv.terminate() == 0


# --------------------------------------------------------------------------- configuration


def _toml(path: Path, text: str | bytes) -> Path:
    data = text if isinstance(text, bytes) else text.encode()
    path.write_bytes(FAST_PASSWORDS_TOML.encode() + data)
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '[server]\nport = "abc"\n',
            '[server] port must be a whole number, not the string "abc" (for example: port = 7443)',
        ),
        (
            '[limits]\nmax_text = "4000"\n',
            '[limits] max_text must be a whole number, not the string "4000"'
            " (for example: max_text = 4000)",
        ),
        (
            "[http]\nenabled = 1\n",
            "[http] enabled must be true or false, not the number 1 (for example: enabled = true)",
        ),
        (
            '[log]\nlevel = "verbose"\n',
            '[log] level must be one of "DEBUG", "INFO", "WARNING", "ERROR", not the string',
        ),
        (
            b'[server]\nregistration = "clos\xe9d"\n',
            # the bad byte is on the second line after the FAST_PASSWORDS_TOML prefix
            f"is not UTF-8 text (byte 0xe9 on line {FAST_PASSWORDS_TOML.count(chr(10)) + 2}):"
            " save it as UTF-8",
        ),
    ],
    ids=["port-string", "max_text-string", "bool-number", "literal", "not-utf8"],
)
def test_config_errors_are_one_line_naming_the_file_and_the_fix(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    conf = _toml(tmp_path / "t.toml", content)
    data = tmp_path / "d"
    for action in ("run", "check"):
        proc, took = run_tertulia("server", action, "--config", str(conf), "--data-dir", str(data))
        assert proc.returncode == 2 and took < BOUND
        line = one_line(proc)
        assert line.startswith(f"tertulia: configuration error: config file {conf}"), line
        assert expected in line
    assert not data.exists()  # nothing was started or created


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TERTULIA__SERVER__PORT": "abc"}, "TERTULIA__SERVER__PORT must be a whole number"),
        ({"TERTULIA__LIMITS__MAX_TEXT": "4000 chars"}, "TERTULIA__LIMITS__MAX_TEXT must be a"),
        ({"TERTULIA__HTTP__ENABLED": "maybe"}, "must be true or false, not 'maybe'"),
        ({"TERTULIA__LIMITS__EXEMPT_NETWORKS": "[1, 2]"}, "must be a list of quoted strings"),
        ({"TERTULIA__SERVER__PORT": "70000"}, "port must be 0..65535, not 70000"),
    ],
    ids=["int", "int-words", "bool", "list", "range"],
)
def test_environment_overrides_with_wrong_types(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    data = tmp_path / "d"
    proc, took = run_tertulia("server", "--data-dir", str(data), env=env)
    assert proc.returncode == 2 and took < BOUND
    line = one_line(proc)
    assert line.startswith("tertulia: configuration error: ") and expected in line
    assert not data.exists()


# --------------------------------------------------------------------------- the data directory


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "notadir"
    target.write_text("precious\n")
    proc, took = run_tertulia("server", "--data-dir", str(target), "--port", "0")
    assert proc.returncode == 1 and took < BOUND
    assert one_line(proc) == (
        f"tertulia: the data directory {target} exists but is not a directory:"
        " point --data-dir (or [server] data_dir) at a directory"
    )
    assert target.read_text() == "precious\n"


def test_corrupt_database(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    garbage = b"this is not SQLite\n" * 500
    (data / "tertulia.db").write_bytes(garbage)
    conf = _toml(tmp_path / "t.toml", "[http]\nport = 0\n")
    proc, took = run_tertulia(
        "server", "--data-dir", str(data), "--port", "0", "--config", str(conf)
    )
    assert proc.returncode == 1 and took < BOUND
    line = one_line(proc)
    assert line.startswith(
        f"tertulia: the database {data / 'tertulia.db'} is not a usable SQLite database"
        " (file is not a database): restore a backup with 'tertulia admin restore BACKUP'"
    ), line
    assert "or move the file away to start with an empty database" in line
    assert (data / "tertulia.db").read_bytes() == garbage  # left as it was
    assert not (data / "admin.sock").exists()


#: root bypasses file modes; without these two capabilities it is held to them like anyone
_NO_OVERRIDE = ("--bounding-set=-dac_override,-dac_read_search",)


def test_unwritable_data_dir_names_the_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is not installed")
        prefix = (setpriv, *_NO_OVERRIDE, "--")
    proc, took = run_tertulia("server", "--data-dir", str(data), "--port", "0", prefix=prefix)
    assert proc.returncode == 1 and took < BOUND
    line = one_line(proc)
    assert line.startswith(f"tertulia: the data directory {data} is not writable by "), line
    assert "(Permission denied)" in line
    assert "make it writable for that user (chown/chmod), or choose another with --data-dir" in line
    assert "cannot listen" not in line
    assert list(data.iterdir()) == []


# --------------------------------------------------------------------------- ports


def test_chat_port_in_use_names_the_address_and_the_option(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        conf = _toml(tmp_path / "t.toml", "[http]\nport = 0\n")
        proc, took = run_tertulia(
            "server", "--data-dir", str(tmp_path / "d"), "--port", str(port), "--config", str(conf)
        )
    assert proc.returncode == 1 and took < BOUND
    assert one_line(proc) == (
        f"tertulia: cannot listen on 127.0.0.1:{port}: the port is already in use (another"
        " server on this machine?): choose another port with --port ([server] port;"
        " 0 = any free port)"
    )


def test_metrics_port_in_use_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        conf = _toml(tmp_path / "t.toml", f"[http]\nport = {port}\n")
        proc, took = run_tertulia(
            "server", "--data-dir", str(tmp_path / "d"), "--port", "0", "--config", str(conf)
        )
    assert proc.returncode == 1 and took < BOUND
    assert one_line(proc) == (
        f"tertulia: cannot listen on 127.0.0.1:{port} for health and metrics: the port is"
        " already in use (another server on this machine?): set [http] port"
        " (TERTULIA__HTTP__PORT) to a free port, 0 for any free port, or [http] enabled = false"
    )
    # the environment variable the message names does what it says
    env = {"TERTULIA__HTTP__PORT": "0"}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        ok, _ = run_tertulia(
            "server", "check", "--config", str(conf), "--data-dir", str(tmp_path / "d"), env=env
        )
    assert ok.returncode == 0 and "port = 0" in ok.stdout


# --------------------------------------------------------------------------- the banner


def _start_json(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, Path]:
    data = tmp_path / "d"
    conf = _toml(tmp_path / "t.toml", "[http]\nport = 0\n")
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*SERVER, "--data-dir", str(data), "--config", str(conf), *JSON_WARNING],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    deadline = time.monotonic() + BOUND
    while "Fingerprint: " not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no banner"
        time.sleep(0.05)
    return proc, data, log


async def test_banner_is_logged_and_the_password_goes_to_a_0600_file(tmp_path: Path) -> None:
    proc, data, log = _start_json(tmp_path)
    try:
        secret = data / "initial-admin-password"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        password = secret.read_text().strip()
        assert len(password) >= 20
        text = log.read_text()
        records = [json.loads(line) for line in text.splitlines()]  # every line is JSON
        by_msg = {r["msg"].split(":")[0]: r for r in records}
        listening = next(r for r in records if "listening on" in r["msg"])
        port = int(listening["msg"].rsplit(":", 1)[1])
        assert listening["logger"] == "tertulia.server.start" and listening["level"] == "INFO"
        assert "Health and metrics" in by_msg and "Fingerprint" in by_msg
        note = next(r for r in records if "initial admin password written to" in r["msg"])
        assert str(secret) in note["msg"] and "mode 0600" in note["msg"]
        assert password not in text  # never in the log
        c = await RawClient.connect("127.0.0.1", port)
        await c.hello()
        ok = await c.request(m.Login(id=1, user="admin", password=password))
        assert ok.admin is True
        await c.close()
    finally:
        proc.terminate()
        proc.wait(BOUND)
    assert proc.returncode == 0
    assert any(json.loads(ln)["msg"] == "Server stopped." for ln in log.read_text().splitlines())


def test_initial_password_on_a_terminal_is_shown_there_only(tmp_path: Path) -> None:
    data = tmp_path / "d"
    conf = _toml(tmp_path / "t.toml", "[http]\nport = 0\n")
    err = tmp_path / "stderr.log"
    master, slave = pty.openpty()
    with err.open("w") as err_file:
        proc = subprocess.Popen(
            [*SERVER, "--data-dir", str(data), "--config", str(conf)],
            stdout=slave,
            stderr=err_file,
            stdin=subprocess.DEVNULL,
        )
    os.close(slave)
    shown = b""
    try:
        deadline = time.monotonic() + BOUND
        while b"Initial admin password (shown once): " not in shown or not shown.endswith(b"\n"):
            assert time.monotonic() < deadline, shown
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                shown += os.read(master, 4096)
        password = re.search(rb"shown once\): (\S+)", shown)
        assert password is not None
        deadline = time.monotonic() + BOUND
        while "Fingerprint:" not in err.read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(BOUND)
        os.close(master)
    assert proc.returncode == 0
    log = err.read_text()
    assert password.group(1).decode() not in log
    assert "its password was shown on the terminal (not in this log)" in log
    assert not (data / "initial-admin-password").exists()


async def test_start_banner_survives_log_level_warning(
    server_proc_factory: Callable[..., Any],
) -> None:
    # ServerProcess runs with --log-level WARNING and finds its port and fingerprint in the
    # log: the banner is logged whatever the level
    srv = server_proc_factory()
    assert srv.port and srv.fingerprint.startswith("SHA256:") and srv.http_port
    log = srv.stderr_path.read_text()
    assert "INFO tertulia.server.start: Tertulia server listening on 127.0.0.1:" in log
    assert "INFO tertulia.auth" not in log  # other INFO records stay filtered
    assert srv.admin_password and srv.admin_password not in log
    await asyncio.sleep(0)
    assert srv.terminate() == 0


def test_unreadable_database_is_not_called_corrupt(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    db = data / "tertulia.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    db.chmod(0)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is not installed")
        prefix = (setpriv, *_NO_OVERRIDE, "--")
    proc, took = run_tertulia("server", "--data-dir", str(data), "--port", "0", prefix=prefix)
    assert proc.returncode == 1 and took < BOUND
    line = one_line(proc)
    assert line.startswith(f"tertulia: cannot open the database {db} (")
    assert line.endswith("check that the user the server runs as can read and write it")
    assert "not a usable SQLite database" not in line
    db.chmod(0o600)
    assert db.read_bytes() == before
