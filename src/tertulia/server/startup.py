"""Start-up failures as one line each: what failed, where (file, address), and the fix.

``tertulia server`` prints these as ``tertulia: <message>`` and exits 1; nothing an operator
can fix by editing a setting or a file should end in a traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import sqlite3
from pathlib import Path

__all__ = [
    "LOW_DISK_BYTES",
    "StartupError",
    "corrupt_database",
    "disk_full",
    "disk_is_full",
    "listen_error",
    "warn_if_disk_full",
]

log = logging.getLogger("tertulia.server.start")

#: below this much free space next to the database, the start says writes will fail
LOW_DISK_BYTES = 1 << 20


class StartupError(Exception):
    """The server cannot start; the message is the whole explanation."""


def listen_error(exc: OSError, host: str, port: int, *, http: bool = False) -> StartupError:
    """Why binding ``host:port`` failed, naming the setting that changes it.

    ``http`` is the health/metrics listener (``[http] port``, 7480 by default): a second
    server on one machine fails there even when given its own chat port.
    """
    where = f"{host}:{port}"
    if http:
        what = f"cannot listen on {where} for health and metrics"
        setting = (
            "set [http] port (TERTULIA__HTTP__PORT) to a free port, 0 for any free port,"
            " or [http] enabled = false"
        )
    else:
        what = f"cannot listen on {where}"
        setting = "choose another port with --port ([server] port; 0 = any free port)"
    if isinstance(exc, socket.gaierror):
        return StartupError(
            f"{what}: unknown host {host!r} ({exc.strerror}): use an address of this machine"
            " with --host ([server] host)"
        )
    code = exc.errno
    if code == errno.EADDRINUSE:
        return StartupError(
            f"{what}: the port is already in use (another server on this machine?): {setting}"
        )
    if code in (errno.EACCES, errno.EPERM):
        return StartupError(
            f"{what}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE):"
            f" {setting}"
        )
    if code == errno.EADDRNOTAVAIL:
        return StartupError(
            f"{what}: {host} is not an address of this machine: use one of its addresses"
            " ([server] host, or [http] host for health and metrics)"
        )
    return StartupError(f"{what}: {exc.strerror or exc}")


def corrupt_database(path: Path, exc: BaseException) -> StartupError:
    """The SQLite file is not a database (or is damaged): say how to get the data back."""
    cause = exc.__cause__ if isinstance(exc.__cause__, sqlite3.Error) else exc
    backups = path.parent / "backups"
    return StartupError(
        f"the database {path} is not a usable SQLite database ({cause}): restore a backup"
        f" with 'tertulia admin restore BACKUP' (the server keeps some in {backups}),"
        " or move the file away to start with an empty database"
    )


def is_corruption(exc: BaseException) -> bool:
    """Is ``exc`` (or its cause) SQLite saying the file is not a sound database?"""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, sqlite3.DatabaseError) and not isinstance(cause, sqlite3.OperationalError):
        return True
    text = str(cause)
    return "not a database" in text or "malformed" in text


def _free_bytes(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def disk_is_full(directory: Path) -> bool:
    """No block (for an unprivileged writer) or no inode left on ``directory``'s file system?

    SQLite then fails with "unable to open database file" (it cannot create ``-shm``) rather
    than "disk is full", so the start looks at the file system before blaming permissions.
    """
    try:
        st = os.statvfs(directory)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_DISK_BYTES or (st.f_files > 0 and st.f_favail == 0)


def disk_full(path: Path, what: str) -> StartupError:
    """The disk holding ``path`` is full and the start needs to write: one line, and the fix."""
    free = _free_bytes(path.parent)
    left = f" ({free} bytes free)" if free is not None else ""
    return StartupError(
        f"{what} {path}: the disk holding {path.parent} is full{left}: free some space there"
        " (old backups in its 'backups' folder, logs...) and start the server again"
    )


def warn_if_disk_full(data_dir: Path) -> None:
    """Start anyway on a (nearly) full disk, but say once what that means: reads work, while
    sends, logins and registrations answer ``storage_full`` until space is freed."""
    free = _free_bytes(data_dir)
    if free is not None and free < LOW_DISK_BYTES:
        log.warning(
            "the disk holding %s is full (%d bytes free): starting read-only in effect --"
            " history and sync are served, sends, logins and registrations answer"
            " storage_full until space is freed",
            data_dir,
            free,
        )
