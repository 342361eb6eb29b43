"""SQLite backups: online copies with SQLite's backup API, and one before every migration.

``sqlite3.Connection.backup`` copies a consistent snapshot page by page while the server keeps
running (WAL mode lets the writer go on); the copy is a complete database file that can simply
replace ``tertulia.db`` to restore. A schema migration cannot be undone by the code that applied
it, so the server takes such a copy automatically before applying any pending migration, into
``DATA_DIR/backups``, keeping the newest ``keep`` of them.

PostgreSQL is backed up with its own tools (``pg_dump``), see docs/operations.md.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from tertulia.server.storage.sqlite import load_migrations
from tertulia.transport.private_files import private_dir

__all__ = ["backup_before_migration", "backup_sqlite", "prune_backups"]

log = logging.getLogger("tertulia.server.storage.backup")

BACKUP_DIR = "backups"


def backup_sqlite(source: Path, dest: Path) -> Path:
    """Copy the database ``source`` to ``dest`` (a new file, mode 0600) while it may be in use."""
    if dest.exists():
        raise FileExistsError(f"{dest} exists: choose another name")
    private_dir(dest.parent)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out, pages=1024)
            out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            out.close()
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    return dest


def prune_backups(directory: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``*.db`` files of ``directory``."""
    files = sorted(directory.glob("tertulia-*.db"), reverse=True)  # names sort by time
    for old in files[max(keep, 0) :]:
        old.unlink(missing_ok=True)


def backup_before_migration(db_path: Path, keep: int) -> Path | None:
    """If ``db_path`` exists and a migration is pending, back it up first; return the copy."""
    if keep <= 0 or not db_path.is_file() or db_path.stat().st_size == 0:
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()
    latest = len(load_migrations())
    if version == 0 or version >= latest:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"{time.time_ns() % 10**9:09d}"
    dest = db_path.parent / BACKUP_DIR / f"tertulia-{stamp}-v{version}.db"
    backup_sqlite(db_path, dest)
    prune_backups(dest.parent, keep)
    log.warning(
        "schema migration %d -> %d pending: backed up the database to %s", version, latest, dest
    )
    return dest
