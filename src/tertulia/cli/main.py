"""Entry point of the ``tertulia`` command: one subcommand per module in this package.

Each module exposes ``register(subparsers)`` which adds its subcommands and sets
``func(args) -> int`` as the handler. Exit codes: 0 success, 1 operational failure (the
message says what), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tertulia import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from tertulia.cli import admin, bench_cmd, client_cmds, gui_cmd, server_cmd

    parser = argparse.ArgumentParser(
        prog="tertulia", description="Tertulia: real-time group chat over TLS."
    )
    parser.add_argument("--version", action="version", version=f"tertulia {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    server_cmd.register(sub)
    admin.register(sub)
    client_cmds.register(sub)
    gui_cmd.register(sub)
    bench_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
