"""Client-side pacing of ``send``: stay inside the server's message rate instead of hitting it.

The server gives each user a token bucket of ``message_burst`` sends refilled at
``message_rate`` per second (announced in ``hello_ok.limits``) and answers ``rate_limited`` when
it is empty; a connection that collects too many of those answers is closed. A client that
pipelines a long outbox into that bucket gets refused, pauses, gets refused again with the
messages already in flight, and is eventually disconnected -- which is what ``seq 1 5000 |
tertulia send`` used to do. :class:`SendPacer` keeps a bucket of its own with a little less
than the server's allowance, so the server's bucket never runs dry:

* the burst is ``message_burst`` minus a tenth (at least one token, unless the burst is 1)
  and the rate 95 % of ``message_rate``, which absorbs network jitter (two sends leaving
  100 ms apart may arrive closer together): up to ``reserve / rate`` seconds of it (0.5 s
  with the defaults), and 5 % of a send interval when the server allows no burst at all;
* a new pacer starts empty (the first send waits ``1 / rate``: 0.1 s by default) and earns
  its burst at the sustained rate: the server's bucket belongs to the user, not to this
  process, and an earlier run (a ``tertulia send`` a second ago) may have emptied it;
* after a ``rate_limited`` answer anyway (another client of the same user shares the server's
  bucket), :meth:`SendPacer.refused` empties the bucket so sending resumes at the sustained
  rate after ``retry_after``, not with a new burst.

The state survives reconnects (the server's bucket is per user, not per connection).
Pure and clock-injected, like ``server/limits.py``: nothing here sleeps; the outbox pump asks
:meth:`SendPacer.delay` and waits that long itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["SendPacer"]

#: share of the server's sustained rate the client uses
RATE_MARGIN = 0.95
#: share of the server's burst kept in reserve (at least one token)
BURST_RESERVE = 0.1


class SendPacer:
    """A token bucket in front of the outbox pump; unlimited until :meth:`configure` is called.

    ``delay()`` is how long to wait before the next ``send`` may leave (0.0: now); the caller
    then sends and calls :meth:`take`. A server that announces no rate (``message_rate`` 0,
    older servers) leaves the pacer unlimited.
    """

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.rate = 0.0  # 0: unlimited
        self.burst = 0.0
        self._tokens = 0.0
        self._stamp = clock()

    def __repr__(self) -> str:
        if not self.rate:
            return "<SendPacer unlimited>"
        return f"<SendPacer {self.rate:g}/s burst={self.burst:g} tokens={self.tokens:.2f}>"

    @property
    def limited(self) -> bool:
        return self.rate > 0

    @property
    def tokens(self) -> float:
        """Sends that may leave right now (fractional; may be below zero after a refusal)."""
        self._refill()
        return self._tokens

    def configure(self, message_rate: float, message_burst: int) -> None:
        """Adopt the server's announced limits (on every ``hello_ok``; the state is kept)."""
        if message_rate <= 0 or message_burst <= 0:
            self.rate = self.burst = self._tokens = 0.0
            return
        first = not self.limited
        self._refill()
        self.rate = message_rate * RATE_MARGIN
        reserve = max(1, math.ceil(message_burst * BURST_RESERVE))
        self.burst = float(max(1, message_burst - reserve))
        self._tokens = 0.0 if first else min(self._tokens, self.burst)
        self._stamp = self._clock()

    def delay(self) -> float:
        """Seconds until one send may leave."""
        if not self.limited:
            return 0.0
        self._refill()
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def take(self) -> None:
        """One send left (call after :meth:`delay` said 0)."""
        if self.limited:
            self._refill()
            self._tokens -= 1.0

    def refused(self, retry_after: float) -> None:
        """The server said ``rate_limited``: send nothing for ``retry_after`` seconds, then at
        the sustained rate (the bucket is empty: no burst right after a refusal)."""
        if not self.limited:
            return
        self._refill()
        self._tokens = min(self._tokens, 1.0 - max(0.0, retry_after) * self.rate)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        if self.limited:
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
