"""Files that hold secrets or messages: mode 0600 in directories of mode 0700, whatever the umask.

``os.open(path, flags, 0o600)`` and ``mkdir(mode=0o700)`` only *ask* for a mode: the process
umask is subtracted, and a file or directory that already exists keeps whatever mode it had (a
data directory made by hand with 0755, an outbox written by an older version with 0644). Both
server and client keep private things on disk -- the database, the TLS key, ``openssl.cnf``,
the client's outbox (message texts), cursors and known servers -- so the rule lives here, in
the lowest layer both may import, and is applied to the descriptor (``fchmod``) or the path
(``chmod``) after opening, which the umask cannot touch. The helpers never widen a mode.

:func:`private_dir` reports what it changed, so the caller can log it once: an operator who
made the directory 0755 should learn that it was tightened, not be surprised later.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

__all__ = ["DIR_MODE", "FILE_MODE", "open_private", "private_dir", "restrict_file"]

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path, *, tighten: bool = True) -> int | None:
    """Create ``path`` (and missing parents) if needed, with mode 0700 whatever the umask.

    With ``tighten`` an existing ``path`` loses its group and other permissions too (0755
    becomes 0700; nothing is ever added), and its old mode is returned when it was changed:
    for the directories Tertulia owns (the data directory, its ``tls`` and
    ``backups``, the GUI's configuration directory). Without it, a directory that existed
    before is left alone -- the user chose it (their home, a project directory, ``/tmp``) and
    the files Tertulia writes there are 0600 anyway. Raises :class:`OSError` as ``mkdir`` and
    ``chmod`` do.
    """
    created = True
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:
        if not path.is_dir():
            raise
        created = False
        if not tighten:
            return None
    if os.name != "posix":  # pragma: no cover - POSIX modes only
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    # a new directory gets exactly 0700 (mkdir's mode went through the umask); an existing one
    # only loses group and other bits: one the owner made read-only stays read-only
    want = DIR_MODE if created else mode & DIR_MODE
    if mode == want:
        return None
    os.chmod(path, want)
    return None if created else mode


def restrict_file(path: Path) -> int | None:
    """Make an existing ``path`` 0600; return its old mode if it was changed (None if absent)."""
    if os.name != "posix":  # pragma: no cover
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if not mode & 0o077:
        return None
    os.chmod(path, mode & FILE_MODE)  # never adds a permission, only takes others' away
    return mode


def open_private(path: Path, mode: str = "w", *, exclusive: bool = False) -> IO[str]:
    """Open ``path`` as text for writing (``"w"``) or appending (``"a"``), with mode 0600.

    The descriptor is ``fchmod``-ed before anything is written, so the file is private from its
    first byte even under ``umask 000`` and even if it existed with a wider mode.
    """
    if mode not in ("w", "a"):
        raise ValueError(f"open_private: mode must be 'w' or 'a', not {mode!r}")
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_APPEND if mode == "a" else os.O_TRUNC
    if exclusive:
        flags |= os.O_EXCL
    fd = os.open(path, flags, FILE_MODE)
    try:
        if os.name == "posix":
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
