"""``tertulia send --resume-file``: where an interrupted send of stdin lines stopped.

Every line of a ``send`` gets the ``msg_id`` ``PREFIX:N`` (N its line number), and the server
stores each ``(sender, msg_id)`` once: a line sent again with the same id is acknowledged as a
duplicate and not stored again. So resuming needs only two facts, which this file keeps:

* the ``prefix`` of the interrupted run;
* ``done``: how many leading lines are finished (acknowledged, refused or skipped), so the
  next run need not even resend them -- with the SHA-256 ``digest`` of exactly those lines'
  bytes, so a different input is refused instead of being silently taken as already sent.

Lines after ``done`` are sent again with their old ids: whatever of them the server stored is
acknowledged as a duplicate. The file may therefore lag behind (it is written every half
second, and when the command stops): a stale file costs resends, never a duplicate message.
It is created 0600 and replaced atomically, and removed when a run finishes its input.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from tertulia.cli.common import CliError

__all__ = ["ResumeFile", "ResumeState"]

_VERSION = 1


@dataclass(slots=True)
class ResumeState:
    prefix: str
    room: str
    kind: str
    #: lines 1..done are finished
    done: int = 0
    #: SHA-256 (hex) of the raw bytes of lines 1..done, line endings included
    digest: str = ""


class ResumeFile:
    """Load, save (atomically, 0600) and remove the state of one interrupted send."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ResumeState | None:
        """The saved state, ``None`` if there is no file; :class:`CliError` if it is unusable."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read the resume file {self.path}: {exc}") from None
        try:
            if data.get("version") != _VERSION:
                raise ValueError(f"unknown version {data.get('version')!r}")
            state = ResumeState(
                prefix=str(data["prefix"]),
                room=str(data["room"]),
                kind=str(data["kind"]),
                done=int(data["done"]),
                digest=str(data["digest"]),
            )
            if state.done < 0 or not state.prefix:
                raise ValueError("bad values")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CliError(
                f"the resume file {self.path} is not one tertulia wrote ({exc}); remove it to "
                "start over"
            ) from None
        return state

    def save(self, state: ResumeState) -> None:
        """Write ``state`` (temp file 0600, fsync, rename): readers see the old or the new."""
        text = json.dumps({"version": _VERSION, **asdict(state)}, sort_keys=True) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise CliError(
                f"cannot write the resume file {self.path}: {exc.strerror or exc}"
            ) from None

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
