"""``tertulia gui`` without PySide6 says how to install it; without a display, what is missing
and how to fix it, in one line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tertulia.cli import gui_cmd
from tertulia.gui.display import display_problem
from tertulia_testkit import SCALE


def test_gui_command_explains_how_to_install_pyside6(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "PySide6", None)  # import PySide6 -> ImportError
    parser = argparse.ArgumentParser()
    gui_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["gui", "--lang", "es"])
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert "pip install 'tertulia[gui]'" in err


def no_display_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env.update(extra)
    return env


@pytest.mark.skipif(
    sys.platform == "darwin" or sys.platform.startswith("win"), reason="X11/Wayland systems"
)
@pytest.mark.parametrize(
    ("command", "extra", "says"),
    [
        (["-m", "tertulia", "gui"], {}, "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"),
        (
            ["-m", "tertulia", "gui", "--lang", "es"],
            {"QT_QPA_PLATFORM": "xcb"},
            "QT_QPA_PLATFORM=xcb needs DISPLAY",
        ),
        (["-m", "tertulia.gui.app"], {"QT_QPA_PLATFORM": "wayland"}, "needs WAYLAND_DISPLAY"),
    ],
    ids=["tertulia-gui-no-display", "xcb-without-display", "tertulia-gui-wayland"],
)
def test_without_a_display_one_clear_line_and_exit_1(
    tmp_path: Path, command: list[str], extra: dict[str, str], says: str
) -> None:
    pytest.importorskip("PySide6")
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, *command],
        env=no_display_env(XDG_CONFIG_HOME=str(tmp_path), **extra),
        capture_output=True,
        text=True,
        timeout=60 * SCALE,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr  # not Qt's abort (-6)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tertulia: cannot start the desktop client: ")
    assert says in lines[0]
    assert "ssh -X" in lines[0] and "graphical desktop session" in lines[0]
    assert "qt.qpa" not in proc.stderr and "Aborted" not in proc.stderr
    assert elapsed < 20 * SCALE
    assert not (tmp_path / "tertulia").exists()  # nothing written either


@pytest.mark.parametrize(
    ("env", "platform", "problem"),
    [
        ({}, "linux", "no display"),
        ({"DISPLAY": ":0"}, "linux", None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", None),
        ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "freebsd14", None),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", "QT_QPA_PLATFORM=xcb needs DISPLAY"),
        ({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"}, "linux", None),
        ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":1"}, "linux", None),
        (
            {"QT_QPA_PLATFORM": "wayland;xcb"},
            "linux",
            "QT_QPA_PLATFORM=wayland;xcb needs WAYLAND_DISPLAY or DISPLAY",
        ),
        ({}, "darwin", None),
        ({}, "win32", None),
    ],
)
def test_display_problem(env: dict[str, str], platform: str, problem: str | None) -> None:
    got = display_problem(env, platform)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got and "\n" not in got
