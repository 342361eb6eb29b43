"""``tertulia admin backup``: an online copy of the SQLite database (or how to dump PostgreSQL).

The copy is taken with SQLite's backup API while the server runs, checked with
``PRAGMA integrity_check``, and is a complete database: restoring is stopping the server and
putting the file in place of ``DATA_DIR/tertulia.db`` (docs/operations.md). A cluster's
PostgreSQL database is backed up with ``pg_dump``; the command prints how.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

from tertulia.server.config import ConfigError, load_config

__all__ = ["register_backup"]


def register_backup(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = asub.add_parser("backup", help="copy the database while the server runs (SQLite)")
    # also accepted after the subcommand (``tertulia admin backup --data-dir DIR``)
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument(
        "--output",
        type=Path,
        help="the backup file to create (default DATA_DIR/backups/tertulia-<time>.db)",
    )
    p.set_defaults(func=_backup)


def _backup(args: argparse.Namespace) -> int:
    from tertulia.server.config_env import mask_secret
    from tertulia.server.storage.backup import backup_sqlite

    try:
        cfg = load_config(args.config, data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"tertulia: configuration error: {exc}", file=sys.stderr)
        return 2
    if cfg.store.url:
        url = mask_secret(cfg.store.url)
        print(
            "tertulia: the store is PostgreSQL; back it up with its own tools, e.g.\n"
            f"  pg_dump --format=custom --file tertulia-$(date +%F).dump '{url}'\n"
            "and restore into an empty database with\n"
            "  pg_restore --dbname '<url of the new database>' tertulia-<date>.dump\n"
            "(see docs/operations.md, 'Backup and restore').",
            file=sys.stderr,
        )
        return 1
    source = Path(cfg.data_dir) / "tertulia.db"
    if not source.is_file():
        print(f"tertulia: no database at {source}", file=sys.stderr)
        return 1
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    dest = args.output or Path(cfg.data_dir) / "backups" / f"tertulia-{stamp}-manual.db"
    try:
        backup_sqlite(source, dest)
    except (OSError, sqlite3.Error) as exc:
        print(f"tertulia: backup failed: {exc}", file=sys.stderr)
        return 1
    conn = sqlite3.connect(f"file:{dest}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    if verdict != "ok":
        print(f"tertulia: the copy {dest} failed its integrity check: {verdict}", file=sys.stderr)
        return 1
    print(f"backup written to {dest} ({dest.stat().st_size} bytes, integrity ok)")
    return 0
