"""kill -9 of the server process: acknowledged messages survive, seq has no gap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tertulia.proto import messages as m
from tertulia_testkit import RawClient


async def test_kill9_after_ack_keeps_the_message(server_proc_factory: Callable[..., Any]) -> None:
    srv = server_proc_factory()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("alice", register=True)
    await c.request(m.CreateRoom(id=1, room="r"))
    acks = []
    futs = [
        c.send_nowait(m.Send(id=100 + i, room="r", msg_id=f"k{i}", text=f"t{i}")) for i in range(50)
    ]
    acks.append(await futs[0])
    srv.kill()  # right after the first ack, with more in flight
    for f in futs[1:]:
        try:
            reply = await f
        except ConnectionError:
            continue
        if isinstance(reply, m.Sent):
            acks.append(reply)
    await c.close()
    srv.start()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("alice")
    page = await c.request(m.History(id=2, room="r", limit=200))
    stored = {x.msg_id: x.seq for x in page.messages}
    for ack in acks:
        assert stored[ack.msg_id] == ack.seq
    assert sorted(stored.values()) == list(range(1, len(stored) + 1))
    # resending everything stores only what was missing, still gap-free
    for i in range(50):
        await c.request(m.Send(id=300 + i, room="r", msg_id=f"k{i}", text=f"t{i}"))
    page = await c.request(m.History(id=3, room="r", limit=200))
    assert [x.seq for x in page.messages] == list(range(1, 51))
    await c.close()
    assert srv.terminate() == 0


async def test_sigterm_finishes_commits_in_flight(server_proc_factory: Callable[..., Any]) -> None:
    """Graceful shutdown: every send the server took in is acknowledged before it exits."""
    srv = server_proc_factory()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("alice", register=True)
    await c.request(m.CreateRoom(id=1, room="r"))
    futs = [
        c.send_nowait(m.Send(id=100 + i, room="r", msg_id=f"g{i}", text=f"t{i}"))
        for i in range(300)
    ]
    await futs[0]
    assert srv.terminate() == 0
    acked = {}
    for f in futs:
        try:
            reply = await f
        except ConnectionError:
            continue
        if isinstance(reply, m.Sent):
            acked[reply.msg_id] = reply.seq
    bye = [ev for ev in list(c.events._queue) if isinstance(ev, m.ServerBye)]  # type: ignore[attr-defined]
    assert bye and bye[0].code == "shutting_down"
    await c.close()
    srv.start()
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("alice")
    page = await c.request(m.History(id=2, room="r", after=0, limit=200))
    rows = list(page.messages)
    while page.more:
        page = await c.request(m.History(id=3, room="r", after=rows[-1].seq, limit=200))
        rows += page.messages
    stored = {x.msg_id: x.seq for x in rows}
    # nothing acknowledged is missing, and nothing was stored without its ack being sent
    assert stored == acked
    assert sorted(stored.values()) == list(range(1, len(stored) + 1))
    await c.close()
