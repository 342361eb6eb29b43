"""Tests of tertulia.proto.backoff: exponential backoff with full jitter, as a pure generator."""

from __future__ import annotations

import random
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tertulia.proto.backoff import backoff_delays

bases = st.floats(min_value=0.001, max_value=10.0)
caps = st.floats(min_value=0.001, max_value=3600.0)


@settings(max_examples=200, deadline=None)
@given(bases, caps, st.integers(0, 2**32))
def test_delays_within_full_jitter_bounds(base: float, cap: float, seed: int) -> None:
    cap = max(cap, base)
    for n, delay in enumerate(islice(backoff_delays(base, cap, random.Random(seed)), 40)):
        assert 0.0 <= delay <= min(cap, base * 2**n)
        assert delay <= cap


@settings(max_examples=100, deadline=None)
@given(bases, caps, st.integers(0, 2**32))
def test_deterministic_with_a_seeded_random(base: float, cap: float, seed: int) -> None:
    cap = max(cap, base)
    first = list(islice(backoff_delays(base, cap, random.Random(seed)), 25))
    again = list(islice(backoff_delays(base, cap, random.Random(seed)), 25))
    assert first == again


def test_ceiling_grows_then_stays_at_cap() -> None:
    class Max(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    delays = list(islice(backoff_delays(0.5, 30.0, Max()), 10))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]


def test_long_run_never_overflows_and_keeps_the_cap() -> None:
    gen = backoff_delays(0.5, 30.0, random.Random(1))
    delays = list(islice(gen, 5000))
    assert all(0.0 <= d <= 30.0 for d in delays)
    # full jitter really spreads: late delays are not all near the cap nor near zero
    late = delays[100:]
    assert min(late) < 5.0 < 25.0 < max(late)


def test_default_rng_is_used_when_none_given() -> None:
    delays = list(islice(backoff_delays(), 10))
    assert all(0.0 <= d <= 30.0 for d in delays)


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_invalid_parameters(base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        next(backoff_delays(base, cap))
