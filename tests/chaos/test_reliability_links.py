"""Reliability scenarios 1, 3 and 5: link resets, concurrent resends, half-open links.

Clients use the real client library (reconnect, outbox, resume) over real TLS, through a
fault-injecting proxy on 127.0.0.1; a total-order checker judges what each receiver got.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from faultproxy import FaultProxy
from order_checker import TotalOrderChecker
from reliability_kit import (
    Collector,
    close_all,
    make_client,
    record_figures,
    register_all,
    size,
)

from tertulia.client import ConnState
from tertulia.proto import messages as m
from tertulia_testkit import SCALE, InProcessServer, RawClient


async def test_link_resets_while_five_senders_push(tls_server: InProcessServer) -> None:
    """Scenario 1: resets at random moments; every receiver gets every message once, in order."""
    per_sender = size(200, 200)
    senders = [f"sender{i}" for i in range(5)]
    receivers = [f"recv{i}" for i in range(3)]
    host, port, fp = tls_server.host, tls_server.port, tls_server.fingerprint
    await register_all(host, port, fp, senders + receivers)
    checker = TotalOrderChecker()
    async with FaultProxy((host, port)) as proxy:
        recv_clients = [make_client(host, proxy.port, fp, r) for r in receivers]
        collectors = [
            Collector(checker, r, c) for r, c in zip(receivers, recv_clients, strict=True)
        ]
        for c in recv_clients:
            await asyncio.wait_for(c.start(), 20 * SCALE)
        send_clients = [make_client(host, proxy.port, fp, s) for s in senders]
        for c in send_clients:
            await asyncio.wait_for(c.start(), 20 * SCALE)
        chaos = proxy.chaos_task(4.0, random.Random(7), max_resets=12, duration=20.0)
        entries = []
        for i in range(per_sender):
            for sc, name in zip(send_clients, senders, strict=True):
                entries.append(await sc.send("r", f"{name} #{i}"))
            if i % 20 == 0:
                await asyncio.sleep(0.05)  # spread the load over the chaos window
        for sc in send_clients:
            failed = await asyncio.wait_for(sc.flush(), 60 * SCALE)
            assert failed == []
        resets = await chaos
        total = len(senders) * per_sender
        for col in collectors:
            await col.wait_for(total, 60)
        acked = {}
        for e in entries:
            assert e.sent is not None
            acked[e.msg_id] = (e.room, e.sent.seq)
        checker.assert_perfect(acked=acked, attempted=set(acked))
        assert sorted(seq for _, seq in acked.values()) == list(range(1, total + 1))
        record_figures(
            "link_resets",
            messages=total,
            resets=resets,
            receivers=len(receivers),
            proxied_connections=proxy.connections_total,
        )
        assert resets > 0
        await close_all(recv_clients + send_clients)


async def test_same_msg_id_on_two_connections_is_stored_once(
    tls_server: InProcessServer, raw_client_factory: Callable[..., Any]
) -> None:
    """Scenario 3: one account, two devices, the same msg_id sent at the same moment."""
    phone = await raw_client_factory("alice")
    laptop = await raw_client_factory("alice", register=False)
    await phone.request(m.CreateRoom(id=1, room="r"))
    for round_ in range(20):
        mid = f"dup-{round_}"
        a = phone.send_nowait(m.Send(id=100 + round_, room="r", msg_id=mid, text="once"))
        b = laptop.send_nowait(m.Send(id=100 + round_, room="r", msg_id=mid, text="once"))
        ra, rb = await asyncio.gather(a, b)
        assert isinstance(ra, m.Sent) and isinstance(rb, m.Sent)
        assert ra.seq == rb.seq and {ra.duplicate, rb.duplicate} == {False, True}
    page = await phone.request(m.History(id=2, room="r", limit=200))
    assert [x.msg_id for x in page.messages] == [f"dup-{i}" for i in range(20)]
    assert [x.seq for x in page.messages] == list(range(1, 21))


async def test_half_open_link_is_noticed_and_recovered(tmp_path: Any) -> None:
    """Scenario 5: a blackholed link (no FIN, no RST) is detected by heartbeats."""
    srv = InProcessServer(tmp_path / "srv")
    await srv.start()
    assert srv.server is not None
    srv.server.config.heartbeat.interval = 1.0
    srv.server.config.heartbeat.timeout = 1.0
    host, port, fp = srv.host, srv.port, srv.fingerprint
    await register_all(host, port, fp, ["alice", "bob"])
    checker = TotalOrderChecker()
    async with FaultProxy((host, port)) as proxy:
        alice = make_client(host, proxy.port, fp, "alice")
        bob = make_client(host, port, fp, "bob")  # direct, unaffected
        col = Collector(checker, "alice", alice)
        states: list[tuple[float, ConnState]] = []
        stream = alice.events()
        await alice.start()
        await bob.start()
        first = await (await bob.send("r", "before")).acked()
        await col.wait_for(1, 10)

        async def watch() -> None:
            async for ev in stream:
                if hasattr(ev, "state"):
                    states.append((time.monotonic(), ev.state))

        watcher = asyncio.ensure_future(watch())
        proxy.blackhole(True)
        cut_at = time.monotonic()
        during = await (await bob.send("r", "during the outage")).acked()
        # alice's client must notice the silent link by itself (2 intervals + slack, ~3 s)
        deadline = time.monotonic() + 15 * SCALE
        while not any(s is ConnState.RECONNECTING for _, s in states):
            assert time.monotonic() < deadline, "half-open link not detected"
            await asyncio.sleep(0.05)
        detected = next(t for t, s in states if s is ConnState.RECONNECTING) - cut_at
        proxy.blackhole(False)
        await col.wait_for(2, 20)
        recovered = time.monotonic() - cut_at
        checker.assert_perfect(
            acked={first.msg_id: ("r", first.seq), during.msg_id: ("r", during.seq)}
        )
        record_figures(
            "half_open",
            heartbeat_interval=1.0,
            detected_after_s=round(detected, 2),
            delivered_after_s=round(recovered, 2),
        )
        watcher.cancel()
        stream.close()
        await close_all([alice, bob])
    await srv.stop()


async def test_connect_and_drop_leaks_no_python_memory(tls_server: InProcessServer) -> None:
    """Scenario 7, exactly: after warm-up, more waves of connections allocate nothing lasting.

    tracemalloc counts live Python allocations (server and test share this process, and both
    must come back to the same total); RSS alone cannot tell a leak from allocator retention.
    """
    host, port, fp = tls_server.host, tls_server.port, tls_server.fingerprint
    await register_all(host, port, fp, ["alice"])
    assert tls_server.server is not None
    tls_server.server.hub.session_grace = 0.0
    sem = asyncio.Semaphore(100)

    async def one(login: bool) -> None:
        async with sem:
            c = await RawClient.connect(host, port, fingerprint=fp)
            try:
                await (c.login("alice") if login else c.hello())
            finally:
                await c.close()

    async def wave() -> int:
        await asyncio.gather(*(one(i % 4 == 0) for i in range(500)))
        deadline = time.monotonic() + 10 * SCALE
        while tls_server.server is not None and tls_server.server.sessions:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        gc.collect()
        return tracemalloc.get_traced_memory()[0]

    await wave()
    tracemalloc.start()
    try:
        first = await wave()
        await wave()
        last = await wave()
    finally:
        tracemalloc.stop()
    record_figures(
        "connect_drop_tracemalloc",
        connections_per_wave=500,
        traced_kb_after_wave2=first // 1024,
        traced_kb_after_wave4=last // 1024,
    )
    assert last - first < 256 * 1024, f"live Python memory grew by {(last - first) // 1024} KiB"
