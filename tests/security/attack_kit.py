"""Measuring an attack the same way every time: an honest pair chatting beside it, the server's
RSS sampled from ``/proc``, and one figures record per attack.

Every hostile-client test uses :func:`under_attack`: it logs in two honest users (alice sends
to bob every 50 ms in their own room), samples the server's resident memory every 50 ms, runs
the attack, lets the chat go on for a moment afterwards, and returns :class:`AttackFigures`:
the honest latency at rest, during and after the attack, and RSS before, at its peak and
after. It asserts what must hold whatever the machine: every honest message arrived exactly
once and in order. It asserts no timing (the figures depend on the machine's load); tests
assert their own bounds (memory per connection, say) with generous margins.

The figures are printed, and when ``TERTULIA_ATTACK_FIGURES`` names a file each record is
appended to it as one JSON line: ``make security-figures`` runs the hostile suite that way and
writes the table in docs/security.md from them (scripts/security_figures.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tertulia.proto import messages as m
from tertulia_testkit import SCALE, RawClient, ServerProcess

__all__ = ["AttackFigures", "HonestChat", "RssSampler", "honest_pair", "rss_kib", "under_attack"]

FIGURES_ENV = "TERTULIA_ATTACK_FIGURES"


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB (what the allocator really holds)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds while running: before, peak, now."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.before = rss_kib(pid)
        self.peak = self.before
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, rss_kib(self.pid))
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def now(self) -> int:
        return rss_kib(self.pid)


class HonestChat:
    """alice -> bob every 50 ms; latency per phase, and a check that nothing is lost."""

    def __init__(self, alice: RawClient, bob: RawClient, room: str = "lobby") -> None:
        self.alice, self.bob, self.room = alice, bob, room
        self.phase = "rest"
        self.sent: dict[str, tuple[str, float]] = {}
        self.latency: dict[str, list[float]] = {}
        self.received: list[int] = []
        #: msg_ids bob received
        self.got: set[str] = set()
        self.stop = asyncio.Event()
        self._prefix = f"h{id(self)}-"

    async def send_loop(self) -> None:
        i = 0
        while not self.stop.is_set():
            mid = f"{self._prefix}{i}"
            self.sent[mid] = (self.phase, time.monotonic())
            self.alice.send_nowait(
                m.Send(id=self.alice.next_id(), room=self.room, msg_id=mid, text="hi")
            )
            i += 1
            await asyncio.sleep(0.05)

    async def receive_loop(self) -> None:
        while True:
            ev = await self.bob.events.get()
            if isinstance(ev, m.Message) and ev.msg_id in self.sent:
                phase, t0 = self.sent[ev.msg_id]
                self.latency.setdefault(phase, []).append((time.monotonic() - t0) * 1000)
                self.received.append(ev.seq)
                self.got.add(ev.msg_id)

    async def wait_all_received(self, timeout: float = 15.0) -> None:
        """Until bob has every message alice has sent so far (bounded); then check that each
        arrived once and in order (the send loop may go on meanwhile)."""
        due = set(self.sent)
        deadline = time.monotonic() + timeout * SCALE
        while not due <= self.got and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        missing = due - self.got
        assert not missing, f"{len(missing)} honest messages never arrived"
        assert self.received == sorted(self.received)
        assert len(set(self.received)) == len(self.received), "a message arrived twice"

    def percentiles(self, phase: str) -> dict[str, float | int]:
        xs = sorted(self.latency.get(phase, []))
        if not xs:
            return {"n": 0}
        return {
            "n": len(xs),
            "p50_ms": round(statistics.median(xs), 1),
            "p99_ms": round(xs[min(len(xs) - 1, int(len(xs) * 0.99))], 1),
            "max_ms": round(xs[-1], 1),
        }

    def report(self) -> str:
        lines = [f"{'phase':<16} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
        for phase in self.latency:
            p = self.percentiles(phase)
            lines.append(
                f"{phase:<16} {p['n']:>4} {p['p50_ms']:>8.1f} {p['p99_ms']:>8.1f}"
                f" {p['max_ms']:>8.1f}"
            )
        return "\n".join(lines)


@dataclass
class AttackFigures:
    attack: str
    seconds: float
    #: honest latency per phase: {"rest"|"attack"|"after": {"n", "p50_ms", "p99_ms", "max_ms"}}
    honest: dict[str, dict[str, float | int]]
    rss_before_kib: int
    rss_peak_kib: int
    rss_after_kib: int
    #: what the attack itself reported (refusals counted, connections held, ...)
    notes: dict[str, Any] = field(default_factory=dict)
    load_avg: float = field(default_factory=lambda: os.getloadavg()[0])

    def line(self) -> str:
        a = self.honest.get("attack", {})
        return (
            f"{self.attack}: {self.seconds:.1f} s; honest p50/p99/max during the attack "
            f"{a.get('p50_ms', '-')}/{a.get('p99_ms', '-')}/{a.get('max_ms', '-')} ms; server RSS"
            f" {self.rss_before_kib} -> peak {self.rss_peak_kib} -> {self.rss_after_kib} KiB"
            f"; load {self.load_avg:.2f}; {self.notes}"
        )


def _record(figures: AttackFigures) -> None:
    """Append ``figures`` as a JSON line to ``$TERTULIA_ATTACK_FIGURES``, when it is set."""
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(figures)) + "\n")


@contextlib.asynccontextmanager
async def honest_pair(
    srv: ServerProcess, room: str = "lobby", names: tuple[str, str] = ("alice", "bob")
) -> AsyncIterator[HonestChat]:
    """Two honest users in their own room, chatting for as long as the block runs."""
    alice = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await alice.login(names[0], register=True)
    await alice.request(m.CreateRoom(id=alice.next_id(), room=room))
    bob = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await bob.login(names[1], register=True)
    await bob.request(m.Join(id=bob.next_id(), room=room))
    chat = HonestChat(alice, bob, room)
    tasks = [asyncio.create_task(chat.send_loop()), asyncio.create_task(chat.receive_loop())]
    try:
        yield chat
    finally:
        chat.stop.set()
        await tasks[0]
        with contextlib.suppress(AssertionError):
            await chat.wait_all_received()
        tasks[1].cancel()
        await alice.close()
        await bob.close()


async def under_attack(
    srv: ServerProcess,
    name: str,
    attack: Callable[[], Awaitable[dict[str, Any] | None]],
    *,
    rest: float = 1.0,
    after: float = 1.0,
    honest: HonestChat | None = None,
) -> AttackFigures:
    """Run ``attack()`` while an honest pair chats; measure, check delivery, record figures.

    ``attack`` returns notes for the record (or None). Pass ``honest`` to reuse a pair already
    chatting (several attacks in one test); otherwise a pair is made for this attack.
    """
    assert srv.proc is not None
    async with contextlib.AsyncExitStack() as stack:
        chat = honest or await stack.enter_async_context(honest_pair(srv))
        sampler = RssSampler(srv.proc.pid)
        sampler.start()
        chat.phase = "rest"
        await asyncio.sleep(rest)
        chat.phase = "attack"
        t0 = time.monotonic()
        notes = await asyncio.wait_for(attack(), 120 * SCALE)
        seconds = time.monotonic() - t0
        chat.phase = "after"
        await asyncio.sleep(after)
        await chat.wait_all_received()
        await sampler.stop()
        figures = AttackFigures(
            attack=name,
            seconds=round(seconds, 2),
            honest={p: chat.percentiles(p) for p in ("rest", "attack", "after")},
            rss_before_kib=sampler.before,
            rss_peak_kib=sampler.peak,
            rss_after_kib=sampler.now(),
            notes=notes or {},
        )
        if honest is not None:  # a shared pair: the next attack's phases start afresh
            chat.latency.clear()
    print(figures.line())
    _record(figures)
    assert srv.proc is not None and srv.proc.poll() is None, "the server died under the attack"
    return figures
