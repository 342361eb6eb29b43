"""Rate limiters and counters that bound what one client can make the server do.

Pure and clock-injected: every class takes a ``clock`` (seconds, monotonic) so the tests drive
time by hand instead of sleeping, and nothing here touches asyncio or sockets. The server owns
one instance per policy (see ``server/guard.py``); docs/security.md lists every limit with its
default and the error code a client sees when it hits it.

Memory is bounded as well: keyed limiters forget keys whose state has returned to "nothing to
remember" (a full bucket, no recent failures) and refuse to grow past ``max_keys`` -- when full,
the least recently used key is evicted, which errs on the side of the client, never of memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = [
    "Clock",
    "ConnectionCounter",
    "FailureThrottle",
    "KeyedBuckets",
    "RecentKeys",
    "TokenBucket",
    "retry_after",
]

Clock = Callable[[], float]
K = TypeVar("K", bound=Hashable)


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; each event takes one.

    ``take()`` returns 0.0 when the event is allowed, otherwise the seconds until a token is
    available: the ``retry_after`` a client is told, so a well-behaved client never has to guess.
    """

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("need rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        return self._tokens

    @property
    def tokens(self) -> float:
        return self._refill()

    @property
    def full(self) -> bool:
        return self._refill() >= self.burst

    def take(self, n: float = 1.0) -> float:
        """Take ``n`` tokens if there are; else take nothing and return the wait in seconds."""
        tokens = self._refill()
        if tokens >= n:
            self._tokens = tokens - n
            return 0.0
        return (n - tokens) / self.rate


class _LRU(Generic[K]):
    """An ordered dict with a size cap; the least recently used entry goes first."""

    def __init__(self, max_keys: int) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be positive")
        self.max_keys = max_keys
        self.items: OrderedDict[K, object] = OrderedDict()

    def touch(self, key: K) -> None:
        self.items.move_to_end(key)

    def make_room(self) -> None:
        while len(self.items) >= self.max_keys:
            self.items.popitem(last=False)


class KeyedBuckets(Generic[K]):
    """One :class:`TokenBucket` per key (a user, an address), created on first use.

    A full bucket holds no information, so it is dropped on the next sweep; the number of live
    keys is therefore bounded by the clients active in the last ``burst / rate`` seconds, and by
    ``max_keys`` in any case.
    """

    def __init__(
        self, rate: float, burst: float, *, clock: Clock = time.monotonic, max_keys: int = 100_000
    ) -> None:
        TokenBucket(rate, burst, clock)  # validate once, here
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lru: _LRU[K] = _LRU(max_keys)
        self._ops = 0

    def __len__(self) -> int:
        return len(self._lru.items)

    def take(self, key: K, n: float = 1.0) -> float:
        """Like :meth:`TokenBucket.take` for ``key``'s bucket."""
        items = self._lru.items
        bucket = items.get(key)
        if bucket is None:
            self._sweep()
            self._lru.make_room()
            bucket = items[key] = TokenBucket(self.rate, self.burst, self._clock)
        else:
            self._lru.touch(key)
        assert isinstance(bucket, TokenBucket)
        return bucket.take(n)

    def _sweep(self) -> None:
        """Every so often, forget buckets that have refilled completely."""
        self._ops += 1
        if self._ops % 256:
            return
        items = self._lru.items
        for key in [k for k, b in items.items() if isinstance(b, TokenBucket) and b.full]:
            del items[key]


class FailureThrottle(Generic[K]):
    """At most ``max_failures`` failures per key in any ``window`` seconds (sliding window).

    Used for logins: :meth:`check` before verifying (``retry_after`` > 0 means refuse without
    even looking at the password), :meth:`failure` after a failed attempt. A success does not
    wipe the record: otherwise an attacker who knows one password could interleave successes to
    keep guessing another account from the same address.
    """

    def __init__(
        self,
        max_failures: int,
        window: float,
        *,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if max_failures < 1 or window <= 0:
            raise ValueError("need max_failures >= 1 and window > 0")
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._lru: _LRU[K] = _LRU(max_keys)

    def __len__(self) -> int:
        return len(self._lru.items)

    def _recent(self, key: K, now: float) -> deque[float] | None:
        stamps = self._lru.items.get(key)
        if stamps is None:
            return None
        assert isinstance(stamps, deque)
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._lru.items[key]
            return None
        return stamps

    def check(self, key: K) -> float:
        """0.0 if another attempt is allowed now; else seconds until the oldest failure ages out."""
        now = self._clock()
        stamps = self._recent(key, now)
        if stamps is None or len(stamps) < self.max_failures:
            return 0.0
        return max(0.001, stamps[0] + self.window - now)

    def failure(self, key: K) -> None:
        now = self._clock()
        stamps = self._recent(key, now)
        if stamps is None:
            self._lru.make_room()
            stamps = deque(maxlen=self.max_failures)
            self._lru.items[key] = stamps
        else:
            self._lru.touch(key)
        stamps.append(now)

    def adopt(self, other: FailureThrottle[K]) -> None:
        """Take over ``other``'s recorded failures (new limits, same history)."""
        for key, stamps in other._lru.items.items():
            assert isinstance(stamps, deque)
            self._lru.make_room()
            self._lru.items[key] = deque(stamps, maxlen=self.max_failures)

    def failures(self, key: K) -> int:
        stamps = self._recent(key, self._clock())
        return 0 if stamps is None else len(stamps)

    def forget(self, key: K) -> None:
        """Drop ``key``'s failures (the caller has proof they were the owner's typos)."""
        self._lru.items.pop(key, None)


class RecentKeys(Generic[K]):
    """Keys seen within the last ``ttl`` seconds (an LRU set with expiry).

    Used for the (account, address) pairs that logged in successfully: such an address has
    proved it knows the password, so the account's overall failure ceiling (which a
    distributed guesser can fill) does not shut it out. Full: the least recently seen key is
    forgotten, which only makes that address subject to the ceiling again.
    """

    def __init__(
        self, ttl: float, *, clock: Clock = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if ttl <= 0:
            raise ValueError("need ttl > 0")
        self.ttl = ttl
        self._clock = clock
        self._lru: _LRU[K] = _LRU(max_keys)

    def __len__(self) -> int:
        return len(self._lru.items)

    def add(self, key: K) -> None:
        items = self._lru.items
        if key in items:
            self._lru.touch(key)
        else:
            self._lru.make_room()
        items[key] = self._clock()

    def seen(self, key: K) -> bool:
        """Whether ``key`` was added within the last ``ttl`` seconds."""
        items = self._lru.items
        stamp = items.get(key)
        if stamp is None:
            return False
        assert isinstance(stamp, int | float)
        if stamp <= self._clock() - self.ttl:
            del items[key]
            return False
        return True

    def adopt(self, other: RecentKeys[K]) -> None:
        for key, stamp in other._lru.items.items():
            self._lru.make_room()
            self._lru.items[key] = stamp


class ConnectionCounter(Generic[K]):
    """Open connections per key (a peer address), with a cap per key and in total."""

    def __init__(self, max_per_key: int, max_total: int) -> None:
        if max_per_key < 1 or max_total < 1:
            raise ValueError("connection limits must be positive")
        self.max_per_key = max_per_key
        self.max_total = max_total
        self.total = 0
        self._open: dict[K, int] = {}

    def count(self, key: K) -> int:
        return self._open.get(key, 0)

    def acquire(self, key: K | None) -> bool:
        """Count a new connection from ``key``; False (and nothing counted) if over a cap.

        ``key=None`` counts against the total only (exempt addresses).
        """
        if self.total >= self.max_total:
            return False
        if key is not None:
            n = self._open.get(key, 0)
            if n >= self.max_per_key:
                return False
            self._open[key] = n + 1
        self.total += 1
        return True

    def release(self, key: K | None) -> None:
        if key is None:
            self.total = max(0, self.total - 1)
            return
        n = self._open.get(key, 0)
        if n <= 0:
            return
        self.total -= 1
        if n == 1:
            del self._open[key]
        else:
            self._open[key] = n - 1


def retry_after(seconds: float) -> float:
    """Round a wait up to milliseconds for the wire (never 0: that would invite a busy loop)."""
    return max(0.001, math.ceil(seconds * 1000) / 1000)
