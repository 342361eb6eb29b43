"""``--insecure-no-tls``: plaintext for local debugging, loudly, on both sides."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tertulia_testkit import PASSWORD


def test_plaintext_server_and_client_warn_and_work(
    server_proc_factory: Callable[..., Any], tmp_path: Path
) -> None:
    env = dict(
        os.environ,
        TERTULIA_PASSWORD=PASSWORD,
        TERTULIA_KNOWN_SERVERS=str(tmp_path / "known_servers"),
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tertulia", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    srv = server_proc_factory(tls=False)
    assert "TLS IS OFF" in srv.stderr_path.read_text()
    conn = ["--server", f"127.0.0.1:{srv.port}", "--user", "alice"]
    reg = cli("register", *conn, "--insecure-no-tls")
    assert reg.returncode == 0, reg.stderr
    assert "plain text" in reg.stderr
    sent = cli("send", *conn, "--room", "r", "--insecure-no-tls", "hola")
    assert sent.returncode == 0, sent.stderr
    got = cli(
        "listen", *conn, "--room", "r", "--insecure-no-tls", "--since", "0", "--count", "1",
        "--json", "--timeout", "20",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert '"text": "hola"' in got.stdout
    # a TLS client refuses to talk to it (the handshake fails) rather than falling back
    tls = cli("send", *conn, "--room", "r", "--tofu", "--connect-timeout", "5", "x")
    assert tls.returncode == 1
    assert not (tmp_path / "known_servers").exists()
