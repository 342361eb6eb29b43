"""contrib/: the example configuration documents every setting and loads; HAProxy's is valid."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tertulia.server.config import ServerConfig, load_config

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
