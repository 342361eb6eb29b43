"""Password hashing with argon2id, off the event loop, in a small bounded worker pool.

argon2id is memory-hard on purpose (64 MiB per hash by default) and costs tens to hundreds of
milliseconds of CPU, so it is the most expensive thing a client can ask for -- with a *right*
password as much as with a wrong one (the login throttles count failures only). Hashes run in
a pool of ``passwords.hash_workers`` threads (default: the CPUs, at most 4), and the work is
bounded before it is queued:

* at most ``hash_workers + hash_queue`` hashes running or waiting, all clients together;
* at most ``hash_per_address`` of them for one client address (``client``; None for the
  exempt networks, which count toward the overall bound only).

Over a bound, :class:`HashingBusy` is raised at once (the session answers ``busy`` with a
``retry_after`` hint) instead of queueing: an honest login waits for at most the queue ahead
of it, and a flood from one address holds at most ``hash_per_address`` places. Counts follow
the worker pool's own futures, so a hash whose connection went away still counts until its
thread is done with it.

Unknown users are checked against a dummy hash so a failed login costs the same whether or
not the account exists.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tertulia.server.config import PasswordConfig

__all__ = ["HashingBusy", "Passwords"]

T = TypeVar("T")


class HashingBusy(Exception):
    """Too many password hashes queued (overall, or for this address): try again later."""

    def __init__(self, scope: str, retry_after: float) -> None:
        super().__init__(f"too many password checks in progress ({scope})")
        #: "server" or "address": which bound was reached
        self.scope = scope
        self.retry_after = retry_after


class Passwords:
    def __init__(self, cfg: PasswordConfig) -> None:
        self._hasher = PasswordHasher(
            time_cost=cfg.time_cost,
            memory_cost=cfg.memory_cost,
            parallelism=cfg.parallelism,
            type=Type.ID,
        )
        self.workers = cfg.hash_workers or max(1, min(4, os.cpu_count() or 1))
        self.max_pending = self.workers + max(0, cfg.hash_queue)
        self.max_per_client = max(1, cfg.hash_per_address)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="argon2")
        #: hashes running or queued, overall and per client address (loop thread only)
        self.pending = 0
        self._by_client: collections.Counter[str] = collections.Counter()
        #: how often each bound said no (operator status, metrics)
        self.refusals: collections.Counter[str] = collections.Counter()
        #: smoothed seconds per hash, for the ``retry_after`` hint
        self._seconds = 0.1
        self._dummy = self._hasher.hash("tertulia-dummy-password")

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash(self, password: str, *, client: str | None = None) -> str:
        """argon2id of ``password``; raises :class:`HashingBusy` over a bound."""
        return await self._run(self.hash_sync, password, client=client)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str, *, client: str | None = None) -> bool:
        """Check ``password``; ``stored=None`` (no such user) costs the same and fails.
        Raises :class:`HashingBusy` over a bound (nothing was checked)."""
        return await self._run(lambda: self._verify(stored, password), client=client)

    async def _run(self, fn: Callable[..., T], *args: str, client: str | None) -> T:
        self._admit(client)
        loop = asyncio.get_running_loop()

        def timed() -> T:
            t0 = time.monotonic()
            try:
                return fn(*args)
            finally:
                seconds = time.monotonic() - t0
                self._seconds = 0.8 * self._seconds + 0.2 * seconds  # a float store: atomic

        job: Future[T] = self._pool.submit(timed)

        def done(_: Future[T]) -> None:  # in a worker thread, or the loop's if cancelled
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing left
                loop.call_soon_threadsafe(self._release, client)

        job.add_done_callback(done)
        return await asyncio.wrap_future(job)

    def _admit(self, client: str | None) -> None:
        if self.pending >= self.max_pending:
            self.refusals["server"] += 1
            raise HashingBusy("server", self._wait(self.pending))
        if client is not None and self._by_client[client] >= self.max_per_client:
            self.refusals["address"] += 1
            raise HashingBusy("address", self._wait(self._by_client[client]))
        self.pending += 1
        if client is not None:
            self._by_client[client] += 1

    def _release(self, client: str | None) -> None:
        self.pending -= 1
        if client is not None:
            self._by_client[client] -= 1
            if self._by_client[client] <= 0:
                del self._by_client[client]

    def _wait(self, ahead: int) -> float:
        """Seconds until ``ahead`` hashes are likely done: the hint sent with ``busy``."""
        return max(0.1, ahead * self._seconds / self.workers)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
