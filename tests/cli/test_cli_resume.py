"""The resume file: round trip, 0600 whatever the umask, refusal of anything it did not write."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tertulia.cli.common import CliError
from tertulia.cli.resume import ResumeFile, ResumeState


def test_round_trip_private_and_atomic(tmp_path: Path) -> None:
    f = ResumeFile(tmp_path / "send.resume")
    assert f.load() is None
    old = os.umask(0)
    try:
        f.save(ResumeState(prefix="p1", room="general", kind="text", done=7, digest="ab"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(f.path.stat().st_mode) == 0o600
    assert f.load() == ResumeState(prefix="p1", room="general", kind="text", done=7, digest="ab")
    f.save(ResumeState(prefix="p1", room="general", kind="text", done=9, digest="cd"))
    state = f.load()
    assert state is not None and state.done == 9
    assert [p.name for p in tmp_path.iterdir()] == ["send.resume"]  # no temp file left
    f.remove()
    f.remove()  # idempotent
    assert f.load() is None


@pytest.mark.parametrize(
    "content",
    ["not json", '{"version": 2}', '{"version": 1, "prefix": "p"}', "[]", '{"version": 1, '
     '"prefix": "", "room": "r", "kind": "text", "done": 1, "digest": ""}'],
)  # fmt: skip
def test_a_file_it_did_not_write_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "x"
    path.write_text(content)
    with pytest.raises(CliError, match="resume file"):
        ResumeFile(path).load()
