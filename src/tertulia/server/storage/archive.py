"""Backup archives of a single node: the database and ``tls/``, and putting them back.

A backup that restores the messages but not the self-signed key hands every client a new
fingerprint to distrust, so ``tertulia admin backup`` writes one ``.tar.gz`` (mode 0600: it
holds the private key) with:

* ``tertulia.db`` -- an online, consistent copy (SQLite's backup API), integrity-checked;
* ``tls/cert.pem``, ``tls/key.pem`` -- when the data directory has them;
* ``manifest.json`` -- format, Tertulia version, schema version, and the row counts, which
  :func:`restore` checks again after putting the copy in place.

:func:`restore` takes the data directory's lock first (so no server can be running or start
meanwhile), stages and checks everything inside the data directory, then moves the current
database (with its WAL) and ``tls/`` aside under ``*.pre-restore-<time>`` names -- nothing is
deleted -- and renames the restored ones into place. It also accepts a bare ``.db`` file (the
copies the server makes before a schema migration): the database alone is restored then.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tertulia import __version__
from tertulia.server.storage.backup import backup_sqlite
from tertulia.server.storage.sqlite import load_migrations

__all__ = ["ArchiveError", "Restored", "counts", "restore", "write_archive"]

FORMAT = 1
DB_NAME = "tertulia.db"
TLS_FILES = ("tls/cert.pem", "tls/key.pem")
_ALLOWED = frozenset({"manifest.json", DB_NAME, *TLS_FILES})
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: tables whose rows are counted in the manifest and compared after a restore
COUNTED = ("users", "rooms", "members", "messages")


class ArchiveError(Exception):
    """The backup cannot be written or restored; the message says why and what to do."""


@dataclass
class Restored:
    """What :func:`restore` put back, and where the previous files went."""

    counts: dict[str, int]
    tls: bool
    moved_aside: list[Path] = field(default_factory=list)


def counts(db: Path) -> dict[str, int]:
    """Rows per counted table of the database file ``db`` (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in COUNTED}
    finally:
        conn.close()


def _check_db(db: Path) -> int:
    """Integrity-check ``db``; return its schema version (ArchiveError if unusable)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"the database in the backup is not usable: {exc}") from None
    if verdict != "ok":
        raise ArchiveError(f"the database in the backup failed its integrity check: {verdict}")
    latest = len(load_migrations())
    if version > latest:
        raise ArchiveError(
            f"the backup's schema version {version} is newer than this Tertulia's ({latest}):"
            " restore it with the version that made it"
        )
    return version


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def write_archive(data_dir: Path, dest: Path) -> dict[str, object]:
    """Write the backup archive of ``data_dir`` to ``dest`` (new, 0600); return its manifest."""
    source = data_dir / DB_NAME
    if not source.is_file():
        raise ArchiveError(f"no database at {source}")
    if dest.exists():
        raise ArchiveError(f"{dest} exists: choose another name")
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    stage = dest.parent / f".{dest.name}.{os.getpid()}.db"
    partial = dest.parent / f".{dest.name}.{os.getpid()}.partial"
    try:
        backup_sqlite(source, stage)
        version = _check_db(stage)
        manifest: dict[str, object] = {
            "format": FORMAT,
            "tertulia": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "schema_version": version,
            "counts": counts(stage),
            "tls": [name for name in TLS_FILES if (data_dir / name).is_file()],
        }
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
            tar.add(stage, arcname=DB_NAME, recursive=False)
            for name in manifest["tls"]:  # type: ignore[attr-defined]
                tar.add(data_dir / name, arcname=name, recursive=False)
        os.replace(partial, dest)
    except (OSError, sqlite3.Error, tarfile.TarError) as exc:
        raise ArchiveError(f"backup failed: {exc}") from None
    finally:
        stage.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return manifest


def _extract(src: Path, stage: Path) -> dict[str, object] | None:
    """Unpack the archive ``src`` into ``stage`` (only the names a backup has); its manifest."""
    manifest: dict[str, object] | None = None
    try:
        with tarfile.open(src, mode="r:*") as tar:
            for member in tar.getmembers():
                if member.name not in _ALLOWED or not member.isfile():
                    raise ArchiveError(
                        f"{src} is not a Tertulia backup (unexpected entry {member.name!r})"
                    )
                fh = tar.extractfile(member)
                assert fh is not None
                if member.name == "manifest.json":
                    manifest = json.loads(fh.read(1 << 20))
                    continue
                target = stage / member.name
                target.parent.mkdir(mode=0o700, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(fh, out)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ArchiveError(f"cannot read the backup {src}: {exc}") from None
    if manifest is None or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{src} is not a Tertulia backup (no manifest of format {FORMAT})")
    if not (stage / DB_NAME).is_file():
        raise ArchiveError(f"{src} holds no database")
    return manifest


def _stage(src: Path, stage: Path) -> dict[str, object] | None:
    """Put the backup's files into ``stage``; the manifest (None for a bare database)."""
    try:
        with src.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ArchiveError(f"cannot read the backup {src}: {exc.strerror}") from None
    if head == _SQLITE_MAGIC:
        shutil.copyfile(src, stage / DB_NAME)
        os.chmod(stage / DB_NAME, 0o600)
        return None
    if not tarfile.is_tarfile(src):
        raise ArchiveError(
            f"{src} is neither a Tertulia backup archive nor an SQLite database:"
            " give a file that 'tertulia admin backup' wrote"
        )
    return _extract(src, stage)


def _aside(path: Path, stamp: str, moved: list[Path]) -> None:
    if path.exists():
        target = path.with_name(f"{path.name}.pre-restore-{stamp}")
        os.replace(path, target)
        moved.append(target)


def restore(src: Path, data_dir: Path) -> Restored:
    """Put the backup ``src`` into ``data_dir``, which the caller has locked."""
    stage = data_dir / f".restore-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(mode=0o700)
    try:
        manifest = _stage(src, stage)
        _check_db(stage / DB_NAME)
        got = counts(stage / DB_NAME)
        want = manifest.get("counts") if manifest else None
        if isinstance(want, dict) and want != got:
            raise ArchiveError(f"the backup's database does not hold what its manifest says: {got}")
        has_tls = all((stage / name).is_file() for name in TLS_FILES)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        moved: list[Path] = []
        db = data_dir / DB_NAME
        # the WAL and shared-memory files belong to the database beside them: moved with it
        for path in (db, db.with_name(DB_NAME + "-wal"), db.with_name(DB_NAME + "-shm")):
            if path.exists():
                target = db.with_name(f"{DB_NAME}.pre-restore-{stamp}{path.name[len(DB_NAME) :]}")
                os.replace(path, target)
                moved.append(target)
        os.replace(stage / DB_NAME, db)
        if has_tls:
            _aside(data_dir / "tls", stamp, moved)
            os.replace(stage / "tls", data_dir / "tls")
        after = counts(db)
        if after != got:  # pragma: no cover - a rename does not change a file
            raise ArchiveError(f"the restored database reads differently: {after} != {got}")
        return Restored(counts=after, tls=has_tls, moved_aside=moved)
    except OSError as exc:
        raise ArchiveError(f"restore failed: {exc}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
