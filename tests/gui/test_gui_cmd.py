"""``tertulia gui`` without PySide6 says how to install it."""

from __future__ import annotations

import argparse
import sys

import pytest

from tertulia.cli import gui_cmd


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
