"""The PostgreSQL implementation of :class:`~tertulia.server.storage.base.Storage` (cluster mode).

Theory of operation
-------------------

Several server nodes share one database, so everything that SQLite gets from being the only
writer has to come from PostgreSQL itself:

* **Group commit.** Each node has one *writer* connection served by one task. When it wakes it
  takes every queued write (up to ``max_batch``) and runs them in one transaction; callers are
  answered only after ``COMMIT``. Other jobs run in their own savepoint, so one failing job is
  rolled back alone, as in SQLite. A run of consecutive ``append`` jobs is handled as a group:
  one statement per step for the whole group instead of several round trips per message.
* **Gap-free seq across nodes.** A group locks its rooms' rows (``FOR NO KEY UPDATE``, in name
  order so two nodes cannot deadlock on them), bumps each room's ``last_seq`` once by the number
  of new messages, and inserts the messages with the seqs it got -- all in the transaction that
  commits them. Another node's writer waits on the row lock and continues from the committed
  counter, so seqs of a room increase by exactly one whatever node stored them.
* **Idempotent msg_id across nodes.** Before looking for an existing ``(sender, msg_id)`` the
  group takes a transaction-scoped advisory lock on each key (sorted, so lock order is the same
  everywhere). A concurrent resend of the same message on another node therefore waits until
  the first commit and then *sees* the original (READ COMMITTED takes a fresh snapshot per
  statement), instead of bumping the counter and failing on the unique index -- which would
  leave a hole in ``seq``.
* A transaction that fails as a whole with a deadlock or serialization failure is retried; it
  rolled back completely, so retrying cannot store anything twice.
* **Reads** use a small connection pool. A read issued after an awaited write sees it, because
  the write's future resolves only after its commit.

Migrations live in ``pg_migrations/NNNN_*.sql`` and are applied in one transaction under an
advisory lock, with the version in ``tertulia_schema``; several nodes starting at once migrate
exactly once. ``schema`` puts every table in a PostgreSQL schema of that name (created if
missing), so tests -- or several deployments -- can share a database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, cast

import asyncpg

from tertulia.server.storage import pg_invitations as pgi
from tertulia.server.storage import pg_sql as q
from tertulia.server.storage.base import (
    BanOutcome,
    BanRecord,
    ClosedRoom,
    InvitationRecord,
    InviteOutcome,
    NewMessage,
    Role,
    RoomPolicy,
    RoomRecord,
    Storage,
    StorageError,
    StorageFullError,
    StoredMessage,
    UserRecord,
    Visibility,
)
from tertulia.server.storage.sqlite import StorageStats

__all__ = ["PostgresStorage", "redact_dsn"]

log = logging.getLogger("tertulia.server.storage.postgres")

T = TypeVar("T")
Conn = q.Conn

_VISIBILITIES: Final = frozenset({"public", "private", "dm"})
_SCHEMA_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: errors after which the whole transaction is retried (it was rolled back entirely)
_RETRYABLE: Final = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
_RETRIES: Final = 5


def redact_dsn(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***`` (for logs and ``server check``)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)


# ------------------------------------------------------------------------------- the writer


@dataclass(slots=True)
class _Job:
    future: asyncio.Future[Any]
    #: a plain write job (runs in its own savepoint) ...
    fn: Callable[[Conn], Awaitable[Any]] | None = None
    #: ... or a message to append (appends are handled in groups)
    msg: NewMessage | None = None


def _caller_error(exc: Exception) -> Exception:
    """What a job's caller receives: domain errors as they are, database errors as StorageError
    (``StorageFullError`` for SQLSTATE 53100, disk full)."""
    if isinstance(exc, StorageError | ValueError):
        return exc
    kind = StorageFullError if isinstance(exc, asyncpg.DiskFullError) else StorageError
    err = kind(f"database error: {exc}")
    err.__cause__ = exc
    return err


# ------------------------------------------------------------------------------ the storage

_State = Literal["new", "opening", "open", "closing", "closed"]


class PostgresStorage(Storage):
    """Durable state in PostgreSQL, shared by every node of a cluster.

    ``dsn`` is a libpq-style URL (``postgresql://user:password@host:5432/dbname``). ``schema``
    (optional) selects a PostgreSQL schema for the tables. ``pool_size`` bounds the reader
    connections; writes use one more connection of their own.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        pool_size: int = 4,
        max_batch: int = 1000,
        connect_timeout: float = 10.0,
    ) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"schema must match {_SCHEMA_NAME.pattern}, not {schema!r}")
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self.max_batch = max_batch
        self.connect_timeout = connect_timeout
        self.stats = StorageStats()
        self._state: _State = "new"
        self._pool: asyncpg.Pool | None = None
        self._writer_conn: Conn | None = None
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._reads: set[asyncio.Future[Any]] = set()
        self._closer: asyncio.Future[None] | None = None
        #: commit latency of the last batches (seconds), for metrics
        self.last_commit_seconds = 0.0

    def __repr__(self) -> str:
        return (
            f"<PostgresStorage {redact_dsn(self.dsn)!r} schema={self.schema} {self._state}"
            f" commits={self.stats.commits}>"
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def _settings(self) -> dict[str, str]:
        settings = {"application_name": "tertulia"}
        if self.schema is not None:
            settings["search_path"] = self.schema
        return settings

    async def _connect(self) -> Conn:
        try:
            conn: Conn = await asyncpg.connect(
                self.dsn, timeout=self.connect_timeout, server_settings=self._settings()
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageError(f"cannot connect to {redact_dsn(self.dsn)}: {exc}") from exc
        return conn

    async def open(self) -> None:
        """Connect, create the schema if asked, migrate, start the writer and the read pool."""
        if self._state != "new":
            raise StorageError(f"storage cannot be opened: it is {self._state}")
        self._state = "opening"
        try:
            if self.schema is not None:
                boot = await self._connect()
                try:
                    await boot.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                except asyncpg.UniqueViolationError:
                    pass  # another node created it at the same moment
                finally:
                    await boot.close()
            self._writer_conn = await self._connect()
            try:
                await q.apply_migrations(self._writer_conn, q.load_pg_migrations())
                await q.backfill_skeletons(self._writer_conn)
            except asyncpg.PostgresError as exc:
                raise StorageError(f"migration failed: {exc}") from exc
            try:
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=1,
                    max_size=self.pool_size,
                    timeout=self.connect_timeout,
                    server_settings=self._settings(),
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise StorageError(f"cannot connect to {redact_dsn(self.dsn)}: {exc}") from exc
        except BaseException:
            await self._close_connections()
            self._state = "closed"
            raise
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        self._state = "open"

    async def close(self) -> None:
        """Answer every queued call, then close the connections. Idempotent."""
        if self._closer is None:
            if self._state in ("new", "closed"):
                self._state = "closed"
                return
            self._state = "closing"
            self._closer = asyncio.ensure_future(self._shutdown())
        await asyncio.shield(self._closer)
        self._state = "closed"

    async def _shutdown(self) -> None:
        if self._writer is not None:
            self._queue.put_nowait(None)
            await asyncio.wait({self._writer})
        if self._reads:
            await asyncio.wait(tuple(self._reads))
        await self._close_connections()

    async def _close_connections(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 10.0)
            self._pool = None
        if self._writer_conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer_conn.close(), 5.0)
            self._writer_conn = None

    async def ping(self) -> None:
        """Raise :class:`StorageError` unless the database answers (``/readyz``)."""
        await self._read(lambda conn: conn.fetchval("SELECT 1"))

    # -- plumbing ----------------------------------------------------------------------------

    def _check(self) -> None:
        if self._state != "open":
            state = {"new": "not open yet", "opening": "still opening"}.get(self._state, "closed")
            raise StorageError(f"storage is {state}")

    async def _submit(self, job: _Job) -> Any:
        self._check()
        self._queue.put_nowait(job)
        return await job.future

    async def _write(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Queue ``fn`` for the writer; return its result once its transaction committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        result: T = await self._submit(_Job(future, fn=fn))
        return result

    async def _read(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        self._check()
        assert self._pool is not None
        pool = self._pool
        task = asyncio.ensure_future(self._run_read(pool, fn))
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)
        return await task

    @staticmethod
    async def _run_read(pool: asyncpg.Pool, fn: Callable[[Conn], Awaitable[T]]) -> T:
        try:
            async with pool.acquire() as conn:
                return await fn(cast(Conn, conn))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StorageError(f"database error: {exc}") from exc

    async def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            try:
                await self._run_batch(batch)
            except Exception as exc:  # pragma: no cover - defensive: never strand a caller
                log.exception("writer batch failed unexpectedly")
                self._settle((job, None, _caller_error(exc)) for job in batch)
        # answer anything that raced in after the sentinel
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if job is not None:
                self._settle([(job, None, StorageError("storage is closed"))])

    @staticmethod
    def _settle(outcomes: Iterable[tuple[_Job, Any, BaseException | None]]) -> None:
        for job, result, exc in outcomes:
            if job.future.done():  # the caller was cancelled; its write happened anyway
                continue
            if exc is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(exc)

    async def _writer_connection(self) -> Conn:
        conn = self._writer_conn
        if conn is None or conn.is_closed():
            if conn is not None:
                log.warning("writer connection to PostgreSQL lost; reconnecting")
            self._writer_conn = conn = await self._connect()
        return conn

    async def _run_batch(self, batch: list[_Job]) -> None:
        started = time.monotonic()
        for attempt in range(_RETRIES):
            try:
                conn = await self._writer_connection()
                outcomes = await self._transaction(conn, batch)
            except _RETRYABLE as exc:
                log.info("write transaction retried (%s), attempt %d", exc, attempt + 1)
                continue
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, StorageError) as exc:
                log.error("write transaction of %d job(s) failed: %s", len(batch), exc)
                self.stats.failed_transactions += 1
                if self._writer_conn is not None and not self._writer_conn.is_closed():
                    with contextlib.suppress(Exception):
                        await self._writer_conn.reset()
                err = exc if isinstance(exc, StorageError) else _caller_error(exc)
                self._settle((job, None, err) for job in batch)
                return
            break
        else:
            self.stats.failed_transactions += 1
            err = StorageError("write failed: transaction kept deadlocking")
            self._settle((job, None, err) for job in batch)
            return
        stats = self.stats
        stats.commits += 1
        stats.writes += len(batch)
        stats.largest_batch = max(stats.largest_batch, len(batch))
        for _, result, _ in outcomes:
            if isinstance(result, StoredMessage):
                if result.duplicate:
                    stats.duplicates += 1
                else:
                    stats.appends += 1
        self.last_commit_seconds = time.monotonic() - started
        self._settle(outcomes)

    async def _transaction(
        self, conn: Conn, batch: list[_Job]
    ) -> list[tuple[_Job, Any, BaseException | None]]:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        async with conn.transaction():
            i = 0
            while i < len(batch):
                if batch[i].msg is not None:
                    j = i
                    while j < len(batch) and batch[j].msg is not None:
                        j += 1
                    group = batch[i:j]
                    results = await q.append_group(
                        conn, [cast(NewMessage, job.msg) for job in group]
                    )
                    for job, res in zip(group, results, strict=True):
                        if isinstance(res, BaseException):
                            outcomes.append((job, None, res))
                        else:
                            outcomes.append((job, res, None))
                    i = j
                    continue
                job = batch[i]
                assert job.fn is not None
                try:
                    async with conn.transaction():  # a savepoint: a failing job fails alone
                        result = await job.fn(conn)
                except _RETRYABLE:
                    raise
                except (StorageError, ValueError, asyncpg.PostgresError) as exc:
                    outcomes.append((job, None, _caller_error(exc)))
                else:
                    outcomes.append((job, result, None))
                i += 1
        return outcomes

    # -- users -------------------------------------------------------------------------------

    async def create_user(
        self, name: str, password_hash: str, *, is_admin: bool = False
    ) -> UserRecord:
        return await self._write(lambda c: q.create_user(c, name, password_hash, is_admin))

    async def get_user(self, name: str) -> UserRecord | None:
        row = await self._read(
            lambda c: c.fetchrow(f"SELECT {q.USER_COLS} FROM users WHERE name = $1", name)
        )
        return None if row is None else q.user(row)

    async def list_users(self) -> list[UserRecord]:
        rows = await self._read(lambda c: c.fetch(f"SELECT {q.USER_COLS} FROM users ORDER BY name"))
        return [q.user(r) for r in rows]

    async def set_password(
        self, name: str, password_hash: str, *, if_gen: int | None = None
    ) -> int | None:
        return await self._write(lambda c: q.set_password(c, name, password_hash, if_gen))

    async def count_users(self) -> int:
        return int(await self._read(lambda c: c.fetchval("SELECT count(*) FROM users")))

    async def set_disabled(self, name: str, disabled: bool) -> int | None:
        return await self._write(lambda c: q.set_disabled(c, name, disabled))

    # -- resume tokens -----------------------------------------------------------------------

    async def add_token(
        self, user: str, token_hash: bytes, expires_at: int, *, keep: int, cred_gen: int
    ) -> None:
        await self._write(lambda c: q.add_token(c, user, token_hash, expires_at, keep, cred_gen))

    async def token_user(self, token_hash: bytes, now: int) -> tuple[str, int] | None:
        row = await self._read(
            lambda c: c.fetchrow(
                "SELECT t.user_name, t.cred_gen FROM tokens t JOIN users u ON u.name = t.user_name"
                " WHERE t.hash = $1 AND t.expires_at > $2 AND t.cred_gen = u.cred_gen"
                " AND NOT u.disabled",
                token_hash,
                now,
            )
        )
        return None if row is None else (str(row[0]), int(row[1]))

    async def revoke_token(self, token_hash: bytes) -> bool:
        return await self._write(
            lambda c: q.status_is(c, "DELETE 1", "DELETE FROM tokens WHERE hash = $1", token_hash)
        )

    async def revoke_tokens(self, user: str) -> int:
        async def job(c: Conn) -> int:
            status = await c.execute("DELETE FROM tokens WHERE user_name = $1", user)
            return int(status.split()[-1])

        return await self._write(job)

    # -- rooms -------------------------------------------------------------------------------

    async def create_room(
        self,
        name: str,
        visibility: Visibility,
        created_by: str,
        *,
        topic: str = "",
        members: Iterable[str] = (),
    ) -> RoomRecord:
        if visibility not in _VISIBILITIES:
            raise ValueError(f"visibility must be one of {sorted(_VISIBILITIES)}")
        initial = tuple(members)
        return await self._write(
            lambda c: q.create_room(c, name, visibility, created_by, topic, initial)
        )

    async def get_room(self, name: str) -> RoomRecord | None:
        row = await self._read(
            lambda c: c.fetchrow(f"SELECT {q.ROOM_COLS} FROM rooms WHERE name = $1", name)
        )
        return None if row is None else q.room(row)

    async def list_public_rooms(
        self, *, after: str | None = None, limit: int | None = None
    ) -> list[RoomRecord]:
        rows = await self._read(
            lambda c: c.fetch(
                f"SELECT {q.ROOM_COLS} FROM rooms WHERE visibility = 'public' AND NOT closed"
                " AND ($1::text IS NULL OR name > $1) ORDER BY name LIMIT $2",
                after,
                limit,
            )
        )
        return [q.room(r) for r in rows]

    async def rooms_of(self, user: str) -> list[RoomRecord]:
        cols = ", ".join(f"r.{col.strip()}" for col in q.ROOM_COLS.split(","))
        rows = await self._read(
            lambda c: c.fetch(
                f"SELECT {cols} FROM members m JOIN rooms r ON r.name = m.room"
                " WHERE m.user_name = $1 ORDER BY r.name",
                user,
            )
        )
        return [q.room(r) for r in rows]

    async def members(self, room: str) -> list[str]:
        rows = await self._read(
            lambda c: c.fetch(
                "SELECT user_name FROM members WHERE room = $1 ORDER BY user_name", room
            )
        )
        return [str(r[0]) for r in rows]

    async def add_member(self, room: str, user: str, role: Role = "member") -> bool:
        return await self._write(lambda c: q.add_member(c, room, user, role))

    async def remove_member(self, room: str, user: str) -> bool:
        sql = "DELETE FROM members WHERE room = $1 AND user_name = $2"
        return await self._write(lambda c: q.status_is(c, "DELETE 1", sql, room, user))

    async def set_topic(self, room: str, topic: str) -> None:
        await self._write(lambda c: q.set_topic(c, room, topic))

    async def close_room(self, room: str) -> ClosedRoom:
        return await self._write(lambda c: q.close_room(c, room))

    # -- invitations -------------------------------------------------------------------------

    async def add_invitation(
        self, room: str, user: str, invited_by: str, *, max_pending: int
    ) -> InviteOutcome:
        return await self._write(lambda c: pgi.add(c, room, user, invited_by, max_pending))

    async def invitations_of(self, user: str) -> list[InvitationRecord]:
        return await self._read(lambda c: pgi.of_user(c, user))

    async def accept_invitation(self, room: str, user: str) -> bool:
        return await self._write(lambda c: pgi.accept(c, room, user))

    async def decline_invitation(self, room: str, user: str) -> bool:
        return await self._write(lambda c: pgi.decline(c, room, user))

    # -- moderation --------------------------------------------------------------------------

    async def room_policy(self, room: str) -> RoomPolicy:
        return await self._read(lambda c: q.room_policy(c, room))

    async def set_role(self, room: str, user: str, role: Role) -> bool:
        sql = "UPDATE members SET role = $1 WHERE room = $2 AND user_name = $3"
        return await self._write(lambda c: q.status_is(c, "UPDATE 1", sql, role, room, user))

    async def ban(self, room: str, user: str, banned_by: str, reason: str = "") -> BanOutcome:
        return await self._write(lambda c: q.ban(c, room, user, banned_by, reason))

    async def unban(self, room: str, user: str) -> bool:
        sql = "DELETE FROM bans WHERE room = $1 AND user_name = $2"
        return await self._write(lambda c: q.status_is(c, "DELETE 1", sql, room, user))

    async def is_banned(self, room: str, user: str) -> bool:
        sql = "SELECT 1 FROM bans WHERE room = $1 AND user_name = $2"
        return await self._read(lambda c: c.fetchval(sql, room, user)) is not None

    async def bans(self, room: str) -> list[BanRecord]:
        rows = await self._read(
            lambda c: c.fetch(
                "SELECT room, user_name, banned_by, reason, created_at FROM bans WHERE room = $1"
                " ORDER BY user_name",
                room,
            )
        )
        return [BanRecord(str(a), str(b), str(c), str(d), int(e)) for a, b, c, d, e in rows]

    async def mute(self, room: str, user: str, muted_by: str, until: int | None) -> None:
        await self._write(lambda c: q.mute(c, room, user, muted_by, until))

    async def unmute(self, room: str, user: str) -> bool:
        sql = "DELETE FROM mutes WHERE room = $1 AND user_name = $2"
        return await self._write(lambda c: q.status_is(c, "DELETE 1", sql, room, user))

    # -- messages ----------------------------------------------------------------------------

    async def append(self, msg: NewMessage) -> StoredMessage:
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        stored: StoredMessage = await self._submit(_Job(future, msg=msg))
        return stored

    async def history(
        self, room: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> list[StoredMessage]:
        if limit <= 0:
            return []
        base = f"SELECT {q.MSG_COLS} FROM messages WHERE room = $1"
        args: tuple[Any, ...]
        if after is not None and before is not None:
            sql, args, flip = (
                base + " AND seq > $2 AND seq < $3 ORDER BY seq ASC LIMIT $4",
                (room, after, before, limit),
                False,
            )
        elif after is not None:
            sql, args, flip = (
                base + " AND seq > $2 ORDER BY seq ASC LIMIT $3",
                (room, after, limit),
                False,
            )
        elif before is not None:
            sql, args, flip = (
                base + " AND seq < $2 ORDER BY seq DESC LIMIT $3",
                (room, before, limit),
                True,
            )
        else:
            sql, args, flip = base + " ORDER BY seq DESC LIMIT $2", (room, limit), True
        rows = await self._read(lambda c: c.fetch(sql, *args))
        msgs = [q.message(r) for r in rows]
        if flip:
            msgs.reverse()
        return msgs

    # -- read markers ------------------------------------------------------------------------

    async def set_read_marker(self, user: str, room: str, seq: int) -> int:
        if seq < 0:
            raise ValueError("seq must be >= 0")
        return await self._write(lambda c: q.set_read_marker(c, user, room, seq))

    async def read_markers(self, user: str) -> dict[str, int]:
        rows = await self._read(
            lambda c: c.fetch("SELECT room, seq FROM read_markers WHERE user_name = $1", user)
        )
        return {str(r[0]): int(r[1]) for r in rows}
