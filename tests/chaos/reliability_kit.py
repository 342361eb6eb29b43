"""Helpers for the reliability scenarios: client swarms, message collection, figures.

Figures (latencies, times, memory) are printed and, when ``TERTULIA_FIGURES`` names a file,
appended to it as JSON lines; ``scripts/reliability_report.py`` turns them into
``docs/reliability.md``. ``TERTULIA_RELIABILITY_FULL=1`` runs the scenarios at full size.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable
from typing import Any

from order_checker import TotalOrderChecker

from tertulia.client import Client
from tertulia.client.trust import TrustPolicy
from tertulia.proto import messages as m
from tertulia_testkit import PASSWORD, SCALE

FULL = os.environ.get("TERTULIA_RELIABILITY_FULL") == "1"


def size(small: int, full: int) -> int:
    """The scenario size: small in ``make test``, full for the documented figures."""
    return full if FULL else small


def record_figures(scenario: str, **figures: Any) -> None:
    line = {"scenario": scenario, "full": FULL, **figures}
    print(f"\nFIGURES {json.dumps(line)}")
    path = os.environ.get("TERTULIA_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


def make_client(
    host: str,
    port: int,
    fingerprint: str,
    user: str,
    *,
    rooms: Iterable[str] = ("r",),
    cursors: dict[str, int] | None = None,
    **kw: Any,
) -> Client:
    kw.setdefault("backoff_base", 0.2)
    kw.setdefault("backoff_cap", 2.0)
    return Client(
        host,
        port,
        user,
        PASSWORD,
        trust=TrustPolicy(fingerprint=fingerprint),
        rooms=list(rooms),
        cursors=cursors if cursors is not None else {r: 0 for r in rooms},
        **kw,
    )


async def register_all(host: str, port: int, fingerprint: str, users: Iterable[str]) -> None:
    for user in users:
        await make_client(host, port, fingerprint, user).register()


class Collector:
    """Records every message a client hands to the application into a checker."""

    def __init__(self, checker: TotalOrderChecker, name: str, client: Client) -> None:
        self.name = name
        self.count = 0
        self.latencies: list[float] = []
        self._checker = checker
        self._changed = asyncio.Event()

        @client.on_message
        def _got(msg: m.Message) -> None:
            checker.record(name, msg.room, msg.seq, msg.msg_id)
            self.latencies.append(time.time() * 1000 - msg.ts)
            self.count += 1
            self._changed.set()

    async def wait_for(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout * SCALE
        while self.count < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name} got {self.count} of {n} messages")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def close_all(clients: Iterable[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")
