"""Internal errors are logged at a bounded rate and all counted (issue 12, item 3)."""

from __future__ import annotations

import logging

import pytest

from tertulia.server.error_log import ErrorLog


def test_tracebacks_come_in_a_burst_then_one_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    errors = ErrorLog(logging.getLogger("t.errors"), clock=lambda: now[0])
    with caplog.at_level(logging.ERROR, logger="t.errors"):
        for i in range(1000):
            errors.internal_error(f"request {i}", ValueError("boom"))
        assert len(caplog.records) == ErrorLog.BURST
        now[0] += ErrorLog.INTERVAL  # one more token
        errors.internal_error("later", ValueError("boom"))
    assert errors.internal == 1001
    assert errors.suppressed == 1000 - ErrorLog.BURST
    last = [r.getMessage() for r in caplog.records[-2:]]
    assert last == [
        f"{1000 - ErrorLog.BURST} more internal errors were not logged (rate limit)",
        "internal error later",
    ]
    assert all(r.exc_info for r in caplog.records if r.getMessage().startswith("internal error"))


def test_answers_are_counted_by_code() -> None:
    errors = ErrorLog(logging.getLogger("t.errors2"))
    for code in ("invalid_argument", "invalid_argument", "bad_json"):
        errors.answered_error(code)
    assert errors.answered == {"invalid_argument": 2, "bad_json": 1}
