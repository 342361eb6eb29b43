"""Issue 12, item 9: one user's many connections must not flood the people who share a room.

Before, one user with 30 connections toggling presence at 45/s each made an honest receiver
get 13,230 presence frames in 10 s: the limits applied per connection only. Here, against a
live server process, mallory opens 30 connections (from several addresses) and toggles
``away``/``online`` on each at 45/s for 4 s, then sends ``typing`` on each at 45/s for 2 s,
while an honest pair chats and carol (in mallory's room) counts what she receives. Presence is
rated per user and its fan-out coalesced (at most ``presence_fanout_rate`` = 2 frames a second
about one user per receiver, last state wins); typing is rated per user.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from attack_kit import under_attack

from tertulia.proto import messages as m
from tertulia_testkit import SCALE, RawClient, ServerProcess

LIMITS = """
[limits]
exempt_networks = []
request_rate = 50.0
request_burst = 200
rate_strikes = 50
presence_rate = 1.0
presence_burst = 5
typing_rate = 2.0
typing_burst = 10
presence_fanout_rate = 2.0
"""
CONNECTIONS = 30
RATE = 45.0


async def _connect(srv: ServerProcess, ip: str) -> RawClient:
    return await RawClient.connect(srv.host, srv.port, source=ip)


async def test_presence_and_typing_floods_are_rated_per_user_and_coalesced(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_proc_factory("srv", extra_toml=LIMITS)
    first = await _connect(srv, "127.0.0.10")
    await first.login("mallory", register=True)
    await first.request(m.CreateRoom(id=first.next_id(), room="den"))
    carol = await _connect(srv, "127.0.0.9")
    await carol.login("carol", register=True)
    await carol.request(m.Join(id=carol.next_id(), room="den"))
    conns = [first] + [await _connect(srv, f"127.0.0.{11 + i % 4}") for i in range(CONNECTIONS - 1)]
    for c in conns[1:]:
        await c.login("mallory")
    presence: list[tuple[float, str]] = []
    typing: list[float] = []

    async def count() -> None:
        while True:
            ev = await carol.events.get()
            if isinstance(ev, m.PresenceEvent) and ev.user == "mallory":
                presence.append((time.monotonic(), ev.status))
            elif isinstance(ev, m.TypingEvent) and ev.user == "mallory":
                typing.append(time.monotonic())

    counter = asyncio.create_task(count())
    await asyncio.sleep(0.5)  # the online events of the logins above pass by first
    presence.clear()

    async def toggle(c: RawClient, seconds: float, what: str) -> None:
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end and not c.closed.is_set():
            if what == "presence":
                status = "away" if i % 2 == 0 else "online"
                c.send_nowait(m.Presence(id=c.next_id(), status=status))
            else:
                c.notice(m.Typing(room="den"))
            i += 1
            await asyncio.sleep(1 / RATE)

    notes: dict[str, Any] = {}

    async def attack() -> dict[str, Any]:
        t0 = time.monotonic()
        await asyncio.gather(*(toggle(c, 4.0, "presence") for c in conns))
        t1 = time.monotonic()
        await asyncio.sleep(1.5)  # the coalesced last state arrives within 1/rate s
        notes["presence_seconds"] = round(t1 - t0, 2)
        notes["presence_frames"] = len([t for t, _ in presence if t <= t1 + 1.5])
        await asyncio.sleep(1.0)  # the per-user presence bucket refills a little
        # connections that ignored rate_limited were closed; mallory comes back on fresh ones
        notes["closed_by_server"] = sum(c.closed.is_set() for c in conns)
        for c in conns:
            await c.close()
        conns[:] = [await _connect(srv, f"127.0.0.{11 + i % 4}") for i in range(CONNECTIONS)]
        for c in conns:
            await c.login("mallory")
        # the marker: one more change, after the flood, must arrive as the last state
        final = await conns[0].request(m.Presence(id=conns[0].next_id(), status="away"))
        notes["final"] = "away" if isinstance(final, m.Ok) else "?"
        t2 = time.monotonic()
        alive = conns
        await asyncio.gather(*(toggle(c, 2.0, "typing") for c in alive))
        await carol.request(m.Ping(id="after-typing"))  # a marker: typing before it is in
        notes["typing_seconds"] = round(time.monotonic() - t2, 2)
        notes["typing_frames"] = len(typing)
        return notes

    try:
        await under_attack(srv, f"presence/typing from {CONNECTIONS} connections", attack)
        deadline = time.monotonic() + 5 * SCALE
        while time.monotonic() < deadline and (not presence or presence[-1][1] != "away"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        counter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await counter
        for c in [*conns, carol]:
            await c.close()
    print(notes)
    # coalesced: 2 frames a second at most, plus the first of each gate interval
    assert notes["presence_frames"] <= 2 * notes["presence_seconds"] + 4, notes
    assert presence and presence[-1][1] == "away", presence[-5:]  # the last state won
    # per user: the burst, then 2 a second (carol is not the sender: all reach her)
    assert notes["typing_frames"] <= 10 + 2 * notes["typing_seconds"] + 2, notes
    assert notes["typing_frames"] >= 1
