"""The Redis bus against the machine's Redis: fan-out, echo suppression, presence, overflow.

Each test uses its own key prefix, so runs never see each other's events or keys.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from storage_backends import require_service

from tertulia.server.bus.base import BusEvent, PresenceChanged, TopicChanged
from tertulia.server.bus.redis import BusError, RedisBus

REDIS_URL = os.environ.get("TERTULIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Node:
    """A bus and what it hands to its hub."""

    def __init__(self, prefix: str, **kw: object) -> None:
        self.bus = RedisBus(REDIS_URL, prefix=prefix, presence_ttl=0.6, **kw)  # type: ignore[arg-type]
        self.events: asyncio.Queue[BusEvent] = asyncio.Queue()
        self.resyncs = 0
        self.local: dict[str, str] = {}
        self.changes: list[tuple[str, object, object]] = []
        self.bus.presence.bind(
            lambda: dict(self.local),  # type: ignore[arg-type]
            lambda user, before, after: self.changes.append((user, before, after)),
        )

    async def start(self) -> None:
        await self.bus.start(self.events.put_nowait, self._resync)

    def _resync(self) -> None:
        self.resyncs += 1


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        require_service(f"Redis at {REDIS_URL}", exc)
    name = f"tb-{uuid.uuid4().hex[:12]}"
    yield name
    keys = [k async for k in client.scan_iter(match=f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_events_reach_the_other_node_not_the_sender(prefix: str) -> None:
    a, b = Node(prefix), Node(prefix)
    await a.start()
    await b.start()
    try:
        ev = TopicChanged(origin=a.bus.node_id, room="r", topic="t", by="ana")
        a.bus.publish(ev)
        assert await asyncio.wait_for(b.events.get(), 5) == ev
        await asyncio.sleep(0.2)
        assert a.events.empty()  # its own echo is dropped
        assert a.bus.healthy and b.bus.healthy
    finally:
        await a.bus.close()
        await b.bus.close()


async def test_presence_is_shared_and_expires(prefix: str) -> None:
    a, b = Node(prefix), Node(prefix)
    await a.start()
    await b.start()
    try:
        a.local["ana"] = "online"
        a.bus.presence.set_local("ana", "online")
        a.bus.publish(PresenceChanged(origin=a.bus.node_id, user="ana", status="online"))
        await asyncio.wait_for(b.events.get(), 5)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while b.bus.presence.others("ana") != "online":  # from the reconcile loop
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        assert b.changes[-1] == ("ana", None, "online")
        assert a.bus.presence.others("ana") is None  # a node does not count itself
        # node a stops refreshing (as a killed node would): the entry lapses after the TTL
        for task in a.bus._tasks:
            task.cancel()
        deadline = loop.time() + 5
        while b.bus.presence.others("ana") is not None:
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
        assert b.changes[-1] == ("ana", "online", None)
    finally:
        await a.bus.close()
        await b.bus.close()


async def test_overflowing_backlog_asks_peers_to_resync(prefix: str) -> None:
    a, b = Node(prefix, max_backlog=4), Node(prefix)
    await b.start()
    try:
        for i in range(10):  # queued before a connects: only the newest 4 are kept
            a.bus.publish(TopicChanged(origin=a.bus.node_id, room="r", topic=str(i), by="x"))
        assert a.bus.dropped == 6
        await a.start()  # which queues a presence refresh, pushing out one more
        assert a.bus.dropped == 7
        got = [await asyncio.wait_for(b.events.get(), 5) for _ in range(3)]
        assert [e.topic for e in got if isinstance(e, TopicChanged)] == ["7", "8", "9"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while b.resyncs == 0:
            assert loop.time() < deadline
            await asyncio.sleep(0.05)
    finally:
        await a.bus.close()
        await b.bus.close()


async def test_unreachable_redis_fails_at_start() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", connect_timeout=1)
    with pytest.raises(BusError, match="cannot reach Redis"):
        await bus.start(lambda ev: None, lambda: None)
    await bus.close()
