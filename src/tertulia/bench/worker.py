"""A generator worker: one process, one event loop (uvloop when installed), many clients.

The parent drives workers with small commands over a pipe (``open`` a group of clients,
``blast`` or ``pace`` messages, ``collect`` what receivers saw, ``close``); each command returns
a JSON-friendly dict. Keeping the orchestration in the parent and the sockets in the workers
lets several processes share the load without sharing any state.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing.connection
import os
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tertulia.bench.clients import (
    BenchClientError,
    IrcClient,
    LoadClient,
    TertuliaClient,
    client_ssl_context,
)
from tertulia.bench.procstat import raise_nofile
from tertulia.bench.stats import Histogram, StreamCheck, format_payload, parse_payload

__all__ = ["worker_main"]

_MAX_ERRORS = 5


@dataclass
class Receiver:
    """What one receiving client saw."""

    cid: int
    check: StreamCheck = field(default_factory=StreamCheck)
    first_ns: int = 0
    last_ns: int = 0


@dataclass
class Group:
    kind: str
    clients: dict[int, LoadClient] = field(default_factory=dict)
    receivers: dict[int, Receiver] = field(default_factory=dict)
    latency: Histogram = field(default_factory=Histogram)


class Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.groups: dict[str, Group] = {}
        self.ctx = client_ssl_context()

    # ------------------------------------------------------------------ helpers
    def _callback(self, group: Group, rec: Receiver) -> Callable[[str, str, int], None]:
        check = rec.check
        latency = group.latency
        own = rec.cid

        def on_message(room: str, text: str, seq: int) -> None:
            now = time.monotonic_ns()
            if seq >= 0:
                check.see_seq(room, seq)
            parsed = parse_payload(text)
            if parsed is None:
                return
            sender, counter, sent_ns = parsed
            if sender == own:
                return  # Tertulia echoes a message to its sender too; only others count
            check.see(sender, counter)
            if sent_ns:
                latency.record((now - sent_ns) / 1e9)
            if not rec.first_ns:
                rec.first_ns = now
            rec.last_ns = now

        return on_message

    def _new_client(self, kind: str, group: Group, cid: int, receive: bool) -> LoadClient:
        cb = None
        if receive:
            rec = group.receivers.get(cid)
            if rec is None:
                rec = group.receivers[cid] = Receiver(cid)
            cb = self._callback(group, rec)
        cls = TertuliaClient if kind == "tertulia" else IrcClient
        return cls(f"u{cid}", cb)

    # ------------------------------------------------------------------ commands
    async def open(
        self,
        *,
        group: str,
        kind: str,
        host: str,
        port: int,
        ids: list[int],
        password: str,
        rooms: list[str],
        receive: bool,
        concurrency: int,
        timeout: float,
        cursors: bool = False,
    ) -> dict[str, Any]:
        """Connect, log in and join ``rooms`` for each client id; at most ``concurrency`` at once.

        With ``cursors`` (reconnect storm) an existing group's clients come back: they log in
        again and ``sync`` every room from the last ``seq`` they saw.
        """
        g = self.groups.get(group)
        previous: dict[int, LoadClient] = {}
        if g is None or not cursors:
            g = self.groups[group] = Group(kind)
        else:
            previous = dict(g.clients)
        sem = asyncio.Semaphore(max(1, concurrency))
        times = Histogram()
        errors: list[str] = []
        failed = 0
        replayed = 0
        resumed = 0

        async def one(cid: int) -> None:
            nonlocal failed, replayed, resumed
            async with sem:
                t0 = time.monotonic()
                client = self._new_client(kind, g, cid, receive)
                old = previous.get(cid)
                try:
                    await client.connect(host, port, self.ctx, timeout)
                    token = old.token if isinstance(old, TertuliaClient) else None
                    if isinstance(client, TertuliaClient) and token:
                        await client.resume(token, timeout)
                        resumed += 1
                    else:
                        await client.login(f"u{cid}", password, timeout)
                    if isinstance(client, TertuliaClient) and isinstance(old, TertuliaClient):
                        want = {r: old.cursors.get(r, 0) for r in rooms}
                        synced = await client.sync(want, timeout)
                        replayed += sum(synced[r] - old.cursors.get(r, 0) for r in synced)
                    else:
                        for room in rooms:
                            await client.join(room, timeout)
                except (BenchClientError, OSError, TimeoutError) as exc:
                    failed += 1
                    if len(errors) < _MAX_ERRORS:
                        errors.append(f"u{cid}: {type(exc).__name__}: {exc}")
                    client.abort()
                    return
                times.record(time.monotonic() - t0)
                g.clients[cid] = client

        started = time.monotonic()
        await asyncio.gather(*(one(cid) for cid in ids))
        return {
            "connected": len(ids) - failed,
            "failed": failed,
            "errors": errors,
            "elapsed": time.monotonic() - started,
            "times": times.to_json(),
            "replayed": replayed,
            "resumed": resumed,
        }

    async def blast(
        self,
        *,
        group: str,
        room: str,
        senders: list[int],
        duration: float,
        window: int,
        batch: int,
        size: int,
    ) -> dict[str, Any]:
        """Each sender sends as fast as its window of unacknowledged messages allows."""
        g = self.groups[group]
        deadline = time.monotonic() + duration

        async def run(cid: int) -> None:
            client = g.clients[cid]
            while time.monotonic() < deadline and not client.is_closed:
                await client.wait_window(window - batch + 1)
                now = time.monotonic_ns()
                first = client.counter
                client.send_batch(
                    room, [format_payload(cid, first + i, now, size) for i in range(batch)]
                )
                client.counter += batch
            await client.flush_acks(30.0)

        return await self._senders(g, senders, run)

    async def pace(
        self,
        *,
        group: str,
        room: str,
        senders: list[int],
        duration: float,
        rate: float,
        size: int,
        tick: float = 0.005,
    ) -> dict[str, Any]:
        """Each sender sends ``rate`` messages per second, evenly, for ``duration`` seconds."""
        g = self.groups[group]
        loop = asyncio.get_running_loop()

        async def run(cid: int) -> None:
            client = g.clients[cid]
            # stagger senders so their ticks do not all land in the same loop pass
            await asyncio.sleep((cid % 97) / 97 * tick)
            start = loop.time()
            counter = 0
            base = client.counter
            total = int(rate * duration)
            while counter < total and not client.is_closed:
                due = min(total, int((loop.time() - start) * rate) + 1)
                if due > counter:
                    now = time.monotonic_ns()
                    client.send_batch(
                        room,
                        [
                            format_payload(cid, base + counter + i, now, size)
                            for i in range(due - counter)
                        ],
                    )
                    counter = due
                    client.counter = base + counter
                next_at = start + counter / rate
                await asyncio.sleep(max(0.0, next_at - loop.time()))
            await client.flush_acks(30.0)

        return await self._senders(g, senders, run)

    async def _senders(
        self, g: Group, senders: list[int], run: Callable[[int], Awaitable[None]]
    ) -> dict[str, Any]:
        started = time.monotonic_ns()
        results = await asyncio.gather(*(run(cid) for cid in senders), return_exceptions=True)
        errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
        ack = Histogram()
        sent: dict[str, int] = {}
        for cid in senders:
            client = g.clients[cid]
            ack.merge(client.ack_hist)
            sent[str(cid)] = client.acked
            if client.error:
                errors.append(f"u{cid}: {client.error}")
        return {
            "started_ns": started,
            "ended_ns": time.monotonic_ns(),
            "sent": sent,
            "ack": ack.to_json(),
            "errors": errors[:_MAX_ERRORS],
        }

    async def collect(self, *, group: str, sent: dict[str, int], timeout: float) -> dict[str, Any]:
        """Wait until every receiver has seen everything ``sent`` (or time out), then report."""
        g = self.groups[group]
        expected = {int(k): v for k, v in sent.items()}
        deadline = time.monotonic() + timeout

        def missing() -> int:
            total = 0
            for rec in g.receivers.values():
                nxt = rec.check.next
                for sender, n in expected.items():
                    if sender != rec.cid:
                        total += max(0, n - nxt.get(sender, 0))
            return total

        while missing() and time.monotonic() < deadline:  # noqa: ASYNC110 - polls counters
            await asyncio.sleep(0.05)
        totals = {"received": 0, "lost": 0, "duplicated": 0, "reordered": 0}
        first, last = 0, 0
        for rec in g.receivers.values():
            want = {s: n for s, n in expected.items() if s != rec.cid}
            for key, value in rec.check.settle(want).items():
                totals[key] += value
            if rec.first_ns and (not first or rec.first_ns < first):
                first = rec.first_ns
            last = max(last, rec.last_ns)
        closed = sum(1 for c in g.clients.values() if c.is_closed)
        return {
            **totals,
            "receivers": len(g.receivers),
            "closed_clients": closed,
            "first_ns": first,
            "last_ns": last,
            "latency": g.latency.to_json(),
        }

    async def sync_all(
        self, *, group: str, cursors: dict[str, int], concurrency: int, timeout: float
    ) -> dict[str, Any]:
        """Every client of ``group`` replays ``cursors`` with ``sync`` (history catch-up)."""
        g = self.groups[group]
        sem = asyncio.Semaphore(max(1, concurrency))
        times = Histogram()
        errors: list[str] = []

        async def one(client: LoadClient) -> None:
            async with sem:
                t0 = time.monotonic()
                try:
                    assert isinstance(client, TertuliaClient)
                    await client.sync(dict(cursors), timeout)
                except (BenchClientError, OSError, TimeoutError) as exc:
                    errors.append(f"{client.name}: {type(exc).__name__}: {exc}")
                    return
                times.record(time.monotonic() - t0)

        started = time.monotonic()
        await asyncio.gather(*(one(c) for c in g.clients.values()))
        return {
            "elapsed": time.monotonic() - started,
            "times": times.to_json(),
            "failed": len(errors),
            "errors": errors[:_MAX_ERRORS],
        }

    async def reset(self, *, group: str) -> dict[str, Any]:
        """Forget what receivers saw so far (between a warm-up and the measured run)."""
        g = self.groups[group]
        g.latency = Histogram()
        for rec in g.receivers.values():
            rec.first_ns = rec.last_ns = 0
        for client in g.clients.values():
            client.ack_hist = Histogram()
        return {}

    async def close(self, *, group: str, linger: float = 2.0) -> dict[str, Any]:
        g = self.groups.pop(group, None)
        if g is None:
            return {"closed": 0}
        for client in g.clients.values():
            client.close()
        waits = [c.closed for c in g.clients.values() if not c.closed.done()]
        if waits:
            await asyncio.wait(waits, timeout=linger)
        for client in g.clients.values():
            if not client.closed.done():
                client.abort()
        return {"closed": len(g.clients)}

    async def drop(self, *, group: str) -> dict[str, Any]:
        """Abort every connection of ``group`` but keep its state (for a reconnect storm)."""
        g = self.groups[group]
        for client in g.clients.values():
            client.abort()
        return {"dropped": len(g.clients)}

    async def alive(self, *, group: str) -> dict[str, Any]:
        g = self.groups.get(group)
        if g is None:
            return {"alive": 0}
        return {"alive": sum(1 for c in g.clients.values() if not c.is_closed)}

    async def cpu(self) -> dict[str, Any]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu": ru.ru_utime + ru.ru_stime, "pid": os.getpid()}


async def _serve(conn: multiprocessing.connection.Connection, index: int) -> None:
    worker = Worker(index)
    loop = asyncio.get_running_loop()
    while True:
        cmd = await loop.run_in_executor(None, conn.recv)
        if cmd is None:
            break
        seq, name, kwargs = cmd
        try:
            result = await getattr(worker, name)(**kwargs)
            conn.send((seq, "ok", result))
        except Exception as exc:
            conn.send((seq, "error", f"{type(exc).__name__}: {exc}"))
    for group in list(worker.groups):
        with contextlib.suppress(Exception):
            await worker.close(group=group, linger=0.5)


def worker_main(conn: multiprocessing.connection.Connection, index: int) -> None:
    """Process entry point: serve commands until the parent sends ``None``."""
    raise_nofile()
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(conn, index))
    else:
        uvloop.run(_serve(conn, index))
