"""The full-disk reporter: one log line per interval however many writes are refused, one when
writes succeed again, counters for the metrics (issue 12, item 10)."""

from __future__ import annotations

import logging

import pytest

from tertulia.proto.errors import ErrorCode
from tertulia.server.storage_full import LOG_INTERVAL, RETRY_AFTER, StorageFull


def test_refusals_are_counted_and_logged_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    full = StorageFull(clock=lambda: now[0])
    caplog.set_level(logging.WARNING, "tertulia.server.storage")
    for _ in range(1000):
        err = full.refuse("send", OSError(28, "No space left on device"))
    assert err.code is ErrorCode.STORAGE_FULL and err.params == {"retry_after": RETRY_AFTER}
    assert full.refused == 1000 and full.active
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.ERROR
    now[0] += LOG_INTERVAL
    full.refuse("login", OSError(28, "No space left on device"))
    assert len(caplog.records) == 2
    assert "999 more refused since the last line" in caplog.records[1].getMessage()
    full.write_succeeded()
    full.write_succeeded()
    assert not full.active
    assert [r.getMessage().startswith("disk no longer full") for r in caplog.records[2:]] == [True]
