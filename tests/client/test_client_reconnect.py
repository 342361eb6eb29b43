"""The reconnect state machine, driven with a fake sleep and a fake clock (no network)."""

from __future__ import annotations

import asyncio
import random
import ssl

import pytest

from tertulia.client import ConnectionLost, ConnectionStateChanged, ConnState, ServerError
from tertulia.client.reconnect import Reconnector, is_retryable
from tertulia.client.trust import CertificateMismatchError


class MaxRandom(random.Random):
    """Full jitter always picks the ceiling, so delays are predictable: base * 2**n."""

    def uniform(self, a: float, b: float) -> float:
        return b


class FakeLink:
    def __init__(self, clock: FakeClock, lifetime: float, error: BaseException | None) -> None:
        self.clock, self.lifetime, self.error = clock, lifetime, error

    async def wait_closed(self) -> BaseException | None:
        self.clock.now += self.lifetime
        await asyncio.sleep(0)
        return self.error


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """Scripted connects: each item is an exception to raise or a (lifetime, error) link."""

    def __init__(self, script: list[BaseException | tuple[float, BaseException | None]]) -> None:
        self.script = list(script)
        self.clock = FakeClock()
        self.delays: list[float] = []
        self.states: list[ConnectionStateChanged] = []
        self.calls = 0
        self.exhausted = asyncio.Event()

    async def connect(self) -> FakeLink:
        self.calls += 1
        if not self.script:
            self.exhausted.set()
            await asyncio.Event().wait()  # hang until stopped
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return FakeLink(self.clock, *item)

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self.clock.now += delay
        await asyncio.sleep(0)

    def machine(self, **kw: object) -> Reconnector:
        return Reconnector(
            self.connect,
            on_state=self.states.append,
            base=1.0,
            cap=16.0,
            healthy_after=10.0,
            sleep=self.sleep,
            clock=self.clock,
            rng=MaxRandom(),
            **kw,  # type: ignore[arg-type]
        )


def _names(states: list[ConnectionStateChanged]) -> list[str]:
    return [s.state.value for s in states]


async def test_backs_off_exponentially_and_resets_after_a_healthy_link() -> None:
    lost = ConnectionLost("bye", "shutting_down")
    h = Harness(
        [
            ConnectionRefusedError(),
            TimeoutError(),
            (0.5, lost),  # up, but dropped at once: keep backing off
            ConnectionRefusedError(),
            (60.0, lost),  # a healthy hour... well, minute: start over
            ConnectionRefusedError(),
            ConnectionRefusedError(),
            ConnectionRefusedError(),
            ConnectionRefusedError(),
            ConnectionRefusedError(),
        ]
    )
    rc = h.machine()
    rc.start()
    await asyncio.wait_for(h.exhausted.wait(), 5)
    assert h.delays == [1.0, 2.0, 4.0, 8.0, 1.0, 2.0, 4.0, 8.0, 16.0, 16.0]
    reconnecting = [s for s in h.states if s.state is ConnState.RECONNECTING]
    assert [s.retry_in for s in reconnecting] == h.delays
    assert isinstance(reconnecting[0].error, ConnectionRefusedError)
    assert reconnecting[2].error is lost
    assert _names(h.states)[:6] == [
        "connecting",
        "reconnecting",
        "connecting",
        "reconnecting",
        "connecting",
        "connected",
    ]
    assert rc.state is ConnState.CONNECTING
    await rc.stop()
    assert h.states[-1].state is ConnState.OFFLINE
    assert str(rc.state) == "offline"


@pytest.mark.parametrize(
    "error",
    [
        ServerError("auth_failed", "no"),
        CertificateMismatchError(
            "h", 1, "SHA256:" + "AA:" * 31 + "AA", "SHA256:" + "BB:" * 31 + "BB"
        ),
        ServerError("unsupported_version", "v2 only"),
    ],
)
async def test_non_retryable_failure_goes_offline(error: BaseException) -> None:
    h = Harness([ConnectionRefusedError(), error])
    rc = h.machine()
    rc.start()
    await asyncio.wait_for(rc.wait_stopped(), 5)
    assert _names(h.states) == ["connecting", "reconnecting", "connecting", "offline"]
    assert h.states[-1].error is error and rc.last_error is error
    assert h.calls == 2


async def test_retry_now_cuts_the_wait_short() -> None:
    connected = asyncio.Event()
    calls = 0

    async def connect() -> FakeLink:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionRefusedError()
        connected.set()
        await asyncio.Event().wait()
        raise AssertionError

    async def forever(delay: float) -> None:
        await asyncio.Event().wait()

    states: list[ConnectionStateChanged] = []
    waiting = asyncio.Event()

    def on_state(ev: ConnectionStateChanged) -> None:
        states.append(ev)
        if ev.state is ConnState.RECONNECTING:
            waiting.set()

    rc = Reconnector(connect, on_state=on_state, sleep=forever, base=30, cap=30)
    rc.start()
    await asyncio.wait_for(waiting.wait(), 5)
    assert states[-1].retry_in is not None and 0 <= states[-1].retry_in <= 30
    rc.retry_now()
    await asyncio.wait_for(connected.wait(), 5)
    assert calls == 2
    await rc.stop()
    assert rc.state is ConnState.OFFLINE


async def test_stop_while_connected_goes_offline() -> None:
    class Forever:
        async def wait_closed(self) -> BaseException | None:
            await asyncio.Event().wait()
            return None

    async def connect() -> Forever:
        return Forever()

    states: list[ConnectionStateChanged] = []
    up = asyncio.Event()

    def on_state(ev: ConnectionStateChanged) -> None:
        states.append(ev)
        if ev.state is ConnState.CONNECTED:
            up.set()

    rc = Reconnector(connect, on_state=on_state)
    rc.start()
    await asyncio.wait_for(up.wait(), 5)
    await rc.stop()
    assert _names(states) == ["connecting", "connected", "offline"]


async def test_real_delays_follow_full_jitter_bounds() -> None:
    h = Harness([ConnectionRefusedError()] * 8)
    rc = Reconnector(
        h.connect, sleep=h.sleep, base=0.5, cap=30.0, rng=random.Random(7), clock=h.clock
    )
    rc.start()
    await asyncio.wait_for(h.exhausted.wait(), 5)
    await rc.stop()
    ceilings = [min(30.0, 0.5 * 2**n) for n in range(8)]
    assert len(h.delays) == 8
    assert all(0 <= d <= c for d, c in zip(h.delays, ceilings, strict=True))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (None, True),
        (ConnectionLost("x"), True),
        (ConnectionLost("bye", "shutting_down"), True),
        (ConnectionLost("bye", "account_disabled"), False),
        (ServerError("login_throttled", "slow down"), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (ssl.SSLError("handshake interrupted"), True),
        (ServerError("shutting_down", "bye"), True),
        (ServerError("auth_failed", "no"), False),
        (ssl.SSLCertVerificationError("bad cert"), False),
        (ValueError("a bug"), False),
    ],
)
def test_is_retryable(exc: BaseException | None, expected: bool) -> None:
    assert is_retryable(exc) is expected
