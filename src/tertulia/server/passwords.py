"""Password hashing with argon2id, off the event loop, with bounded concurrency.

argon2id is memory-hard on purpose (64 MiB per hash by default), so hashes run in a thread pool
limited to the number of CPUs: a burst of logins queues instead of exhausting memory or
stalling the event loop. Unknown users are checked against a dummy hash so a failed login costs
the same whether or not the account exists.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tertulia.server.config import PasswordConfig

__all__ = ["Passwords"]


class Passwords:
    def __init__(self, cfg: PasswordConfig) -> None:
        self._hasher = PasswordHasher(
            time_cost=cfg.time_cost,
            memory_cost=cfg.memory_cost,
            parallelism=cfg.parallelism,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="argon2"
        )
        self._dummy = self._hasher.hash("tertulia-dummy-password")

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self.hash_sync, password
        )

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """Check ``password``; ``stored=None`` (no such user) costs the same and fails."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._verify, stored, password)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
