"""The progress line: drawn in place on a terminal only, throttled, erased before messages."""

from __future__ import annotations

import io

from tertulia.cli.progress import Progress


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_drawn_when_stderr_is_not_a_terminal() -> None:
    out = io.StringIO()  # isatty() is False
    p = Progress(out)
    assert not p.enabled
    p.update("3 acknowledged", force=True)
    p.note("tertulia: line 2 not sent: ...")
    p.clear()
    assert out.getvalue() == "tertulia: line 2 not sent: ...\n"


def test_drawn_in_place_throttled_and_erased_before_a_message() -> None:
    out = io.StringIO()
    clock = Clock()
    p = Progress(out, enabled=True, interval=0.25, clock=clock)
    p.update("1 acknowledged")
    p.update("2 acknowledged")  # within the interval: skipped
    clock.now = 0.3
    p.update("3 acknowledged")
    p.note("tertulia: line 4 not sent: too long")
    p.clear()  # nothing shown any more: no output
    assert out.getvalue() == (
        "\r\x1b[K1 acknowledged\r\x1b[K3 acknowledged\r\x1b[Ktertulia: line 4 not sent: too long\n"
    )
