"""Giving memory back to the system after large replies (glibc's allocator).

Python frees the objects of a reply as soon as it is written, but glibc keeps what it frees:
its mmap threshold is *dynamic* (after a multi-megabyte buffer is freed, buffers up to that size
are taken from the heap instead of their own mapping, up to 32 MiB), and freed heap memory is
returned only from the top of the heap. So a wave of clients that made the server build large
replies left the heap fragmented and the RSS high after they were gone (issue 12: 617 of 670
MiB still held; a second wave grew it again). Two settings fix that without a custom allocator:

- ``mallopt(M_MMAP_THRESHOLD, 256 KiB)``: a fixed threshold (which also turns off the dynamic
  adjustment), so every large buffer -- frames, TLS records, transport buffers -- is its own
  mapping and goes back to the system the moment it is freed;
- ``malloc_trim(0)`` after connections that held a lot of output have closed (at most once
  every few seconds, from the server's tick): it returns the free pages inside the heap and
  the threads' arenas, not only the top.

On other C libraries (musl, macOS) both are skipped: the functions are looked up and used only
if present. jemalloc, via ``LD_PRELOAD``, is an operator's alternative (docs/security.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time

__all__ = ["Trimmer", "tune_allocator"]

log = logging.getLogger("tertulia.server.memory")

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD = 256 * 1024


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


_LIBC = _libc()


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold; False where there is no such allocator."""
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(ctypes.c_int(_M_MMAP_THRESHOLD), ctypes.c_int(MMAP_THRESHOLD)))


class Trimmer:
    """Runs ``malloc_trim(0)`` when asked, at most once every ``interval`` seconds."""

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self.wanted = False
        self.trims = 0
        self._last = 0.0
        self._trim = getattr(_LIBC, "malloc_trim", None)

    def request(self) -> None:
        """Something large was freed (a connection with a lot of output closed)."""
        self.wanted = True

    def tick(self, now: float | None = None) -> None:
        """Called about once a second by the server."""
        if not self.wanted or self._trim is None:
            return
        now = time.monotonic() if now is None else now
        if now - self._last < self.interval:
            return
        self._last = now
        self.wanted = False
        self._trim(ctypes.c_size_t(0))
        self.trims += 1
