"""``tertulia admin`` and ``tertulia server`` as an operator uses them (real subprocesses)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tertulia.proto import messages as m
from tertulia_testkit import FAST_PASSWORDS_TOML, RawClient


def tertulia(
    *args: str, password: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("TERTULIA_PASSWORD", None)
    if password is not None:
        env["TERTULIA_PASSWORD"] = password
    proc = subprocess.run(
        [sys.executable, "-m", "tertulia", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tertulia {args} failed ({proc.returncode}): {proc.stderr}")
    return proc


async def test_admin_users_and_fingerprint(
    tmp_path: Path, server_proc_factory: Callable[..., Any]
) -> None:
    srv = server_proc_factory("srv", extra_toml='[server]\nregistration = "closed"\n')
    data, cfg = str(srv.data_dir), str(srv.config_path)
    assert stat.S_IMODE(os.stat(srv.data_dir / "tls" / "key.pem").st_mode) == 0o600
    out = tertulia("admin", "--data-dir", data, "fingerprint").stdout.strip()
    assert out == srv.fingerprint and out.startswith("SHA256:")
    tertulia(
        "admin",
        "--data-dir",
        data,
        "--config",
        cfg,
        "user",
        "add",
        "Root",
        "--admin",
        password="first password",
    )
    tertulia(
        "admin", "--data-dir", data, "--config", cfg, "user", "add", "bob", password="bob password"
    )
    dup = tertulia(
        "admin",
        "--data-dir",
        data,
        "--config",
        cfg,
        "user",
        "add",
        "bob",
        password="bob password",
        check=False,
    )
    assert dup.returncode == 1 and "already exists" in dup.stderr
    nopw = tertulia("admin", "--data-dir", data, "user", "add", "carol", check=False)
    assert nopw.returncode == 1 and "TERTULIA_PASSWORD" in nopw.stderr
    listing = tertulia("admin", "--data-dir", data, "user", "list").stdout
    # "admin" is the account the first start created (its password was printed once)
    assert [line.split("\t")[0] for line in listing.splitlines()] == ["admin", "bob", "root"]
    assert srv.admin_password is not None
    assert "admin" in listing.splitlines()[0].split("\t")[2]
    assert "admin" in listing.splitlines()[2].split("\t")[2]
    tertulia(
        "admin",
        "--data-dir",
        data,
        "--config",
        cfg,
        "user",
        "passwd",
        "bob",
        password="new bob password",
    )
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    reply = await c.request(m.Login(id=1, user="root", password="first password"))
    assert reply.admin is True
    old = await c.request(m.Register(id=2, user="x", password="whatever1"), check=False)
    assert old.code in ("already_authenticated", "registration_closed")
    c2 = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c2.hello()
    bad = await c2.request(m.Login(id=1, user="bob", password="bob password"), check=False)
    assert bad.code == "auth_failed"
    await c2.request(m.Login(id=2, user="bob", password="new bob password"))
    status = json.loads(tertulia("admin", "--data-dir", data, "sessions", "--json").stdout)
    assert {u["user"] for u in status["users"]} == {"root", "bob"}
    table = tertulia("admin", "--data-dir", data, "sessions").stdout
    assert "root" in table and "connections" in table
    await c.close()
    await c2.close()
    assert srv.terminate() == 0


def test_server_reports_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(FAST_PASSWORDS_TOML + "[limits]\nmax_txet = 5\n")
    proc = tertulia("server", "--data-dir", str(tmp_path / "d"), "--config", str(bad), check=False)
    assert proc.returncode == 2 and "max_txet" in proc.stderr
