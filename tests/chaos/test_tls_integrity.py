"""Message integrity, shown (issue 12, item 13): a proxy flips one bit of one TLS record in each
direction; the receiver detects it (bad record MAC), the server logs it at WARNING and counts
it in a metric, the client reconnects, and every message is stored and delivered exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.request

import pytest
from faultproxy import FaultProxy
from reliability_kit import make_client

from tertulia.proto import messages as m
from tertulia_testkit import SCALE, RawClient, ServerProcess

pytestmark = pytest.mark.timeout(120)


def integrity_metric(srv: ServerProcess) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.http_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {
        mo.group(1): float(mo.group(2))
        for mo in re.finditer(
            r'^tertulia_tls_integrity_failures_total\{detected="(\w+)"\} (\S+)$', text, re.M
        )
    }


async def wait_for(cond: object, what: str, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout * SCALE
    while not cond():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def test_flipped_tls_byte_is_detected_and_the_message_arrives_once(
    server_proc_factory: object, caplog: pytest.LogCaptureFixture
) -> None:
    srv: ServerProcess = server_proc_factory("srv", start=False)  # type: ignore[operator]
    srv.log_args = ["--log-level", "INFO"]
    srv.start()
    caplog.set_level(logging.WARNING, "tertulia.client.connection")
    bob = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await bob.login("bob", register=True)
    await bob.request(m.CreateRoom(id=bob.next_id(), room="r"))
    async with FaultProxy(("127.0.0.1", srv.port)) as proxy:
        alice = make_client("127.0.0.1", proxy.port, srv.fingerprint, "alice")
        await alice.register()
        await asyncio.wait_for(alice.start(), 15 * SCALE)
        try:
            first = await alice.send("r", "warm-up")
            await asyncio.wait_for(first.acked(), 10 * SCALE)
            sent = ["warm-up"]
            for direction in ("up", "down"):
                before = proxy.connections_total
                assert proxy.flip_byte(direction) == 1
                text = f"through a flipped byte {direction}"
                entry = await alice.send("r", text)
                sent.append(text)
                await wait_for(lambda d=direction: proxy.flipped[d] == 1, f"no {direction} flip")
                await asyncio.wait_for(entry.acked(), 20 * SCALE)
                assert proxy.connections_total > before, "the client did not reconnect"
            # every message delivered to bob once, in order, and stored once
            got: list[str] = []
            while len(got) < len(sent):
                ev = await bob.event(m.Message, room="r")
                got.append(ev.text)
            page = await bob.request(m.History(id=bob.next_id(), room="r", limit=50))
            assert [x.text for x in page.messages] == sent
            assert got == sent
            # nothing more arrives: a ping answered proves the queue before it is empty
            await bob.request(m.Ping(id=bob.next_id()))
            extra = []
            while not bob.events.empty():
                if isinstance(ev := bob.events.get_nowait(), m.Message):
                    extra.append(ev)
            assert extra == []
        finally:
            await alice.close()
    await bob.close()
    log = srv.stderr_path.read_text()
    warned = [ln for ln in log.splitlines() if "failed its integrity check" in ln]
    print("\n".join(warned))
    assert any("WARNING" in ln and "a TLS record from" in ln for ln in warned), log[-3000:]
    counts = integrity_metric(srv)
    assert counts.get("here", 0) >= 1, counts  # the flip up: detected by the server
    # the flip down: detected by the client, which says so
    assert any("TLS integrity check failed" in r.getMessage() for r in caplog.records)
    srv.stop()
