"""The data directory: made usable (0700, writable) and locked by one server at a time.

Two servers on one data directory would serve one SQLite database twice and fight over the
admin socket. The server therefore holds an exclusive ``flock`` on ``DATA_DIR/tertulia.lock``
for as long as it runs, and writes its PID and start time into the file, so the second one is
refused with a message naming the first. The kernel drops the lock when the holder's process
ends in any way (SIGKILL and crashes included): a stale file never blocks a restart, and no
PID file has to be cleaned up. ``tertulia admin restore`` takes the same lock, so nothing can
start a server on a directory that is being restored. (PostgreSQL, Prosody and ergo do the
same with their own lock or PID files.)

Admin commands that read or change the database (``admin user ...``) or talk to the running
server over its socket do not take the lock: SQLite in WAL mode lets them work beside it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import pwd
import time
from pathlib import Path

from tertulia.server.startup import StartupError
from tertulia.transport.private_files import DIR_MODE, private_dir

__all__ = [
    "LOCK_NAME",
    "DataDirError",
    "DataDirLock",
    "ensure_unlocked",
    "lock_holder",
    "prepare_data_dir",
]

LOCK_NAME = "tertulia.lock"

log = logging.getLogger("tertulia.server.datadir")


class DataDirError(StartupError):
    """The data directory cannot be used; the message names it and says what to do."""


def _whoami() -> str:
    uid = os.geteuid()
    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _not_writable(path: Path, why: str) -> DataDirError:
    return DataDirError(
        f"the data directory {path} is not writable by {_whoami()} ({why}): "
        f"make it writable for that user (chown/chmod), or choose another with --data-dir"
    )


def prepare_data_dir(path: Path) -> Path:
    """Create ``path`` if needed, make it 0700 and check that it is a writable directory.

    It holds the database (every message), the TLS key and the admin socket: a directory that
    already exists with a wider mode (``mkdir data`` under umask 022 gives 0755) is tightened,
    and the change logged once, as PostgreSQL and Prosody insist on a private data directory.
    """
    try:
        private_dir(path, tighten=False)  # tightened below, once it is known to be usable
    except FileExistsError:
        raise DataDirError(
            f"the data directory {path} exists but is not a directory:"
            " point --data-dir (or [server] data_dir) at a directory"
        ) from None
    except NotADirectoryError:
        raise DataDirError(
            f"the data directory {path} cannot be made: part of its path is a file;"
            " choose another --data-dir"
        ) from None
    except PermissionError as exc:
        raise DataDirError(
            f"cannot create the data directory {path}: {exc.strerror} for {_whoami()};"
            " create it for that user first, or choose another --data-dir"
        ) from None
    except OSError as exc:
        raise DataDirError(f"cannot create the data directory {path}: {exc.strerror}") from None
    probe = path / f".write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:  # ENOSPC: writable, but full (the start says so)
            raise _not_writable(path, exc.strerror or str(exc)) from None
    else:
        os.close(fd)
        probe.unlink(missing_ok=True)
    try:
        old_mode = private_dir(path)
    except OSError as exc:  # e.g. writable through its group but owned by someone else
        log.warning("cannot make the data directory %s private (0700): %s", path, exc.strerror)
        return path
    if old_mode is not None:
        log.warning(
            "the data directory %s had mode %04o (others could read it): changed it to %04o",
            path,
            old_mode,
            old_mode & DIR_MODE,
        )
    return path


def _describe_holder(info: dict[str, object]) -> str:
    pid = info.get("pid", "?")
    started = info.get("started")
    when = ""
    if isinstance(started, int | float):
        when = ", started at " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started))
    return f"PID {pid}{when}"


def _read_info(path: Path) -> dict[str, object]:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _in_use(data_dir: Path, info: dict[str, object], me: str = "server") -> DataDirError:
    holder = info.get("what", "server")
    fix = (
        "stop it first, or give this one its own --data-dir"
        if me == "server"
        else f"stop that {holder} first, then try again"
    )
    return DataDirError(
        f"the data directory {data_dir} is in use by {'another ' if holder == me else 'a '}"
        f"{holder} ({_describe_holder(info)}): {fix}"
    )


def lock_holder(data_dir: Path) -> dict[str, object] | None:
    """What the holder of ``data_dir``'s lock wrote (pid, started...), or None if nobody."""
    path = data_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # no lock file: no server has run here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return _read_info(path)
        raise DataDirError(f"cannot read the lock {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return None


def ensure_unlocked(data_dir: Path) -> None:
    """Raise :class:`DataDirError` naming the holder if something holds ``data_dir``."""
    info = lock_holder(data_dir)
    if info is not None:
        raise _in_use(data_dir, info)


class DataDirLock:
    """The exclusive lock of one data directory, held from :meth:`acquire` to :meth:`release`.

    ``what`` says who holds it ("server", "restore"), for the message the next one gets.
    """

    def __init__(self, data_dir: Path, what: str = "server") -> None:
        self.path = data_dir / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    def acquire(self, **details: object) -> None:
        """Take the lock or raise :class:`DataDirError` naming the holder."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _not_writable(self.path.parent, exc.strerror or str(exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DataDirError(f"cannot lock {self.path}: {exc.strerror}") from None
            raise _in_use(self.path.parent, _read_info(self.path), self.what) from None
        info = {"pid": os.getpid(), "started": time.time(), "what": self.what, **details}
        self._fd = fd
        self._write(info)

    def _write(self, info: dict[str, object]) -> None:
        """Record who holds the lock; on a full disk the lock itself is enough."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, (json.dumps(info) + "\n").encode(), 0)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            log.warning("disk full: cannot write who holds %s (the lock is held)", self.path)

    def update(self, **details: object) -> None:
        """Add facts to the lock file (the addresses once the server listens)."""
        if self._fd is None:
            return
        self._write({**_read_info(self.path), **details})

    def release(self) -> None:
        """Give the lock up (the file stays: removing it would race with the next holder)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
