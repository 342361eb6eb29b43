"""The on-disk record of the timeline's local event lines: private files, bounded, tolerant of
damage. No Qt."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tertulia.gui.eventlog import MAX_PER_ROOM, EventLog, EventRecord


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


def rec(room: str = "general", n: int = 1, event: str = "joined") -> EventRecord:
    return EventRecord(room=room, event=event, user=f"u{n}", ts=1000 + n, anchor=n)


def test_round_trip_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    log = EventLog(tmp_path / "events" / "ana@host_7443.jsonl")
    assert log.load() == {}
    log.append(rec())
    log.append(EventRecord("general", "topic", "ana", 5, 3, topic="plans “friday” ✓"))
    log.append(rec("random", 2, "left"))
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    got = EventLog(log.path).load()
    assert got == {
        "general": [rec(), EventRecord("general", "topic", "ana", 5, 3, topic="plans “friday” ✓")],
        "random": [rec("random", 2, "left")],
    }


def test_bounded_per_room_and_compacted(tmp_path: Path, open_umask: None) -> None:
    log = EventLog(tmp_path / "e.jsonl")
    for n in range(MAX_PER_ROOM + 25):
        log.append(rec("big", n))
    log.append(rec("small", 1))
    got = log.load()
    assert [r.anchor for r in got["big"]] == list(range(25, MAX_PER_ROOM + 25))
    assert got["small"] == [rec("small", 1)]
    # the file itself was rewritten to what is kept (private still)
    assert len(log.path.read_text().splitlines()) == MAX_PER_ROOM + 1
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert log.load() == got


def test_damaged_lines_are_skipped(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "e.jsonl")
    log.append(rec(n=1))
    with log.path.open("a", encoding="utf-8") as f:
        f.write('{"room": "general", "event": "exploded", "user": "x", "ts": 1, "anchor": 1}\n')
        f.write('{"room": "general", "event": "joined", "user": "x", "ts": -1, "anchor": 1}\n')
        f.write("[1, 2]\n{not json\n\n")
        f.write('{"room": "general", "event": "joined", "user": "x", "ts": true, "anchor": 1}\n')
    log.append(rec(n=2))  # a line cut short by a crash is followed by good ones
    assert log.load() == {"general": [rec(n=1), rec(n=2)]}
    assert log.load() == {"general": [rec(n=1), rec(n=2)]}  # and the file is clean now
    assert len(log.path.read_text().splitlines()) == 2


def test_an_unwritable_place_loses_the_lines_not_the_app(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = EventLog(blocker / "events.jsonl")  # its directory is a file
    log.append(rec())  # logged, not raised
    assert log.load() == {}
