"""The pure limiters of tertulia.server.limits, on a hand-driven clock (no sleeping)."""

from __future__ import annotations

import pytest

from tertulia.server.config import LimitsConfig
from tertulia.server.errors import CommandError
from tertulia.server.guard import Guard
from tertulia.server.limits import (
    ConnectionCounter,
    FailureThrottle,
    KeyedBuckets,
    RecentKeys,
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
            login_failures_per_account_total=2,
        )
    )
    assert guard.connections.total == 2 and guard.exempt("10.0.0.1")
    guard.check_message("bob")
    with pytest.raises(CommandError) as err:
        guard.check_message("bob")
    assert err.value.code.value == "rate_limited"
    with pytest.raises(CommandError) as err:
        guard.check_login("10.0.0.1", "alice")  # the earlier failure now reaches the limit
    assert err.value.code.value == "login_throttled"
    guard.check_login("10.0.0.9", "alice")  # from elsewhere: one failure of two overall
    guard.login_failed("10.0.0.9", "alice")
    with pytest.raises(CommandError):
        guard.check_login("10.0.0.10", "alice")  # the overall ceiling, kept across the reload


def test_guard_release_matches_what_was_counted_across_a_reload() -> None:
    from tertulia.server.config import LimitsConfig
    from tertulia.server.guard import Guard

    guard = Guard(LimitsConfig(exempt_networks=[]))
    assert guard.admit("10.0.0.1")
    guard.update(LimitsConfig(exempt_networks=["10.0.0.0/8"]))
    guard.release("10.0.0.1")
    assert guard.connections.total == 0 and guard.connections.count("10.0.0.1") == 0


def test_failure_throttle_forgets_a_key() -> None:
    clock = FakeClock()
    throttle: FailureThrottle[str] = FailureThrottle(2, 60.0, clock=clock)
    throttle.failure("a")
    throttle.failure("a")
    throttle.failure("b")
    assert throttle.check("a") > 0
    throttle.forget("a")
    throttle.forget("zzz")  # unknown: harmless
    assert throttle.check("a") == 0.0 and throttle.failures("b") == 1


def test_recent_keys_expire_and_are_bounded() -> None:
    clock = FakeClock()
    seen: RecentKeys[str] = RecentKeys(100.0, clock=clock, max_keys=2)
    seen.add("a")
    clock.advance(60)
    seen.add("b")
    assert seen.seen("a") and seen.seen("b") and not seen.seen("c")
    clock.advance(50)  # "a" is 110 s old, "b" 50 s
    assert not seen.seen("a") and seen.seen("b") and len(seen) == 1
    seen.add("c")
    seen.add("d")  # full: the least recently added goes
    assert not seen.seen("b") and seen.seen("c") and seen.seen("d")
    with pytest.raises(ValueError):
        RecentKeys(0)


def _lockout_guard(clock: FakeClock) -> Guard:
    return Guard(
        LimitsConfig(
            exempt_networks=["127.0.0.0/8"],
            login_failures_per_account=3,
            login_failures_per_account_total=6,
            login_failures_per_ip=100,
        ),
        clock=clock,
    )


def _throttled(guard: Guard, ip: str, account: str) -> bool:
    try:
        guard.check_login(ip, account)
    except CommandError as exc:
        assert exc.code.value == "login_throttled"
        return True
    return False


def test_an_attackers_failures_lock_only_the_attackers_address_out() -> None:
    clock = FakeClock()
    guard = _lockout_guard(clock)
    for account in ("alice", "ghost"):  # a real account and a name nobody has: the same
        for _ in range(3):
            assert not _throttled(guard, "203.0.113.66", account)
            guard.login_failed("203.0.113.66", account)
        assert _throttled(guard, "203.0.113.66", account)
        assert not _throttled(guard, "198.51.100.7", account)  # the owner, elsewhere
        assert not _throttled(guard, "127.0.0.5", account)  # exempt networks too
    # the attacker's whole IPv6 /64 is one source; another /64 is another
    for _ in range(3):
        guard.login_failed("2001:db8:1:2::66", "alice")
    assert _throttled(guard, "2001:db8:1:2:ffff::1", "alice")
    clock.advance(301)
    assert not _throttled(guard, "203.0.113.66", "alice")  # the failures aged out


def test_the_overall_ceiling_spares_addresses_that_logged_in() -> None:
    clock = FakeClock()
    guard = _lockout_guard(clock)
    guard.login_succeeded("198.51.100.7", "alice")  # the owner's usual address
    for i in range(6):  # guessing spread over six addresses, under each one's limit
        guard.login_failed(f"203.0.113.{i}", "alice")
    assert _throttled(guard, "203.0.113.99", "alice")  # a new address: the ceiling holds
    assert _throttled(guard, "203.0.113.0", "ghost") is False  # other accounts: unaffected
    assert not _throttled(guard, "198.51.100.7", "alice")  # the owner's address gets in
    # ... but still only its own few tries: a known address is no licence to guess
    for _ in range(3):
        guard.login_failed("198.51.100.7", "alice")
    assert _throttled(guard, "198.51.100.7", "alice")


def test_a_success_forgives_that_addresses_failures_for_that_account_only() -> None:
    clock = FakeClock()
    guard = Guard(
        LimitsConfig(
            exempt_networks=[],
            login_failures_per_account=3,
            login_failures_per_account_total=50,
            login_failures_per_ip=5,
        ),
        clock=clock,
    )
    for _ in range(2):  # the owner's typos
        guard.login_failed("198.51.100.7", "alice")
    guard.login_succeeded("198.51.100.7", "alice")
    assert guard.login_pairs.failures(("alice", "198.51.100.7")) == 0
    assert guard.login_accounts.failures("alice") == 2  # the overall count is kept
    for _ in range(2):
        guard.login_failed("198.51.100.7", "alice")
    assert not _throttled(guard, "198.51.100.7", "alice")  # 2 of 3 since the success
    guard.login_failed("198.51.100.7", "bob")
    # the address's own count (5) was not wiped: a success buys no guesses at other accounts
    assert _throttled(guard, "198.51.100.7", "carol")
