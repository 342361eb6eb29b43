"""``tertulia gui``: start the desktop client (needs the ``gui`` extra: PySide6)."""

from __future__ import annotations

import argparse
import sys

from tertulia.gui.options import add_arguments

__all__ = ["INSTALL_HINT", "register"]

INSTALL_HINT = (
    "tertulia: the desktop client needs PySide6, which is not installed.\n"
    "Install it with:  pip install 'tertulia[gui]'\n"
    "On a minimal Linux system Qt also needs a few libraries, e.g. on Debian/Ubuntu:\n"
    "  apt-get install libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "gui",
        help="start the desktop client",
        description="The Tertulia desktop client (PySide6). Also installed as tertulia-gui.",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import PySide6  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    try:
        from tertulia.gui.app import run as run_gui
    except ImportError as exc:  # PySide6 present but Qt cannot load (missing system libraries)
        print(
            f"tertulia: cannot start the desktop client: {exc}\n\n{INSTALL_HINT}", file=sys.stderr
        )
        return 1
    return run_gui(args, argv0="tertulia")
