"""PostgreSQL-specific storage tests: several nodes writing at once, migrations, redaction.

The Storage contract itself runs against PostgreSQL in test_storage_contract.py; the security
features' storage tests (test_storage_security.py) are re-run here on PostgreSQL too.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import test_storage_security as _security
from storage_backends import PostgresBackend, backend_for

from tertulia.server.storage.base import NewMessage, StorageError
from tertulia.server.storage.postgres import PostgresStorage, redact_dsn

ROOM = "lobby"


@pytest.fixture
async def pg(tmp_path: Path) -> AsyncIterator[PostgresBackend]:
    async for b in backend_for("postgres", tmp_path):
        assert isinstance(b, PostgresBackend)
        yield b


@pytest.fixture
async def storage(pg: PostgresBackend) -> AsyncIterator[Any]:
    """An empty PostgreSQL storage (the fixture test_storage_security's tests expect)."""
    st = pg.make()
    await st.open()
    yield st
    await st.close()


# Every storage test of the security features that needs only ``storage`` runs here as well.
for _name, _fn in vars(_security).items():
    if _name.startswith("test_") and list(inspect.signature(_fn).parameters) == ["storage"]:
        globals()[_name] = _fn


async def nodes(pg: PostgresBackend, n: int) -> list[PostgresStorage]:
    """``n`` storages on one database: what ``n`` server nodes are to PostgreSQL."""
    made = [pg.make() for _ in range(n)]
    await asyncio.gather(*(st.open() for st in made))  # concurrent opens migrate exactly once
    return made  # type: ignore[return-value]


async def test_seq_is_gap_free_with_several_writers(pg: PostgresBackend) -> None:
    a, b, c = await nodes(pg, 3)
    try:
        await a.create_room(ROOM, "public", "ana")
        await a.create_room("other", "public", "ana")

        async def burst(st: PostgresStorage, tag: str) -> list[int]:
            msgs = [
                NewMessage(ROOM if i % 3 else "other", f"u{tag}", f"{tag}{i}", "x", "text", i)
                for i in range(150)
            ]
            return [s.seq for s in await asyncio.gather(*(st.append(m) for m in msgs))]

        await asyncio.gather(burst(a, "a"), burst(b, "b"), burst(c, "c"))
        for room in (ROOM, "other"):
            seqs = [m.seq for m in await a.history(room, limit=1000)]
            assert seqs == list(range(1, len(seqs) + 1))
            rec = await b.get_room(room)
            assert rec is not None and rec.last_seq == len(seqs)
        total = [len(await a.history(r, limit=1000)) for r in (ROOM, "other")]
        assert sum(total) == 450
    finally:
        await asyncio.gather(a.close(), b.close(), c.close())


async def test_same_msg_id_on_several_nodes_is_stored_once(pg: PostgresBackend) -> None:
    """Resends of one message racing on three nodes: one row, one seq, no hole after it."""
    a, b, c = await nodes(pg, 3)
    try:
        await a.create_room(ROOM, "public", "ana")
        for round_ in range(20):
            msg = NewMessage(ROOM, "ana", f"m{round_}", "hello", "text", 1)
            results = await asyncio.gather(*(st.append(msg) for st in (a, b, c) for _ in range(3)))
            assert sorted(r.duplicate for r in results) == [False] + [True] * 8
            assert {r.seq for r in results} == {round_ + 1}
        seqs = [(m.seq, m.msg_id) for m in await c.history(ROOM, limit=100)]
        assert seqs == [(i + 1, f"m{i}") for i in range(20)]
        assert a.stats.appends + b.stats.appends + c.stats.appends == 20
    finally:
        await asyncio.gather(a.close(), b.close(), c.close())


async def test_schema_version_is_recorded_and_newer_is_refused(pg: PostgresBackend) -> None:
    import asyncpg

    st = pg.make()
    await st.open()
    await st.close()
    conn = await asyncpg.connect(pg.dsn, server_settings={"search_path": pg.schema})
    try:
        version = await conn.fetchval("SELECT version FROM tertulia_schema")
        assert version >= 2
        await conn.execute("UPDATE tertulia_schema SET version = version + 1")
    finally:
        await conn.close()
    st = pg.make()
    with pytest.raises(StorageError, match="newer"):
        await st.open()
    await st.close()


async def test_unreachable_server_is_a_storage_error() -> None:
    st = PostgresStorage("postgresql://nobody@127.0.0.1:1/none", connect_timeout=2)
    with pytest.raises(StorageError, match="cannot connect"):
        await st.open()
    await st.close()


def test_redact_dsn_and_bad_schema() -> None:
    assert redact_dsn("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_dsn("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ValueError):
        PostgresStorage("postgresql://h/db", schema='x"; DROP TABLE users; --')
