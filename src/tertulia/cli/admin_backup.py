"""``tertulia admin backup`` and ``restore``: a single node's database and ``tls/``, online.

``backup`` writes one archive (``.tar.gz``, mode 0600: it holds the TLS key) with an online,
integrity-checked copy of the SQLite database, the data directory's ``tls/`` and a manifest
of row counts (see :mod:`tertulia.server.storage.archive`). ``restore`` puts such an archive
(or a bare ``.db`` copy, as the server makes before a migration) back; it refuses while a server
holds the data directory's lock, and moves what it replaces aside instead of deleting it.

A cluster's PostgreSQL database is backed up with ``pg_dump``; both commands print how.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tertulia.server.config import ConfigError, ServerConfig, load_config

__all__ = ["register_backup"]

_PG_HELP = (
    "tertulia: the store is PostgreSQL; back it up with its own tools, e.g.\n"
    "  pg_dump --format=custom --file tertulia-$(date +%F).dump '{url}'\n"
    "and restore into an empty database, with every node stopped, with\n"
    "  pg_restore --dbname '<url of the new database>' tertulia-<date>.dump\n"
    "(see docs/operations.md, 'Backup and restore')."
)


def register_backup(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = asub.add_parser(
        "backup", help="archive the database and tls/ while the server runs (SQLite)"
    )
    _hidden_common(p)
    p.add_argument(
        "--output",
        type=Path,
        help="the archive to create (default DATA_DIR/backups/tertulia-<time>-manual.tar.gz)",
    )
    p.set_defaults(func=_backup)
    r = asub.add_parser(
        "restore", help="put a backup (database and tls/) back; the server must be stopped"
    )
    _hidden_common(r)
    r.add_argument("backup", type=Path, help="an archive from 'admin backup', or a .db copy")
    r.set_defaults(func=_restore)


def _hidden_common(p: argparse.ArgumentParser) -> None:
    # also accepted after the subcommand (``tertulia admin backup --data-dir DIR``)
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _config(args: argparse.Namespace) -> ServerConfig | int:
    """The configuration of a SQLite node, or the exit code after saying why not."""
    from tertulia.server.config_env import mask_secret

    try:
        cfg = load_config(args.config, data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"tertulia: configuration error: {exc}", file=sys.stderr)
        return 2
    if cfg.store.url:
        print(_PG_HELP.format(url=mask_secret(cfg.store.url)), file=sys.stderr)
        return 1
    return cfg


def _summary(counts: dict[str, object]) -> str:
    return ", ".join(f"{n} {table}" for table, n in counts.items())


def _backup(args: argparse.Namespace) -> int:
    from tertulia.server.storage.archive import ArchiveError, write_archive

    cfg = _config(args)
    if isinstance(cfg, int):
        return cfg
    data_dir = Path(cfg.data_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    dest = args.output or data_dir / "backups" / f"tertulia-{stamp}-manual.tar.gz"
    try:
        manifest = write_archive(data_dir, dest)
    except ArchiveError as exc:
        print(f"tertulia: {exc}", file=sys.stderr)
        return 1
    counts = manifest["counts"]
    assert isinstance(counts, dict)
    tls = " and tls/" if manifest["tls"] else ""
    print(
        f"backup written to {dest} ({dest.stat().st_size} bytes, mode 0600): the database"
        f" ({_summary(counts)}; integrity ok){tls}"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from tertulia.server.datadir import DataDirLock, prepare_data_dir
    from tertulia.server.startup import StartupError
    from tertulia.server.storage.archive import ArchiveError, restore

    cfg = _config(args)
    if isinstance(cfg, int):
        return cfg
    if not args.backup.is_file():
        print(f"tertulia: no backup file {args.backup}", file=sys.stderr)
        return 1
    lock = None
    try:
        data_dir = prepare_data_dir(Path(cfg.data_dir))
        lock = DataDirLock(data_dir, "restore")
        lock.acquire()
        done = restore(args.backup, data_dir)
    except (StartupError, ArchiveError) as exc:
        print(f"tertulia: restore refused: {exc}", file=sys.stderr)
        return 1
    finally:
        if lock is not None:
            lock.release()
    aside = ""
    if done.moved_aside:
        aside = "; the previous files are kept as " + ", ".join(map(str, done.moved_aside))
    tls = " and tls/" if done.tls else " (the backup has no tls/: the certificate is unchanged)"
    print(f"restored {data_dir}: the database ({_summary(dict(done.counts))}){tls}{aside}")
    return 0
