"""The Redis implementation of the fan-out :class:`~tertulia.server.bus.base.Bus` (cluster mode).

Theory of operation
-------------------

Every node subscribes to ``<prefix>:events``; after a commit a node ``PUBLISH``-es the event
(msgpack, see ``bus/base.py``) and every other node applies it to its own sessions. Pub/sub is
at-most-once, and this module is built around what that means:

* **Publishing never blocks the hub.** :meth:`RedisBus.publish` appends to a bounded, ordered
  command queue; one task sends what has queued up as one pipeline. If Redis is unreachable the
  queue is kept (up to ``max_backlog`` commands) and sent after the reconnect, in order. If it
  overflows, the oldest commands are dropped and, once connected again, the node publishes a
  *resync* request on ``<prefix>:control`` so every peer backfills all its rooms from storage.
* **Receiving detects loss.** A node whose subscription broke (Redis restarted, connection
  reset) re-subscribes and *then* asks its hub to backfill every cached room (``on_resync``),
  so nothing committed while it was deaf is missed; what arrives twice is dropped by the hub's
  per-room ``seq`` check. Messages lost in flight but followed by later ones show up as a seq
  gap, which the hub fills from storage after ``Hub.GAP_WAIT``.
* **Presence** goes through Redis with expiry (:mod:`.redis_presence`), written through the
  same ordered command queue, refreshed and reconciled every ``presence_ttl / 3`` seconds.

Every loop here retries with capped backoff and never gives up while the server runs: a Redis
outage degrades cross-node delivery (clients of other nodes get their messages after the
reconnect, via backfill), it does not take the node down.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tertulia.server.bus.base import Bus, BusError, BusEvent, decode_event, encode_event
from tertulia.server.bus.redis_presence import Command, RedisPresence

__all__ = ["BusError", "RedisBus", "redact_url"]

log = logging.getLogger("tertulia.server.bus.redis")

_RESYNC = b"resync"
_NET_ERRORS = (RedisError, OSError, ConnectionError, TimeoutError)
_MAX_PIPELINE = 1000


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class RedisBus(Bus):
    """Fan-out between nodes over Redis pub/sub; presence in a Redis sorted set."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tertulia",
        presence_ttl: float = 30.0,
        node_id: str | None = None,
        max_backlog: int = 100_000,
        connect_timeout: float = 5.0,
    ) -> None:
        if presence_ttl <= 0:
            raise ValueError("presence_ttl must be positive")
        self.url = url
        self.prefix = prefix
        self.node_id = node_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.events_channel = f"{prefix}:events"
        self.control_channel = f"{prefix}:control"
        self.max_backlog = max_backlog
        self.connect_timeout = connect_timeout
        self.presence_ttl = presence_ttl
        self.presence: RedisPresence = RedisPresence(
            self.node_id, f"{prefix}:presence", presence_ttl, self._enqueue
        )
        self._queue: collections.deque[Command] = collections.deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._overflowed = False
        self._client: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._on_event: Callable[[BusEvent], None] = lambda ev: None
        self._on_resync: Callable[[], None] = lambda: None
        self._closing = False
        #: True while both the subscription and the command connection work
        self.subscribed = False
        self.writer_ok = False
        # counters for metrics
        self.published = 0
        self.received = 0
        self.dropped = 0
        self.reconnects = 0
        self.resyncs = 0

    def __repr__(self) -> str:
        return (
            f"<RedisBus {redact_url(self.url)} node={self.node_id} subscribed={self.subscribed}"
            f" backlog={len(self._queue)}>"
        )

    @property
    def healthy(self) -> bool:
        return self.subscribed and self.writer_ok

    @property
    def backlog(self) -> int:
        return len(self._queue)

    def _new_client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(
            self.url,
            socket_connect_timeout=self.connect_timeout,
            socket_keepalive=True,
            health_check_interval=5,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(
        self, on_event: Callable[[BusEvent], None], on_resync: Callable[[], None]
    ) -> None:
        """Subscribe (raising :class:`BusError` if Redis is unreachable now), start the loops."""
        self._on_event = on_event
        self._on_resync = on_resync
        self._client = self._new_client()
        try:
            await self._client.ping()
            pubsub = await self._subscribe()
        except _NET_ERRORS as exc:
            await self._client.aclose()
            raise BusError(f"cannot reach Redis at {redact_url(self.url)}: {exc}") from exc
        self.writer_ok = True
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._receive_loop(pubsub), name="redis-bus-receive"),
            loop.create_task(self._send_loop(), name="redis-bus-send"),
            loop.create_task(self._presence_loop(), name="redis-bus-presence"),
        ]
        self.presence.refresh()

    async def close(self) -> None:
        """Flush what is queued (briefly), withdraw this node's presence, stop the loops."""
        if self._closing:
            return
        self.presence.withdraw_all()
        if self.writer_ok:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), 2.0)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
        self.subscribed = self.writer_ok = False

    # -- publishing --------------------------------------------------------------------------

    def publish(self, event: BusEvent) -> None:
        data = encode_event(event)
        channel = self.events_channel
        self._enqueue(lambda pipe: pipe.publish(channel, data))

    def _enqueue(self, command: Command) -> None:
        queue = self._queue
        if len(queue) >= self.max_backlog:
            queue.popleft()
            self.dropped += 1
            if not self._overflowed:
                log.warning("Redis bus backlog full: dropping; peers will resync from storage")
            self._overflowed = True
        queue.append(command)
        self._drained.clear()
        self._wake.set()

    async def _send_loop(self) -> None:
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                client = self._client
                assert client is not None
                batch = [self._queue.popleft() for _ in range(min(_MAX_PIPELINE, len(self._queue)))]
                try:
                    pipe = client.pipeline(transaction=False)
                    for command in batch:
                        command(pipe)
                    await pipe.execute()
                except _NET_ERRORS as exc:
                    self._queue.extendleft(reversed(batch))
                    if self.writer_ok:
                        log.warning("Redis unreachable for publishing (%s); keeping events", exc)
                    self.writer_ok = False
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                self.published += len(batch)
                delay = 0.05
                if not self.writer_ok:
                    log.info("Redis reachable again for publishing")
                    self.writer_ok = True
                if self._overflowed:
                    self._overflowed = False
                    with contextlib.suppress(*_NET_ERRORS):
                        await client.publish(self.control_channel, _RESYNC)
            self._drained.set()

    # -- receiving ---------------------------------------------------------------------------

    async def _subscribe(self) -> Any:
        assert self._client is not None
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.events_channel, self.control_channel)
        return pubsub

    async def _receive_loop(self, pubsub: Any) -> None:
        delay = 0.05
        while True:
            try:
                self.subscribed = True
                delay = 0.05
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None:
                        self._dispatch(message)
            except _NET_ERRORS as exc:
                if self.subscribed:
                    log.warning("Redis subscription lost (%s); reconnecting", exc)
                self.subscribed = False
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                try:
                    pubsub = await self._subscribe()
                except _NET_ERRORS:
                    continue
                break
            # subscribed again: whatever was published meanwhile is in storage
            self.reconnects += 1
            log.info("Redis subscription restored; backfilling every cached room")
            self.presence.quiet()
            self.presence.refresh()
            self._resync()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        channel = message.get("channel")
        data = message.get("data")
        if not isinstance(data, bytes):
            return
        if channel in (self.control_channel, self.control_channel.encode()):
            if data == _RESYNC:
                self._resync()
            return
        try:
            event = decode_event(data)
        except msgspec.DecodeError:
            log.warning("undecodable event on %s ignored", self.events_channel)
            return
        if event.origin == self.node_id:
            return  # our own publish, echoed back
        self.received += 1
        self._on_event(event)  # the hub passes PresenceChanged on to self.presence.peer()

    def _resync(self) -> None:
        self.resyncs += 1
        try:
            self._on_resync()
        except Exception:  # pragma: no cover - a hub bug must not kill the bus
            log.exception("resync failed")

    # -- presence ----------------------------------------------------------------------------

    async def _presence_loop(self) -> None:
        period = self.presence_ttl / 3
        while True:
            await asyncio.sleep(period)
            self.presence.refresh()
            client = self._client
            if client is None or not self.subscribed:
                continue
            try:
                await self.presence.reconcile(client)
            except _NET_ERRORS as exc:
                log.debug("presence reconcile skipped: %s", exc)
            except Exception:  # pragma: no cover - defensive
                log.exception("presence reconcile failed")
