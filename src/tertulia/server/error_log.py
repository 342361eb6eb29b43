"""Counting the errors the server answers, and logging the unexpected ones at a bounded rate.

A client can make the server answer errors as fast as its request bucket allows (50/s per
connection by default), from many connections. Each answer is counted by code (Prometheus
``tertulia_request_errors_total``), never logged: the count is what an operator alerts on, and a
log line per hostile frame would let a client fill the disk (issue 12: 4,500 requests wrote
7.5 MiB of tracebacks in 10 s). What *is* logged -- an ``internal`` error, a bug by definition
-- goes through a token bucket: a burst of full tracebacks, then one line per interval saying
how many were left out, so the first occurrence is always visible and the volume is bounded.

Owned by the :class:`~tertulia.server.app.Server`; loop thread only.
"""

from __future__ import annotations

import collections
import logging
import time

from tertulia.server.limits import Clock, TokenBucket

__all__ = ["ErrorLog"]


class ErrorLog:
    #: tracebacks logged in a burst, then one per ``INTERVAL`` seconds
    BURST = 10
    INTERVAL = 10.0

    def __init__(self, log: logging.Logger, *, clock: Clock = time.monotonic) -> None:
        self._log = log
        self._bucket = TokenBucket(1.0 / self.INTERVAL, self.BURST, clock)
        #: error frames answered, by code (every request-level and protocol-level error)
        self.answered: collections.Counter[str] = collections.Counter()
        #: unexpected exceptions while handling a request (each answered ``internal``)
        self.internal = 0
        #: log lines left out by the rate limit since the server started
        self.suppressed = 0
        self._pending_suppressed = 0

    def answered_error(self, code: str) -> None:
        self.answered[code] += 1

    def internal_error(self, what: str, exc: BaseException) -> None:
        """Log ``exc`` with its traceback unless the burst is spent; count it either way."""
        self.internal += 1
        if self._bucket.take() > 0:
            self.suppressed += 1
            self._pending_suppressed += 1
            return
        if self._pending_suppressed:
            self._log.error(
                "%d more internal errors were not logged (rate limit)", self._pending_suppressed
            )
            self._pending_suppressed = 0
        self._log.error("internal error %s", what, exc_info=exc)
