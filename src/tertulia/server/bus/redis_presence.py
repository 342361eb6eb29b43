"""Cluster presence kept in Redis, with expiry, so a dead node's users go offline on schedule.

Layout: one sorted set ``<prefix>:presence`` whose members are ``user|node|status`` and whose
scores are expiry times (Unix ms). Each node re-adds its users every ``ttl / 3`` seconds with a
new expiry; a user is online while any node's entry for them has not expired. A node that dies
(even by SIGKILL) stops refreshing, and its entries lapse ``ttl`` seconds later.

Writes of this node (refresh, a user added or removed) are queued to the bus's ordered command
stream (:meth:`RedisBus.enqueue`), the same stream that carries its ``PUBLISH`` commands, so a
removal always reaches Redis before the ``offline`` event that announces it; peers then never
read a stale entry *after* the event.

Every ``ttl / 3`` seconds each node also reads the live entries (``ZRANGEBYSCORE now +inf``)
and reconciles its mirror of the other nodes with them: that is how users of a dead node go
offline everywhere, and how an event lost while Redis was down is made good. A user whose mirror
entry was changed by an event after the read started keeps the event's version (it is newer).
Right after a reconnect (Redis may have restarted empty) reconciliation waits one refresh
period, so every node has re-added its users first.

Names are ``[a-z0-9_.-]`` after normalization and node ids contain no ``|``: the separator is
unambiguous. Clocks of the nodes should be NTP-synchronized (expiry uses wall-clock time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from tertulia.server.bus.presence import LocalUsers, OnChange, PresenceDirectory, RemoteStatus

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisPresence"]

log = logging.getLogger("tertulia.server.bus.presence")

_STATUSES: tuple[RemoteStatus, ...] = ("online", "away")
#: adds commands to a Redis pipeline; queued in order with the bus's publishes
Command = Callable[[Any], None]


def _best(statuses: dict[str, RemoteStatus]) -> RemoteStatus | None:
    if not statuses:
        return None
    return "online" if "online" in statuses.values() else "away"


class RedisPresence(PresenceDirectory):
    def __init__(
        self, node_id: str, key: str, ttl: float, enqueue: Callable[[Command], None]
    ) -> None:
        self.node_id = node_id
        self._enqueue = enqueue
        self.key = key
        self.ttl = ttl
        #: user -> {node: status} for every *other* node
        self._remote: dict[str, dict[str, RemoteStatus]] = {}
        #: user -> loop time of the last event that changed their mirror entry
        self._touched: dict[str, float] = {}
        self._local_users: LocalUsers = dict
        self._on_change: OnChange = lambda user, before, after: None
        self._quiet_until = 0.0
        self.reconciles = 0

    # -- the hub's side ----------------------------------------------------------------------

    def bind(self, local_users: LocalUsers, on_change: OnChange) -> None:
        self._local_users = local_users
        self._on_change = on_change

    def others(self, user: str) -> RemoteStatus | None:
        return _best(self._remote.get(user, {}))

    def peer(self, user: str, node: str, status: Literal["online", "away", "offline"]) -> None:
        if node == self.node_id:
            return
        entries = self._remote.setdefault(user, {})
        if status == "offline":
            entries.pop(node, None)
        else:
            entries[node] = status
        if not entries:
            del self._remote[user]
        self._touched[user] = asyncio.get_running_loop().time()

    def set_local(self, user: str, status: RemoteStatus | None) -> None:
        """Queued in order with the bus's publishes (see the module docstring)."""
        self._enqueue(lambda pipe: self.write_local(pipe, user, status))

    def withdraw_all(self) -> None:
        """Queue the removal of every local user's entry (graceful shutdown)."""
        users = list(self._local_users())

        def withdraw(pipe: Any) -> None:
            for user in users:
                self.write_local(pipe, user, None)

        self._enqueue(withdraw)

    def refresh(self) -> None:
        """Queue the periodic re-add of every local user."""
        users = self._local_users()
        self._enqueue(lambda pipe: self.write_refresh(pipe, users))

    # -- Redis commands (run by the bus's ordered command stream) ----------------------------

    def member(self, user: str, status: RemoteStatus) -> str:
        return f"{user}|{self.node_id}|{status}"

    def write_local(self, pipe: Redis, user: str, status: RemoteStatus | None) -> None:
        """Add the commands that record ``user``'s status on this node to ``pipe``."""
        stale = [self.member(user, s) for s in _STATUSES if s != status]
        pipe.zrem(self.key, *stale)
        if status is not None:
            pipe.zadd(self.key, {self.member(user, status): self._expiry()})

    def write_refresh(self, pipe: Redis, users: dict[str, RemoteStatus]) -> None:
        """Re-add every local user with a fresh expiry, and drop lapsed entries of any node."""
        if users:
            expiry = self._expiry()
            pipe.zadd(self.key, {self.member(u, s): expiry for u, s in users.items()})
        pipe.zremrangebyscore(self.key, "-inf", f"({int(time.time() * 1000)}")

    def _expiry(self) -> int:
        return int((time.time() + self.ttl) * 1000)

    # -- reconciliation ----------------------------------------------------------------------

    def quiet(self) -> None:
        """After a reconnect: give every node one refresh period to re-add its users."""
        self._quiet_until = asyncio.get_running_loop().time() + self.ttl / 3 * 1.5

    async def reconcile(self, client: Redis) -> None:
        """Read the live entries and correct the mirror of the other nodes."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        if started < self._quiet_until:
            return
        now_ms = int(time.time() * 1000)
        raw = await client.zrangebyscore(self.key, now_ms, "+inf")
        fresh: dict[str, dict[str, RemoteStatus]] = {}
        for item in raw:
            text = item.decode() if isinstance(item, bytes) else str(item)
            user, _, rest = text.partition("|")
            node, _, status = rest.rpartition("|")
            if node == self.node_id or status not in _STATUSES or not user:
                continue
            fresh.setdefault(user, {})[node] = status
        self.reconciles += 1
        for user in set(self._remote) | set(fresh):
            if self._touched.get(user, 0.0) > started:
                continue  # an event newer than this read decided already
            before = self.others(user)
            if user in fresh:
                self._remote[user] = fresh[user]
            else:
                self._remote.pop(user, None)
            after = self.others(user)
            if before != after:
                log.info("presence of %s on other nodes: %s -> %s", user, before, after)
                self._on_change(user, before, after)
        for user in [u for u, t in self._touched.items() if t <= started]:
            del self._touched[user]
