"""``python -m tertulia.bench``: the same as ``tertulia bench`` (used by ``make bench``)."""

from __future__ import annotations

import sys

from tertulia.cli.bench_cmd import build_parser


def main() -> int:
    args = build_parser().parse_args()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
