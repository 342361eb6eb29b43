"""A full disk: how the server answers, counts and logs writes the store refused for lack of space.

When the disk under the store fills up, every write fails (SQLite's ``SQLITE_FULL``,
PostgreSQL's SQLSTATE 53100) and nothing of it is kept; reads go on working. The server then
answers each refused request ``storage_full`` with a ``retry_after`` -- a client keeps the
message in its outbox and sends it again, with the same ``msg_id``, so it is stored exactly once
when space returns -- instead of the generic ``internal``, which tells nobody what to do.

One line per :data:`LOG_INTERVAL` seconds at most (a full disk under load would otherwise
write a line per refused message, onto the same full disk), and one line when writes succeed
again; the counters are exported as metrics (``tertulia_storage_full*``) for alerting. Pure
state on an injected clock: the hub owns the one instance and calls it on the loop thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tertulia.proto.errors import ErrorCode
from tertulia.server.errors import CommandError

__all__ = ["LOG_INTERVAL", "RETRY_AFTER", "StorageFull"]

log = logging.getLogger("tertulia.server.storage")

#: seconds between two log lines about refused writes
LOG_INTERVAL = 60.0
#: what ``storage_full.params.retry_after`` asks clients to wait, in seconds
RETRY_AFTER = 5


class StorageFull:
    """Counts writes refused for lack of disk space and says so in the log, at a bounded rate."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: writes refused because the disk was full, since start (a counter metric)
        self.refused = 0
        #: clock time of the first refusal of the current episode; None while writes succeed
        self.since: float | None = None
        self._logged_at: float | None = None
        self._unlogged = 0

    @property
    def active(self) -> bool:
        """Did the last write fail because the disk was full?"""
        return self.since is not None

    def refuse(self, what: str, cause: BaseException) -> CommandError:
        """Count one refused ``what`` ("send", "login"...); the error to answer the client."""
        now = self._clock()
        self.refused += 1
        if self.since is None:
            self.since = now
        if self._logged_at is None or now - self._logged_at >= LOG_INTERVAL:
            more = f" ({self._unlogged} more refused since the last line)" if self._unlogged else ""
            log.error(
                "disk full: the store refused a write (%s)%s: %s; reads go on, writes are"
                " answered storage_full until space is freed on the disk holding the store",
                what,
                more,
                cause,
            )
            self._logged_at = now
            self._unlogged = 0
        else:
            self._unlogged += 1
        return CommandError(
            ErrorCode.STORAGE_FULL,
            "the server's disk is full: nothing was stored; try again later",
            retry_after=RETRY_AFTER,
        )

    def write_succeeded(self) -> None:
        """A write went through: if the disk had been full, say once that it is over."""
        if self.since is None:
            return
        log.warning(
            "disk no longer full: writes succeed again after %.0f s (%d refused in all)",
            self._clock() - self.since,
            self.refused,
        )
        self.since = None
        self._logged_at = None
        self._unlogged = 0
