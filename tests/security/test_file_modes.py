"""Files holding secrets or messages are 0600 in 0700 directories, whatever the umask (issue 12,
item 11): the server's data directory (even one that existed with 0755), ``openssl.cnf``, the
database, the key; the client library's outbox, cursors and known servers; the GUI's folders.

Each test runs under ``umask 000``, the worst case: anything created with the default mode
would come out world-writable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tertulia.client import Client, TrustPolicy
from tertulia_testkit import PASSWORD, SCALE, ServerProcess

#: files in the data directory that are meant to be public
PUBLIC = frozenset({"tls/cert.pem"})


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def wide_modes(root: Path, public: frozenset[str] = frozenset()) -> list[str]:
    """Every directory not 0700 and every file or socket not 0600 under ``root`` (included)."""
    bad = [] if mode(root) == 0o700 else [f"{root.name}/ {mode(root):04o}"]
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel in public or path.is_symlink():
            continue
        want = 0o700 if path.is_dir() else 0o600
        if mode(path) != want:
            bad.append(f"{rel} {mode(path):04o}")
    return bad


def test_server_data_dir_private_even_if_it_existed_0755(tmp_path: Path) -> None:
    data = tmp_path / "srv"
    data.mkdir()
    os.chmod(data, 0o755)  # as `mkdir data` under the usual umask 022 leaves it
    srv = ServerProcess(data)
    srv.log_args = ["--log-level", "INFO"]
    try:
        with umask(0):
            srv.start()
    finally:
        srv.stop()
    log = srv.stderr_path.read_text()
    assert (data / "openssl.cnf").exists(), "the server did not write its openssl.cnf"
    assert (data / "tertulia.db").exists()
    assert wide_modes(data, PUBLIC) == []
    # the operator is told what was changed, once (before the re-execution, not after)
    changed = [ln for ln in log.splitlines() if "had mode 0755" in ln]
    assert len(changed) == 1, log
    assert "WARNING" in changed[0] and str(data) in changed[0]


def test_openssl_cnf_made_private_when_it_exists_wide(tmp_path: Path) -> None:
    """An openssl.cnf left by an older version with 0666 is tightened even if unchanged."""
    data = tmp_path / "srv"
    srv = ServerProcess(data)
    srv.start()
    srv.terminate()
    os.chmod(data / "openssl.cnf", 0o666)
    with umask(0):
        srv.start()
    srv.stop()
    assert mode(data / "openssl.cnf") == 0o600


async def test_client_files_private_under_umask_000(tmp_path: Path) -> None:
    """Outbox (message texts), cursors and known servers: 0600 files in 0700 directories,
    including an outbox file an older version left with 0644."""
    srv = ServerProcess(tmp_path / "srv")
    srv.start()
    home = tmp_path / "client"
    outbox = home / "outbox" / "alice.jsonl"
    old_box = home / "old" / "bob.jsonl"
    old_box.parent.mkdir(parents=True)
    old_box.write_text("")
    os.chmod(old_box, 0o644)
    try:
        with umask(0):
            trust = TrustPolicy(tofu=True, known_servers_path=home / "trust" / "known_servers")
            alice = Client(
                srv.host,
                srv.port,
                "alice",
                PASSWORD,
                trust=trust,
                outbox_path=outbox,
                cursor_path=home / "cursors" / "alice.json",
                rooms=["general"],
            )
            await alice.register()
            await asyncio.wait_for(alice.start(), 15 * SCALE)
            entry = await alice.send("general", "a secret for the room")
            await asyncio.wait_for(entry.acked(), 10 * SCALE)
            bob = Client(srv.host, srv.port, "bob", PASSWORD, trust=trust, outbox_path=old_box)
            await alice.close()
            await bob.close()
    finally:
        srv.stop()
    assert (home / "cursors" / "alice.json").exists()
    assert wide_modes(home / "outbox") == []
    assert wide_modes(home / "cursors") == []
    assert wide_modes(home / "trust") == []
    assert mode(old_box) == 0o600


def test_gui_config_folders_private(tmp_path: Path) -> None:
    """The GUI's configuration directory and its outbox folder, even if they existed 0755."""
    pytest.importorskip("PySide6.QtCore")
    from tertulia.gui.settings import Settings

    conf = tmp_path / "conf"
    (conf / "outbox").mkdir(parents=True)
    os.chmod(conf, 0o755)
    os.chmod(conf / "outbox", 0o755)
    with umask(0):
        path = Settings(conf).outbox_path("127.0.0.1", 7000, "alice")
    assert mode(conf) == 0o700
    assert mode(path.parent) == 0o700
