"""Raw input lines from a file descriptor, read in a daemon thread, for ``tertulia send``.

Why a thread of our own and ``os.read``: a pipe may be slow (``tail -f log | tertulia send``),
so reading must not block the event loop; the loop's default executor would make the process
wait for a ``readline`` stuck on a silent pipe before it can exit after Ctrl+C, and a daemon
thread inside ``sys.stdin.buffer`` holds that object's lock, which interpreter shutdown may
need. Reading the descriptor directly avoids both.

Lines are bytes (decoding is :mod:`tertulia.cli.textio`'s job, so that a bad byte costs one
line, not the rest of the input), each with its SHA-256 and its size. A line longer than
``max_bytes`` is not kept in memory: it comes as ``raw=None`` with its real size, so a 1 GB
line without a newline costs a few kilobytes. The thread reads at most ``ahead`` lines ahead
of the consumer.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["LineReader", "RawLine"]

_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class RawLine:
    #: the line's bytes with its line ending, or None if it is longer than ``max_bytes``
    raw: bytes | None
    #: its length in bytes, line ending included
    size: int
    #: SHA-256 of its bytes, line ending included
    digest: bytes


class LineReader:
    """``await reader.next()`` -> the next :class:`RawLine`, or ``None`` at end of input."""

    def __init__(self, fd: int, max_bytes: int, *, ahead: int = 64) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self._slots = threading.Semaphore(ahead)
        self._queue: asyncio.Queue[RawLine | BaseException | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="tertulia-stdin", daemon=True)
        self._ended = False

    def start(self) -> None:
        self._thread.start()

    async def next(self) -> RawLine | None:
        """The next line; raises the ``OSError`` reading failed with."""
        if self._ended:
            return None
        item = await self._queue.get()
        self._slots.release()
        if item is None:
            self._ended = True
            return None
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        return item

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            for line in self._lines():
                self._slots.acquire()
                if not self._post(line):
                    return
        except OSError as exc:
            self._slots.acquire()
            self._post(exc)
            return
        self._slots.acquire()
        self._post(None)

    def _post(self, item: RawLine | BaseException | None) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the command is over
            return False
        return True

    def _lines(self) -> Iterator[RawLine]:
        kept = bytearray()
        hasher = hashlib.sha256()
        size = 0
        too_long = False
        while chunk := os.read(self.fd, _CHUNK):
            start = 0
            while start < len(chunk):
                nl = chunk.find(b"\n", start)
                end = len(chunk) if nl < 0 else nl + 1
                part = chunk[start:end]
                start = end
                hasher.update(part)
                size += len(part)
                if not too_long:
                    kept += part
                    if len(kept) > self.max_bytes:
                        too_long = True
                        kept = bytearray()
                if nl < 0:
                    break
                yield RawLine(None if too_long else bytes(kept), size, hasher.digest())
                kept, hasher, size, too_long = bytearray(), hashlib.sha256(), 0, False
        if size:
            yield RawLine(None if too_long else bytes(kept), size, hasher.digest())
