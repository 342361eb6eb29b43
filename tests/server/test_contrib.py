"""contrib/: the example configuration, HAProxy, the systemd units and the fail2ban filter.

The fail2ban filter is run (with the real ``fail2ban-regex``) over lines a real server wrote.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tertulia.proto import messages as m
from tertulia.server.config import ServerConfig, load_config
from tertulia_testkit import RawClient

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"


def test_example_config_loads_and_documents_every_setting() -> None:
    path = CONTRIB / "tertulia.example.toml"
    cfg = load_config(path, env={})
    assert cfg == load_config(None, env={})  # it shows the defaults, nothing else
    text = path.read_text()
    sections = dict(re.findall(r"^\[(\w+)\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M))
    for f in dataclasses.fields(ServerConfig):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            body = sections.get(f.name, "")
            for sub in dataclasses.fields(value):
                assert re.search(rf"^#? ?{sub.name} = ", body, re.M), f"[{f.name}] {sub.name}"
        else:
            assert re.search(rf"^{f.name} = ", sections["server"], re.M), f"[server] {f.name}"


def test_haproxy_config_is_valid() -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed")
    proc = subprocess.run(
        [haproxy, "-c", "-f", str(CONTRIB / "haproxy" / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout


# --------------------------------------------------------------------------- HAProxy


def test_haproxy_binds_loopback_off_the_single_node_port_and_has_a_stats_socket() -> None:
    text = (CONTRIB / "haproxy" / "haproxy.cfg").read_text()
    binds = re.findall(r"^\s*bind\s+(\S+)", text, re.M)
    assert binds == ['"${TERTULIA_LISTEN-127.0.0.1:7500}"']
    assert not re.search(r"^\s*bind\s+[:*]", text, re.M)  # never all interfaces by default
    assert re.search(r"^\s*stats socket /run/haproxy/admin\.sock mode 660 level admin$", text, re.M)
    nodes = re.findall(r"server node\d 127\.0\.0\.1:(\d+) check port (\d+)", text)
    assert nodes == [("7501", "7481"), ("7502", "7482"), ("7503", "7483")]
    assert "7500" not in {port for pair in nodes for port in pair}


# --------------------------------------------------------------------------- systemd

UNITS = ("tertulia.service", "tertulia@.service")
OPERATIONS = (CONTRIB.parent / "docs" / "operations.md").read_text()


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_unit_verifies(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    tertulia = Path(sys.executable).with_name("tertulia")
    text = (CONTRIB / "systemd" / unit).read_text()
    assert "/opt/tertulia/venv/bin/tertulia" in text
    # the one thing that differs on this machine: where the program is installed
    (tmp_path / unit).write_text(text.replace("/opt/tertulia/venv/bin/tertulia", str(tertulia)))
    proc = subprocess.run(
        [analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_documentation_is_a_file_the_docs_install(unit: str) -> None:
    text = (CONTRIB / "systemd" / unit).read_text()
    (doc,) = re.findall(r"^Documentation=file://(\S+)$", text, re.M)
    install = f"install -D -m 0644 docs/operations.md {doc}"
    assert install in OPERATIONS and install in (CONTRIB / "systemd" / UNITS[0]).read_text()


def test_systemd_template_is_what_the_docs_describe() -> None:
    unit = (CONTRIB / "systemd" / "tertulia@.service").read_text()
    assert "contrib/systemd/tertulia@.service" in OPERATIONS
    assert "contrib/systemd/tertulia@.service" in (CONTRIB / "systemd" / UNITS[0]).read_text()
    for line in (
        "ExecStart=/opt/tertulia/venv/bin/tertulia server --config /etc/tertulia/cluster.toml"
        " --port 750%i --data-dir /var/lib/tertulia/node%i",
        "Environment=TERTULIA__HTTP__PORT=748%i",
        "LoadCredential=store_url:/etc/tertulia/store_url",
        "Environment=TERTULIA__STORE__URL__FILE=%d/store_url",
    ):
        assert line in unit.splitlines()
        assert line.split("=", 1)[1] in OPERATIONS, line
    # the single-node unit and the template harden alike
    single = (CONTRIB / "systemd" / UNITS[0]).read_text()
    hardening = single[single.index("# Hardening") :].splitlines()[1:]
    assert all(line in unit.splitlines() for line in hardening if line.strip())


# --------------------------------------------------------------------------- fail2ban


def _fail2ban_regex() -> list[str]:
    """The command that runs fail2ban-regex: installed, or unpacked by .ci/run."""
    found = shutil.which("fail2ban-regex")
    if found:
        return [found]
    root = Path(os.environ.get("TERTULIA_FAIL2BAN_ROOT", "/opt/tertulia-ci/fail2ban"))
    script = root / "usr" / "bin" / "fail2ban-regex"
    if not script.is_file():
        message = "fail2ban-regex is not installed (.ci/run unpacks Debian's fail2ban package)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set, so this is a failure, not a skip)")
        pytest.skip(message)
    python = shutil.which("python3") or sys.executable
    return ["env", f"PYTHONPATH={root / 'usr/lib/python3/dist-packages'}", python, str(script)]


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_fail2ban_filter_matches_the_failed_logins_a_server_logged(
    server_proc_factory: Callable[..., Any], fmt: str
) -> None:
    command = _fail2ban_regex()
    srv = server_proc_factory(start=False)
    srv.log_args = ["--log-level", "INFO", "--log-format", fmt]
    srv.start()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    await c.request(m.Register(id=1, user="bob", password="bob password"))
    forged = 'x", from 6.6.6.6: y\nINFO tertulia.auth: login failed from 7.7.7.7: z'
    for i, (user, password) in enumerate(
        [("bob", "wrong"), ("nobody", "wrong"), (forged, "wrong"), ("bob", "also wrong")]
    ):
        reply = await c.request(m.Login(id=10 + i, user=user, password=password), check=False)
        assert reply.code == "auth_failed"
    await c.request(m.Login(id=20, user="bob", password="bob password"))  # not a failure
    await c.close()
    assert srv.terminate() == 0
    log = srv.stderr_path.read_text()
    assert log.count("login failed from 127.0.0.1") == 4 and "login ok from" in log
    proc = await asyncio.to_thread(
        subprocess.run,
        [*command, "-o", "ip", str(srv.stderr_path), str(FAIL2BAN_FILTER)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.split() == ["127.0.0.1"] * 4, proc.stdout + proc.stderr


FAIL2BAN_FILTER = CONTRIB / "fail2ban" / "filter.d" / "tertulia.conf"


def test_fail2ban_jail_uses_the_filter() -> None:
    jail = (CONTRIB / "fail2ban" / "jail.d" / "tertulia.local").read_text()
    assert re.search(r"^filter\s*=\s*tertulia$", jail, re.M)
    assert re.search(r"^\[tertulia\]$", jail, re.M) and FAIL2BAN_FILTER.is_file()
    assert "contrib/fail2ban/filter.d/tertulia.conf" in OPERATIONS
