"""Reconnect delays as a pure generator: exponential backoff with full jitter.

Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the n-th delay is uniform
in ``[0, min(cap, base * 2**n)]``. It spreads a crowd of clients reconnecting after a server
restart evenly over time. Waiting is the caller's business; this module only computes delays,
so it is testable without a clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["backoff_delays"]


def backoff_delays(
    base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> Iterator[float]:
    """Yield successive reconnect delays, forever. Restart the generator after a healthy link."""
    if base <= 0 or cap < base:
        raise ValueError("need 0 < base <= cap")
    r = rng or random.Random()
    attempt = 0
    while True:
        ceiling = min(cap, base * (2**attempt))
        yield r.uniform(0.0, ceiling)
        if ceiling < cap:
            attempt += 1
