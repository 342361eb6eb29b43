"""Storage backends for the shared contract suite: how to make one, and how to batch writes.

Each backend gives a test a fresh, private database: SQLite a file in ``tmp_path``, PostgreSQL
a uniquely named schema in database ``test`` that is dropped afterwards, so parallel runs never
see each other's rows. PostgreSQL must be reachable for its cases: when ``CI`` is set an
unreachable server FAILS the test (a silent skip would hide a broken CI machine); without
``CI`` it is skipped.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from tertulia.server.storage.base import Storage
from tertulia.server.storage.sqlite import SqliteStorage

__all__ = ["PG_DSN", "Backend", "PostgresBackend", "SqliteBackend", "require_service"]

#: the machine's PostgreSQL (trust auth on loopback); override for another server
PG_DSN = os.environ.get("TERTULIA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def require_service(what: str, error: BaseException) -> None:
    """A needed service is unreachable: fail under CI, skip on a developer machine."""
    message = f"{what} is unreachable: {error}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


class Backend:
    name = "?"
    #: options for the second ``make()`` of test_reopen_persists
    reopen_kw: dict[str, Any] = {}

    def make(self, **kw: Any) -> Any:
        """A new (unopened) storage on this test's database; every call shares the data."""
        raise NotImplementedError

    async def hold_writer(self, st: Any, room: str) -> Any:
        """Block the storage's writer (an outside lock on ``room``); return the releaser."""
        raise NotImplementedError

    async def in_one_batch(self, st: Any, room: str, *calls: Awaitable[Any]) -> list[Any]:
        """Run ``calls`` so that their writes are certain to share one writer transaction.

        An outside connection holds a lock; a first "plug" job (a topic change) makes the writer
        wait for it inside its transaction; only then are ``calls`` queued, so the writer's next
        wake-up drains them all together.
        """
        release = await self.hold_writer(st, room)
        try:
            plug = asyncio.ensure_future(st.set_topic(room, "plug"))
            await asyncio.sleep(0.1)
            tasks = [asyncio.ensure_future(call) for call in calls]
            await asyncio.sleep(0.05)
        finally:
            await release()
        await plug
        return await asyncio.gather(*tasks, return_exceptions=True)

    def after_close(self, st: Any) -> None:
        """Engine-specific checks once ``st`` has closed cleanly."""

    async def cleanup(self) -> None:
        return None


class SqliteBackend(Backend):
    name = "sqlite"
    reopen_kw = {"synchronous": "normal"}

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "tertulia.db"

    def make(self, **kw: Any) -> SqliteStorage:
        return SqliteStorage(self.path, **kw)

    async def hold_writer(self, st: Any, room: str) -> Any:
        lock = sqlite3.connect(st.path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")

        async def release() -> None:
            lock.execute("ROLLBACK")
            lock.close()

        return release

    def after_close(self, st: Any) -> None:
        wal = self.path.with_name(self.path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # the WAL was folded back


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self) -> None:
        self.schema = f"t_{uuid.uuid4().hex[:16]}"
        self.dsn = PG_DSN

    async def check(self) -> None:
        import asyncpg

        try:
            conn = await asyncpg.connect(self.dsn, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            require_service(f"PostgreSQL at {self.dsn}", exc)
        else:
            await conn.close()

    def make(self, **kw: Any) -> Storage:
        from tertulia.server.storage.postgres import PostgresStorage

        return PostgresStorage(self.dsn, schema=self.schema, **kw)

    async def hold_writer(self, st: Any, room: str) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": self.schema})
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1 FROM rooms WHERE name = $1 FOR UPDATE", room)

        async def release() -> None:
            await tx.rollback()
            await conn.close()

        return release

    async def cleanup(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            await conn.close()


async def backend_for(name: str, tmp_path: Path) -> AsyncIterator[Backend]:
    """Fixture body: the backend called ``name``, cleaned up afterwards."""
    if name == "sqlite":
        yield SqliteBackend(tmp_path)
        return
    pg = PostgresBackend()
    await pg.check()
    try:
        yield pg
    finally:
        await pg.cleanup()
