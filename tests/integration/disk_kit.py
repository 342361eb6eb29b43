"""A real full disk for tests: a small tmpfs in a private mount namespace, filled and freed at will.

No root and nothing left mounted: ``unshare --user --mount`` starts a holder process in new
user and mount namespaces (the caller's uid becomes root *in there* only) and mounts a tmpfs of
a few MiB on a directory under the test's ``tmp_path``. The mount exists only in that namespace
and disappears when the holder (killed by PID) exits, even if the test dies. Servers are run
inside the namespace with ``nsenter``; the test reaches the same files through
``/proc/HOLDER/root/...`` (the holder's view of the file system), so it can fill the disk until
``write`` fails with ``ENOSPC``, read the database, and free the space again.

If the machine forbids unprivileged user namespaces the tests that need this are skipped --
and fail when ``CI`` is set, like every test whose facility is missing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tertulia_testkit import ServerProcess

__all__ = ["SmallDisk"]

_HOLDER = (
    'mount -t tmpfs -o size="$2",nr_inodes="$3",mode=0700 tmpfs "$1" && echo ready'
    " && exec sleep 3600"
)


class SmallDisk:
    """A tmpfs of ``size`` (``"6m"``) mounted at ``tmp_path/disk`` inside its own namespace."""

    def __init__(self, tmp_path: Path, size: str = "6m", inodes: int = 400) -> None:
        self.tmp_path = tmp_path
        self.mount = tmp_path / "disk"
        self.mount.mkdir()
        self.size = size
        self.inodes = inodes
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        missing = [t for t in ("unshare", "nsenter") if shutil.which(t) is None]
        why = f"{' and '.join(missing)} not installed (util-linux)" if missing else ""
        if not why:
            self.proc = subprocess.Popen(
                ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private",
                 "sh", "-c", _HOLDER, "sh", str(self.mount), self.size, str(self.inodes)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )  # fmt: skip
            assert self.proc.stdout is not None
            if self.proc.stdout.readline().strip() != "ready":
                self.proc.wait(10)
                why = f"cannot mount a tmpfs in a user namespace: {self.proc.stderr.read()}"  # type: ignore[union-attr]
                self.proc = None
        if why:
            if os.environ.get("CI"):
                pytest.fail(why)
            pytest.skip(why)

    def stop(self) -> None:
        """Kill the holder (by PID): the tmpfs goes with its namespace."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
            self.proc = None

    def view(self, path: Path) -> Path:
        """``path`` (absolute, as the server sees it) as this process can reach it."""
        assert self.proc is not None
        return Path(f"/proc/{self.proc.pid}/root") / Path(path).relative_to("/")

    @property
    def prefix(self) -> list[str]:
        """Run a command inside the namespace (the server sees the tmpfs at ``mount``)."""
        assert self.proc is not None
        return ["nsenter", "-t", str(self.proc.pid), "-U", "-m", "--preserve-credentials", "--"]

    def server(self, name: str = "srv", extra_toml: str = "") -> ServerProcess:
        """A ServerProcess whose data directory is on the small disk (config and log are not)."""
        srv = ServerProcess(self.mount / name, "[server]\nbootstrap_admin = false\n" + extra_toml)
        outside = self.tmp_path / f"{name}.toml"
        srv.config_path.replace(outside)
        srv.config_path = outside
        srv.stderr_path = self.tmp_path / f"{name}.stderr.log"
        srv.prefix = self.prefix
        srv.log_args = ["--log-level", "INFO"]
        return srv

    @property
    def filler(self) -> Path:
        return self.view(self.mount) / "filler"

    def fill(self) -> int:
        """Write ``filler`` until the disk is full (``ENOSPC``); return the bytes it holds."""
        written = 0
        with open(self.filler, "ab", buffering=0) as fh:
            for size in (65536, 4096, 512):  # then the last pages too: really full
                chunk = b"\0" * size
                while True:
                    try:
                        written += fh.write(chunk) or 0
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        return written

    def fill_inodes(self) -> int:
        """Create empty files until no inode is left either (as a full ext4 refuses mkdir)."""
        folder = self.view(self.mount) / "inodes"
        folder.mkdir(exist_ok=True)
        made = 0
        while True:
            try:
                (folder / str(made)).touch(exist_ok=False)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return made
            made += 1

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()
        folder = self.view(self.mount) / "inodes"
        if folder.exists():
            shutil.rmtree(folder)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.view(self.mount)).free
