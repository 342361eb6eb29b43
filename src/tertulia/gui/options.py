"""Command-line options of the desktop client (no Qt here, so ``tertulia gui --help`` works
without PySide6)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", metavar="HOST[:PORT]", help="prefill the server address")
    p.add_argument("--user", metavar="NAME", help="prefill the user name")
    p.add_argument(
        "--lang", choices=["system", "en", "es"], help="interface language (default: as before)"
    )
    p.add_argument(
        "--theme", choices=["system", "light", "dark"], help="colour theme (default: as before)"
    )
    p.add_argument(
        "--config-dir",
        type=Path,
        help="where settings and unsent messages live (default ~/.config/tertulia)",
    )
