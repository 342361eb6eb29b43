"""The timeline's local event lines ("bob joined the room", topic changes), kept on disk.

The server stores messages, not these lines: the client makes them from live events. Without a
record they vanished at every restart of the app while the messages around them came back from
history. One JSON Lines file per account and server (beside the outbox), one record per line::

    {"room": "general", "event": "joined", "user": "bob", "ts": 1718000000000, "anchor": 41}

``event`` is ``joined``, ``left``, ``invited`` or ``topic`` (with ``topic`` and ``by``);
``anchor`` is the seq of the message the line follows. The text is made when the line is shown,
in the language of the moment. The file is 0600 in a 0700 directory whatever the umask (it says
who was in which room); it keeps the last :data:`MAX_PER_ROOM` lines of each room (compacted
when it is read); lines it cannot read are skipped with a log line, never fatal.

No Qt here: this is plain file handling, tested on its own.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MAX_PER_ROOM", "EventLog", "EventRecord"]

log = logging.getLogger("tertulia.gui.eventlog")

#: lines kept per room (the oldest go first)
MAX_PER_ROOM = 300
KINDS = frozenset({"joined", "left", "invited", "topic"})


@dataclass(frozen=True, slots=True)
class EventRecord:
    room: str
    event: str
    user: str
    ts: int
    anchor: int
    topic: str = ""

    def to_json(self) -> str:
        d: dict[str, Any] = {
            "room": self.room,
            "event": self.event,
            "user": self.user,
            "ts": self.ts,
            "anchor": self.anchor,
        }
        if self.event == "topic":
            d["topic"] = self.topic
        return json.dumps(d, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> EventRecord:
        d = json.loads(line)
        if not isinstance(d, dict):
            raise ValueError("not an object")
        rec = cls(
            room=d["room"],
            event=d["event"],
            user=d["user"],
            ts=d["ts"],
            anchor=d["anchor"],
            topic=d.get("topic", ""),
        )
        if (
            rec.event not in KINDS
            or not all(isinstance(v, str) for v in (rec.room, rec.user, rec.topic))
            or not all(type(v) is int and v >= 0 for v in (rec.ts, rec.anchor))
        ):
            raise ValueError("bad field")
        return rec


class EventLog:
    """Appends records as they happen; reads them back (bounded per room) at login."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, list[EventRecord]]:
        """Every room's records, oldest first. Rewrites the file when it held more than it
        keeps (or unreadable lines), so it never grows without bound."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read %s: %s", self.path, exc)
            return {}
        rooms: dict[str, list[EventRecord]] = defaultdict(list)
        bad = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                rec = EventRecord.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                bad += 1
                log.info("skipping an unreadable line of %s: %s", self.path, exc)
                continue
            rooms[rec.room].append(rec)
        dropped = bad
        for name, recs in rooms.items():
            if len(recs) > MAX_PER_ROOM:
                dropped += len(recs) - MAX_PER_ROOM
                rooms[name] = recs[-MAX_PER_ROOM:]
        if dropped:
            self._rewrite([r for recs in rooms.values() for r in recs])
        return dict(rooms)

    def append(self, rec: EventRecord) -> None:
        try:
            self._ensure_dir()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(rec.to_json() + "\n")
        except OSError as exc:  # a full disk must not take the chat down
            log.warning("cannot write %s: %s", self.path, exc)

    def _ensure_dir(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)

    def _rewrite(self, recs: list[EventRecord]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self._ensure_dir()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("".join(r.to_json() + "\n" for r in recs))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot rewrite %s: %s", self.path, exc)
