"""The pure limiters of tertulia.server.limits, on a hand-driven clock (no sleeping)."""

from __future__ import annotations

import pytest

from tertulia.server.limits import (
    ConnectionCounter,
    FailureThrottle,
    KeyedBuckets,
    TokenBucket,
    retry_after,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=5, clock=clock)
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    assert bucket.take() == pytest.approx(0.5)  # one token every 0.5 s
    clock.advance(0.25)
    assert bucket.take() == pytest.approx(0.25)  # a refused take costs nothing
    clock.advance(0.25)
    assert bucket.take() == 0.0
    clock.advance(100)
    assert bucket.tokens == 5 and bucket.full  # never more than the burst


def test_token_bucket_survives_a_clock_that_steps_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, clock=clock)
    assert bucket.take() == 0.0
    clock.advance(-50)
    assert bucket.take() == pytest.approx(1.0)


def test_keyed_buckets_are_independent_and_bounded() -> None:
    clock = FakeClock()
    buckets: KeyedBuckets[str] = KeyedBuckets(1.0, 2, clock=clock, max_keys=3)
    assert buckets.take("a") == buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0
    for key in ("c", "d", "e"):
        buckets.take(key)
    assert len(buckets) <= 3
    # "a" was evicted (least recently used): it starts afresh, in the client's favour
    assert buckets.take("a") == 0.0


def test_keyed_buckets_forget_full_buckets() -> None:
    clock = FakeClock()
    buckets: KeyedBuckets[int] = KeyedBuckets(10.0, 1, clock=clock)
    for i in range(255):
        buckets.take(i)
    clock.advance(1)
    buckets.take(1000)  # the 256th operation sweeps
    assert len(buckets) == 1


def test_failure_throttle_is_a_sliding_window() -> None:
    clock = FakeClock()
    throttle: FailureThrottle[str] = FailureThrottle(3, 60.0, clock=clock)
    for _ in range(3):
        assert throttle.check("alice") == 0.0
        throttle.failure("alice")
        clock.advance(10)
    assert throttle.check("alice") == pytest.approx(30.0)  # first failure ages out at t=60
    assert throttle.check("bob") == 0.0
    clock.advance(30)
    assert throttle.check("alice") == 0.0 and throttle.failures("alice") == 2
    clock.advance(60)
    assert throttle.failures("alice") == 0 and len(throttle) == 0


def test_failure_throttle_is_bounded() -> None:
    throttle: FailureThrottle[int] = FailureThrottle(1, 60.0, clock=FakeClock(), max_keys=10)
    for i in range(100):
        throttle.failure(i)
    assert len(throttle) == 10


def test_connection_counter_caps_per_key_and_total() -> None:
    conns: ConnectionCounter[str] = ConnectionCounter(max_per_key=2, max_total=3)
    assert conns.acquire("a") and conns.acquire("a")
    assert not conns.acquire("a")
    assert conns.acquire("b")
    assert not conns.acquire("c")  # total cap
    conns.release("a")
    assert conns.acquire("c") and conns.total == 3
    conns.release("zzz")  # releasing an unknown key is harmless
    assert conns.count("a") == 1 and conns.total == 3


def test_retry_after_is_never_zero() -> None:
    assert retry_after(0.0) == 0.001
    assert retry_after(1.2341) == 1.235


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        FailureThrottle(0, 1)
    with pytest.raises(ValueError):
        ConnectionCounter(0, 1)


def test_connection_counter_total_only_for_exempt_keys() -> None:
    conns: ConnectionCounter[str] = ConnectionCounter(max_per_key=1, max_total=3)
    assert conns.acquire(None) and conns.acquire(None) and conns.acquire("a")
    assert not conns.acquire(None) and conns.total == 3
    conns.release(None)
    assert conns.total == 2 and conns.acquire(None)


def test_failure_throttle_adopts_history_under_new_limits() -> None:
    clock = FakeClock()
    old: FailureThrottle[str] = FailureThrottle(5, 60.0, clock=clock)
    for _ in range(3):
        old.failure("a")
    new: FailureThrottle[str] = FailureThrottle(3, 60.0, clock=clock)
    new.adopt(old)
    assert new.check("a") > 0  # three failures were already recorded


def test_guard_update_applies_new_limits_and_keeps_counts() -> None:
    from tertulia.server.config import LimitsConfig
    from tertulia.server.errors import CommandError
    from tertulia.server.guard import Guard

    clock = FakeClock()
    guard = Guard(LimitsConfig(exempt_networks=[], max_connections_per_ip=2), clock=clock)
    assert guard.admit("10.0.0.1") and guard.admit("10.0.0.1")
    guard.login_failed("10.0.0.1", "alice")
    guard.update(
        LimitsConfig(
            exempt_networks=["10.0.0.0/8"],
            max_connections_per_ip=1,
            message_rate=1.0,
            message_burst=1,
            login_failures_per_account=1,
        )
    )
    assert guard.connections.total == 2 and guard.exempt("10.0.0.1")
    guard.check_message("bob")
    with pytest.raises(CommandError) as err:
        guard.check_message("bob")
    assert err.value.code.value == "rate_limited"
    with pytest.raises(CommandError) as err:
        guard.check_login("10.0.0.9", "alice")  # the earlier failure now reaches the limit
    assert err.value.code.value == "login_throttled"


def test_guard_release_matches_what_was_counted_across_a_reload() -> None:
    from tertulia.server.config import LimitsConfig
    from tertulia.server.guard import Guard

    guard = Guard(LimitsConfig(exempt_networks=[]))
    assert guard.admit("10.0.0.1")
    guard.update(LimitsConfig(exempt_networks=["10.0.0.0/8"]))
    guard.release("10.0.0.1")
    assert guard.connections.total == 0 and guard.connections.count("10.0.0.1") == 0
