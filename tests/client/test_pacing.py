"""SendPacer on an injected clock: it keeps a client inside the server's message bucket."""

from __future__ import annotations

import random

import pytest

from tertulia.client import SendPacer
from tertulia.server.limits import TokenBucket


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_unlimited_until_configured_and_for_servers_without_a_rate() -> None:
    clock = Clock()
    pacer = SendPacer(clock)
    assert not pacer.limited and pacer.delay() == 0.0
    for _ in range(1000):
        pacer.take()
    assert pacer.delay() == 0.0
    pacer.configure(0.0, 0)  # an older server announces no rate
    assert not pacer.limited and pacer.delay() == 0.0
    pacer.refused(5.0)  # nothing to adjust: the outbox pump pauses by itself then
    assert pacer.delay() == 0.0


def test_starts_empty_and_earns_a_burst_below_the_servers() -> None:
    clock = Clock()
    pacer = SendPacer(clock)
    pacer.configure(10.0, 50)
    assert pacer.rate == pytest.approx(9.5) and pacer.burst == 45
    assert pacer.delay() == pytest.approx(1 / 9.5)  # an earlier run may have used the bucket
    clock.now += 1 / 9.5
    pacer.take()
    assert pacer.delay() == pytest.approx(1 / 9.5)
    clock.now += 1 / 9.5
    assert pacer.delay() == pytest.approx(0.0, abs=1e-9)
    clock.now += 3600  # a long idle time earns the burst, never more
    assert pacer.tokens == pytest.approx(45)
    for _ in range(45):
        assert pacer.delay() == 0.0
        pacer.take()
    assert pacer.delay() == pytest.approx(1 / 9.5)


def test_a_refusal_empties_the_bucket_for_retry_after() -> None:
    clock = Clock()
    pacer = SendPacer(clock)
    pacer.configure(10.0, 50)
    clock.now += 100
    pacer.refused(2.0)
    assert pacer.delay() == pytest.approx(2.0)
    clock.now += 2.0
    assert pacer.delay() == pytest.approx(0.0, abs=1e-9)
    pacer.take()  # then the sustained rate, not a new burst
    assert pacer.delay() == pytest.approx(1 / 9.5)


def test_reconfiguring_keeps_the_state() -> None:
    clock = Clock()
    pacer = SendPacer(clock)
    pacer.configure(10.0, 50)
    clock.now += 1 / 9.5
    pacer.take()
    pacer.configure(10.0, 50)  # a reconnect: the server's bucket did not refill either
    assert pacer.delay() == pytest.approx(1 / 9.5)
    clock.now += 3600
    pacer.configure(2.0, 5)  # new limits after a server restart: tokens clamp to the burst
    assert pacer.burst == 4 and pacer.tokens == pytest.approx(4)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(
    ("rate", "burst", "jitter"),
    [(10.0, 50, 0.3), (2.0, 3, 0.3), (100.0, 200, 0.3), (0.5, 1, 0.1)],
)
def test_the_server_never_refuses_a_paced_client(
    seed: int, rate: float, burst: int, jitter: float
) -> None:
    """Simulate the server's own bucket (server/limits.py) receiving what the pacer lets out,
    each message delayed by up to ``jitter`` seconds in transit (in order, as on one TCP
    connection; a server allowing no burst leaves room for 5 % of an interval only). The
    server's bucket was emptied just before the client starts (by an earlier run)."""
    rng = random.Random(seed)
    clock = Clock(0.0)
    server = TokenBucket(rate, burst, clock)
    while server.take() == 0.0:
        pass
    clock.now = 0.0
    pacer = SendPacer(clock)
    pacer.configure(rate, burst)
    arrivals: list[float] = []
    t = 0.0
    for _ in range(400):
        t += pacer.delay()
        clock.now = t
        pacer.take()
        t += rng.uniform(0, 0.02)  # the pump does not send at the very instant allowed
        sent = clock.now + rng.uniform(0, jitter)
        arrivals.append(max(arrivals[-1] if arrivals else 0.0, sent))
        if rng.random() < 0.01:
            t += rng.uniform(0, 20)  # a pause in the input
    for at in arrivals:
        clock.now = at
        assert server.take() == 0.0, f"refused at {at:.3f} s"
    # and the pacing costs little: the sustained rate is 95 % of the server's
    assert len(arrivals) / arrivals[-1] <= rate
