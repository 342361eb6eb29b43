"""Issue 12, item 2: one user must not be able to make ``list_rooms`` larger than a client accepts.

Two attacks against a live server process while an honest pair chats:

- a create/leave loop with 512-emoji topics (``max_rooms`` counts only current memberships):
  the per-user room-creation bucket stops it after its burst;
- 8,200 public rooms with 512-emoji topics already stored (what the loop made in 52 s before;
  seeded into the database here), five connections looping ``list_rooms``: every reply is one
  bounded page, and the client library's ``list_rooms()`` follows the pages and gets every room
  (before: one 17.2 MiB frame, over the 16 MiB limit, and ``ConnectionLost``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attack_kit import under_attack
from seed_kit import seed

from tertulia.client import Client, TrustPolicy
from tertulia.proto import encode
from tertulia.proto import messages as m
from tertulia_testkit import PASSWORD, SCALE, RawClient, ServerProcess

LIMITS = """
[limits]
exempt_networks = []
max_connections_per_ip = 64
request_rate = 50.0
request_burst = 200
room_create_per_hour = 30
room_create_burst = 10
"""
EMOJI_TOPIC = "\U0001f600" * 512
ROOMS = 8200


async def _connect(srv: ServerProcess, ip: str) -> RawClient:
    return await RawClient.connect(srv.host, srv.port, source=ip)


async def test_room_creation_is_rated_per_user(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_proc_factory("srv", extra_toml=LIMITS)

    async def attack() -> dict[str, Any]:
        c = await _connect(srv, "127.0.0.10")
        await c.login("mallory", register=True)
        created = 0
        refused: list[m.Error] = []
        for i in range(60):
            reply = await c.request(
                m.CreateRoom(id=c.next_id(), room=f"spam{i}", topic=EMOJI_TOPIC), check=False
            )
            if isinstance(reply, m.Error):
                refused.append(reply)
                continue
            created += 1
            await c.request(m.Leave(id=c.next_id(), room=f"spam{i}"))
        await c.close()
        codes = {(e.code, e.params.get("limit")) for e in refused}
        assert codes == {("rate_limited", "room_creation")}, codes
        assert created == 10, f"{created} rooms created; the burst is 10"
        assert all(e.params["retry_after"] > 0 for e in refused)
        return {"created": created, "refused": len(refused)}

    await under_attack(srv, "create/leave loop", attack)


async def test_list_rooms_pages_stay_bounded_and_the_client_gets_every_room(
    server_proc_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    await seed(
        tmp_path / "srv",
        users=["mallory", "carol"],
        rooms=[(f"r{i:05d}", "mallory", EMOJI_TOPIC) for i in range(ROOMS)],
    )
    srv = server_proc_factory("srv", extra_toml=LIMITS)
    # the project's own client, as the GUI calls it right after connecting
    client = Client(
        srv.host, srv.port, "carol", PASSWORD, trust=TrustPolicy(fingerprint=srv.fingerprint)
    )
    await asyncio.wait_for(client.start(), 20 * SCALE)
    try:
        rooms = await asyncio.wait_for(client.list_rooms(), 120 * SCALE)
    finally:
        await client.close()
    names = [r.name for r in rooms]
    assert len(names) >= ROOMS and names == sorted(set(names))
    assert {f"r{i:05d}" for i in range(ROOMS)} <= set(names)
    sizes: list[int] = []

    async def attack() -> dict[str, Any]:
        async def loop_list(ip: str) -> int:
            c = await _connect(srv, ip)
            await c.login("mallory")
            pages = 0
            deadline = time.monotonic() + 5 * SCALE
            cursor: str | None = None
            while time.monotonic() < deadline:
                page = await c.request(m.ListRooms(id=c.next_id(), cursor=cursor), timeout=60)
                sizes.append(len(encode(page)))
                pages += 1
                cursor = page.next
            await c.close()
            return pages

        pages = await asyncio.gather(*(loop_list(f"127.0.0.{20 + i}") for i in range(5)))
        return {"pages": sum(pages), "largest_page_bytes": max(sizes)}

    figures = await under_attack(srv, "5 x list_rooms over 8,200 rooms", attack)
    # a page is at most 100 rooms of about 2.2 kB: far below the 16 MiB a client accepts
    assert max(sizes) < 1024 * 1024, figures
