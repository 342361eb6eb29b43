"""A one-line progress display on stderr, only when stderr is a terminal.

A long ``tertulia send`` is paced by the server's message rate (5000 lines at 10 per second
take over eight minutes), so a person at a terminal deserves to see it move. The line is
redrawn in place (``\\r`` and erase-to-end-of-line) at most every ``interval`` seconds;
ordinary messages (:meth:`Progress.note`) erase it first so they never mix with it. When
stderr is a pipe or a file nothing is drawn at all: scripts and logs get only the real
messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]

_ERASE = "\r\x1b[K"


class Progress:
    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool | None = None,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.enabled = _isatty(stream) if enabled is None else enabled
        self.interval = interval
        self._clock = clock
        self._shown = False
        self._last = float("-inf")

    def update(self, text: str, *, force: bool = False) -> None:
        """Show ``text`` as the progress line (throttled unless ``force``)."""
        if not self.enabled:
            return
        now = self._clock()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self.stream.write(f"{_ERASE}{text}")
        self.stream.flush()
        self._shown = True

    def note(self, line: str) -> None:
        """Print ``line`` (a message for the user) above the progress line."""
        self.clear()
        print(line, file=self.stream, flush=True)

    def clear(self) -> None:
        if self._shown:
            self.stream.write(_ERASE)
            self.stream.flush()
            self._shown = False
            self._last = float("-inf")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
