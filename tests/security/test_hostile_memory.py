"""Issue 12, item 4: what a client that asks and never reads can make the server hold.

Before, a ``sync`` whose client never read held ~21 MiB in the server (a 500-row page waited
in ``commands.sync`` while ``drain()`` blocked with ~4 MB queued, just under the 4 MiB
slow-consumer threshold); 32 of them took the server from 66 to 736 MiB RSS, and 617 MiB were
still held after they had gone. Here, against a live server process whose room holds 1,500
4,000-character messages (8 kB of UTF-8 each: 12 MB of history), 32 connections send
``sync`` and stop reading, then 32 more pipeline 20 ``history`` requests of 200 messages and
stop reading, while an honest pair chats. The server's RSS (from /proc, what the allocator
really holds) must grow by at most the stated per-connection bound (docs/security.md, "Memory
per connection") and come back once the connections are gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attack_kit import rss_kib, under_attack
from seed_kit import seed

from tertulia.proto import encode
from tertulia.proto import messages as m
from tertulia.server.status import query_status
from tertulia_testkit import SCALE, RawClient, ServerProcess

LIMITS = """
[limits]
exempt_networks = []
max_connections_per_ip = 64
"""
BIG = "\u00e9" * 4000  # 8,000 bytes of UTF-8: a 500-row page is just under 4 MiB
MESSAGES = 1500
CONNECTIONS = 32
#: the stated bound per connection (docs/security.md), with room for TLS and asyncio objects
PER_CONNECTION_KIB = 2 * 1024
#: RSS that may stay after three waves (allocator and SQLite caches; before: 617 MiB after one)
LEFT_OVER_KIB = 96 * 1024


async def _non_reader(srv: ServerProcess, ip: str, user: str) -> RawClient:
    c = await RawClient.connect(srv.host, srv.port, source=ip)
    await c.login(user)
    c._task.cancel()  # from now on nothing reads: the kernel buffers fill, then the server's
    return c


async def _settled(srv: ServerProcess, users: set[str], *, want_queued: bool) -> None:
    """Until every attacking connection has output queued (bounded: a server that dropped
    some goes on being measured), or until none is left (which must happen)."""
    deadline = time.monotonic() + (10 if want_queued else 60) * SCALE
    while time.monotonic() < deadline:
        status: Any = await query_status(srv.data_dir)
        conns = [c for u in status["users"] if u["user"] in users for c in u["connections"]]
        if want_queued and len(conns) == len(users) and all(c["queued_bytes"] for c in conns):
            return
        if not want_queued and not conns:
            return
        await asyncio.sleep(0.2)
    if want_queued:
        return
    raise AssertionError(f"attack connections did not settle: {conns}")


async def test_clients_that_never_read_hold_a_bounded_amount(
    server_proc_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    attackers = [f"m{i}" for i in range(CONNECTIONS)]
    await seed(
        tmp_path / "srv",
        users=["writer", *attackers],
        rooms=[("big", "writer", "")],
        members=[("big", u) for u in attackers],
        messages=[("big", "writer", BIG)] * MESSAGES,
    )
    srv = server_proc_factory("srv", extra_toml=LIMITS)
    assert srv.proc is not None
    pid = srv.proc.pid
    results: dict[str, Any] = {}

    async def wave(kind: str) -> None:
        base = rss_kib(pid)
        clients = []
        for i, user in enumerate(attackers):
            c = await _non_reader(srv, f"127.0.0.{10 + i % 8}", user)
            if kind == "sync":
                c.write_raw(encode(m.Sync(id=1, cursors={"big": 0})))
            else:
                c.write_raw(
                    b"".join(encode(m.History(id=j, room="big", limit=200)) for j in range(20))
                )
            clients.append(c)
        await _settled(srv, set(attackers), want_queued=True)
        peak = base
        for _ in range(20):  # the server is paced by the peers now: sample for a while
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(0.1)
        for c in clients:
            c.writer.transport.abort()
        await _settled(srv, set(attackers), want_queued=False)
        await asyncio.sleep(3.0)  # the server trims its heap at most every 2 s
        results[kind] = {
            "rss_before_kib": base,
            "rss_peak_kib": peak,
            "rss_after_kib": rss_kib(pid),
            "per_connection_kib": round((peak - base) / CONNECTIONS),
        }

    async def attack() -> dict[str, Any]:
        start = rss_kib(pid)
        await wave("sync")
        await wave("history")
        await wave("sync")  # a second wave: what the first left is reused, not added to
        results["left_over_kib"] = rss_kib(pid) - start
        return results

    await under_attack(srv, f"{CONNECTIONS} non-reading sync/history clients", attack)
    print(results)
    for kind in ("sync", "history"):
        r = results[kind]
        assert r["rss_peak_kib"] - r["rss_before_kib"] <= CONNECTIONS * PER_CONNECTION_KIB, r
    assert results["left_over_kib"] <= LEFT_OVER_KIB, results
