"""The SQLite implementation of :class:`~tertulia.server.storage.base.Storage`.

Theory of operation
-------------------

SQLite calls block (a commit in ``synchronous=FULL`` waits for ``fsync``), so none of them run on
the event loop. Two threads each own one connection and nothing else touches it:

* The **writer** thread takes jobs from a queue. When it wakes it drains everything already
  queued (up to ``max_batch`` jobs) and runs the lot in a single ``BEGIN IMMEDIATE ... COMMIT``:
  that is the group commit. While one commit waits for the disk, new ``append`` calls pile up
  in the queue and ride the next transaction together, so throughput grows with load instead of
  being capped at one fsync per message. Each job runs inside its own ``SAVEPOINT``: a job that
  fails (unknown room, name taken, a bug) is rolled back alone and only its caller sees the
  error; the rest of the batch still commits. Callers are answered only after ``COMMIT``
  returned, which is what makes an ``append`` acknowledgement a durability promise.
* The **reader** thread runs queries on a second connection. In WAL mode readers never block
  the writer and vice versa, and because a write's future resolves only after its commit, a
  read issued after an awaited write always sees it.

Results travel back with ``loop.call_soon_threadsafe`` onto plain asyncio futures. A caller that
was cancelled, or whose loop has been closed meanwhile, is skipped silently: its write still
commits (it cannot be taken back once queued) and nobody is left to tell.

Why ``seq`` is gap-free: the room's counter (``rooms.last_seq``) is bumped by the same
transaction that inserts the message, so a crash at any moment keeps either both or neither.

The queues are not bounded here: each queued job is one awaiting caller, so the bound belongs
upstream, where callers are created (per-session rate limits and send windows).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib.resources
import logging
import os
import pathlib
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, cast

from tertulia.server.names import legacy_name_problem, skeleton
from tertulia.server.storage import sqlite_invitations as invitations
from tertulia.server.storage.base import (
    BanOutcome,
    BanRecord,
    ClosedRoom,
    InvitationRecord,
    InviteOutcome,
    NameTakenError,
    NewMessage,
    Role,
    RoomExistsError,
    RoomPolicy,
    RoomRecord,
    Storage,
    StorageError,
    StorageFullError,
    StoredMessage,
    UnknownRoomError,
    UserRecord,
    Visibility,
)

__all__ = [
    "Migration",
    "SqliteStorage",
    "StorageStats",
    "apply_migrations",
    "is_disk_full",
    "load_migrations",
    "split_statements",
]

log = logging.getLogger("tertulia.server.storage.sqlite")

T = TypeVar("T")

#: ``UPDATE ... RETURNING`` needs 3.35; upsert (``ON CONFLICT DO``) needs 3.24.
MIN_SQLITE_VERSION: Final = (3, 35, 0)
_SYNCHRONOUS: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_VISIBILITIES: Final = frozenset({"public", "private", "dm"})
_MIGRATION_FILE: Final = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_FILE_MODE: Final = 0o600
_DIR_MODE: Final = 0o700


# ------------------------------------------------------------------------------------ stats


@dataclass(slots=True)
class StorageStats:
    """Counters kept by the writer thread, for tests and metrics.

    They are plain ints updated by one thread; reading them from the loop gives a snapshot that
    may be one batch behind, which is all a metric needs.
    """

    #: write transactions committed (one per batch; migrations are not counted)
    commits: int = 0
    #: write jobs carried by those commits, failed jobs included (they were rolled back alone)
    writes: int = 0
    #: messages stored by ``append`` (duplicates excluded)
    appends: int = 0
    #: ``append`` calls answered with ``duplicate=True``
    duplicates: int = 0
    #: the most jobs one commit has carried
    largest_batch: int = 0
    #: transactions that failed as a whole (BEGIN or COMMIT error); all their callers got errors
    failed_transactions: int = 0


# ------------------------------------------------------------------------------- migrations


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The packaged ``migrations/NNNN_*.sql`` files, in order.

    Numbers must run 1, 2, 3... without gaps or repeats: the number is the ``user_version`` the
    database holds after the file has been applied, so a hole would be ambiguous.
    """
    root = importlib.resources.files("tertulia.server.storage") / "migrations"
    found: list[Migration] = []
    for entry in root.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise StorageError(f"badly named migration file {entry.name!r} (want NNNN_name.sql)")
        found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    for expected, mig in enumerate(found, start=1):
        if mig.version != expected:
            raise StorageError(f"migration {mig.name} found where number {expected:04d} was due")
    return found


def split_statements(script: str) -> list[str]:
    """Split a SQL script into single statements (``sqlite3.Connection.execute`` takes one).

    ``executescript`` is not usable for migrations: it commits any open transaction first, and
    a migration must share its transaction with the ``user_version`` bump. Splitting at each
    ``;`` where :func:`sqlite3.complete_statement` agrees handles semicolons inside strings,
    comments and trigger bodies.
    """
    statements: list[str] = []
    start = 0
    for i, ch in enumerate(script):
        if ch == ";" and sqlite3.complete_statement(script[start : i + 1]):
            statements.append(script[start : i + 1].strip())
            start = i + 1
    rest = script[start:]
    if any(line.strip() and not line.strip().startswith("--") for line in rest.splitlines()):
        raise StorageError(f"SQL script ends with an incomplete statement: {rest.strip()[:60]!r}")
    return statements


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchall()[0][0])


def apply_migrations(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the schema up to date; return the resulting ``user_version``.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with its
    ``PRAGMA user_version`` bump, so a crash leaves the database at a well-defined version.
    The version is read again under the write lock in case another process migrated first.
    A database newer than this code is refused rather than half-understood.
    """
    current = _user_version(conn)
    latest = len(migrations)
    if current > latest:
        raise StorageError(
            f"database schema version {current} is newer than this Tertulia knows ({latest})"
        )
    for mig in migrations[current:]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _user_version(conn) < mig.version:
                for statement in split_statements(mig.sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {int(mig.version)}")
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"migration {mig.name} failed: {exc}") from exc
            raise
        log.info("applied migration %s", mig.name)
    return _user_version(conn)


# ------------------------------------------------------------------------ thread <-> loop


_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class _Job:
    """One unit of work for a connection thread, and the future its caller awaits."""

    __slots__ = ("fn", "future", "loop")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.fn = fn
        self.loop = loop
        self.future = future


def _apply_outcomes(outcomes: list[_Outcome]) -> None:
    """Runs on the loop: resolve futures whose callers are still waiting."""
    for future, result, exc in outcomes:
        if future.done():  # the caller was cancelled; its work happened anyway
            continue
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)


def _settle(loop: asyncio.AbstractEventLoop, outcomes: list[_Outcome]) -> None:
    """From a connection thread: hand outcomes to ``loop`` in one wake-up.

    A closed loop makes ``call_soon_threadsafe`` raise; that only means nobody waits any more,
    which must not kill the connection thread.
    """
    if not outcomes:
        return
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_apply_outcomes, outcomes)


def _settle_jobs(outcomes: Iterable[tuple[_Job, Any, BaseException | None]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for job, result, exc in outcomes:
        by_loop.setdefault(job.loop, []).append((job.future, result, exc))
    for loop, items in by_loop.items():
        _settle(loop, items)


def is_disk_full(exc: BaseException) -> bool:
    """Is ``exc`` SQLite (or the OS) saying that the disk is full?

    SQLite reports ``ENOSPC`` on a write as ``SQLITE_FULL`` ("database or disk is full"); an
    ``OSError`` with ``ENOSPC`` comes from our own file operations around it.
    """
    if isinstance(exc, StorageFullError):
        return True
    if isinstance(exc, StorageError) and exc.__cause__ is not None:
        return is_disk_full(exc.__cause__)
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
            "database or disk is full" in str(exc)
        )
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def _storage_error(message: str, cause: BaseException) -> StorageError:
    kind = StorageFullError if is_disk_full(cause) else StorageError
    err = kind(f"{message}: {cause}")
    err.__cause__ = cause
    return err


def _as_caller_error(exc: Exception) -> Exception:
    """What a job's caller receives: domain errors as they are, SQLite errors as StorageError."""
    if isinstance(exc, sqlite3.Error):
        return _storage_error("database error", exc)
    return exc


class _Worker:
    """A thread that owns one sqlite3 connection and serves jobs from a queue until stopped."""

    def __init__(self, name: str, connect: Callable[[], sqlite3.Connection]) -> None:
        self.name = name
        self._connect = connect
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._exited = False
        self._started: _Job | None = None
        self._finished: _Job | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    async def start(self) -> None:
        """Start the thread; return once its connection is ready, or raise why it is not."""
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        self._started = _Job(lambda conn: None, loop, started)
        self._thread.start()
        await started

    def submit(self, job: _Job) -> None:
        self._queue.put(job)
        if self._exited:  # the thread is gone (or going): nobody else will answer
            self._fail_pending()

    async def stop(self) -> None:
        """Let the thread finish every job queued so far, close its connection and exit."""
        if self._started is None:  # never started: no thread to stop
            return
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = loop.create_future()
        self._finished = _Job(lambda conn: None, loop, finished)
        self._queue.put(None)
        if self._exited:
            return
        await finished
        # The thread resolves ``finished`` as its very last act, so this join is immediate.
        self._thread.join()

    def _main(self) -> None:
        started = self._started
        assert started is not None, "start() sets it before starting the thread"
        try:
            conn = self._connect()
        except Exception as exc:
            err = exc if isinstance(exc, StorageError) else _storage_error("cannot open", exc)
            _settle_jobs([(started, None, err)])
        else:
            _settle_jobs([(started, None, None)])
            try:
                self._serve(conn)
            except BaseException:  # pragma: no cover - a bug here must not hang callers
                log.exception("%s thread crashed", self.name)
            finally:
                self._shutdown(conn)
        finally:
            self._exited = True
            self._fail_pending()
            if self._finished is not None:
                _settle_jobs([(self._finished, None, None)])

    def _fail_pending(self) -> None:
        failed = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                failed.append((job, None, StorageError("storage is closed")))
        _settle_jobs(failed)

    def _serve(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def _shutdown(self, conn: sqlite3.Connection) -> None:
        conn.close()


class _Reader(_Worker):
    """Runs read-only queries one at a time on its own connection."""

    def _serve(self, conn: sqlite3.Connection) -> None:
        while (job := self._queue.get()) is not None:
            try:
                outcome: tuple[_Job, Any, BaseException | None] = (job, job.fn(conn), None)
            except Exception as exc:
                outcome = (job, None, _as_caller_error(exc))
            _settle_jobs([outcome])


class _Writer(_Worker):
    """Runs write jobs in batches: one transaction (group commit) per wake-up."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], sqlite3.Connection],
        stats: StorageStats,
        max_batch: int,
    ) -> None:
        super().__init__(name, connect)
        self._stats = stats
        self._max_batch = max_batch

    def _serve(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            try:
                self._run_batch(conn, batch)
            except BaseException as exc:  # pragma: no cover - defensive: never strand a caller
                log.exception("writer batch failed unexpectedly")
                with contextlib.suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                _settle_jobs(
                    (job, None, _storage_error("internal storage error", exc)) for job in batch
                )

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    result = job.fn(conn)
                except Exception as exc:
                    # If SQLite already rolled the whole transaction back (I/O error, disk
                    # full), ROLLBACK TO raises and the whole batch fails below.
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((job, None, _as_caller_error(exc)))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((job, result, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if not is_disk_full(exc):  # a full disk is logged by the server, at a bounded rate
                log.error("write transaction of %d job(s) failed: %s", len(batch), exc)
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            self._stats.failed_transactions += 1
            _settle_jobs((job, None, _storage_error("write failed", exc)) for job in batch)
            return
        stats = self._stats
        stats.commits += 1
        stats.writes += len(batch)
        stats.largest_batch = max(stats.largest_batch, len(batch))
        for _, result, _ in outcomes:
            if isinstance(result, StoredMessage):
                if result.duplicate:
                    stats.duplicates += 1
                else:
                    stats.appends += 1
        _settle_jobs(outcomes)

    def _shutdown(self, conn: sqlite3.Connection) -> None:
        """Fold the WAL back into the main file so a stopped server leaves one tidy file."""
        try:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize").fetchall()
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()


# ------------------------------------------------------------------------------ the files


def _prepare_file(path: pathlib.Path) -> None:
    """Create the directory (0700) and the database file (0600) before SQLite opens it.

    SQLite gives the ``-wal`` and ``-shm`` files the permissions of the database file, so
    creating the database with 0600 ourselves covers all three, without touching the process
    umask (which other threads share).
    """
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        if os.name == "posix":
            os.chmod(parent, _DIR_MODE)  # mkdir's mode is filtered through the umask
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
    os.close(fd)
    _restrict(path)


def _restrict(path: pathlib.Path) -> None:
    """Make ``path`` owner-only if it exists: chat history and password hashes live here."""
    if os.name != "posix":  # pragma: no cover - POSIX modes only
        return
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_mode & 0o777 != _FILE_MODE:
            os.chmod(path, _FILE_MODE)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# ------------------------------------------------------------------------ row conversions

_USER_COLS: Final = "name, password_hash, is_admin, created_at, disabled, cred_gen"
_ROOM_COLS: Final = "name, visibility, topic, created_by, created_at, last_seq, closed"
_MSG_COLS: Final = "room, seq, msg_id, sender, ts, text, kind"


def _user(row: Sequence[Any]) -> UserRecord:
    return UserRecord(
        name=str(row[0]),
        password_hash=str(row[1]),
        is_admin=bool(row[2]),
        created_at=int(row[3]),
        disabled=bool(row[4]),
        cred_gen=int(row[5]),
    )


def _room(row: Sequence[Any]) -> RoomRecord:
    return RoomRecord(
        name=str(row[0]),
        visibility=cast(Visibility, str(row[1])),
        topic=str(row[2]),
        created_by=str(row[3]),
        created_at=int(row[4]),
        last_seq=int(row[5]),
        closed=bool(row[6]),
    )


def _message(row: Sequence[Any], *, duplicate: bool = False) -> StoredMessage:
    return StoredMessage(
        room=str(row[0]),
        seq=int(row[1]),
        msg_id=str(row[2]),
        sender=str(row[3]),
        ts=int(row[4]),
        text=str(row[5]),
        kind=str(row[6]),
        duplicate=duplicate,
    )


def _one(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """First row or None. Always ``fetchall`` so no statement is left half-stepped (which
    would make the next RELEASE/COMMIT fail)."""
    rows = conn.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _room_exists(conn: sqlite3.Connection, room: str) -> bool:
    return _one(conn, "SELECT 1 FROM rooms WHERE name = ?", (room,)) is not None


# ------------------------------------------------------------------ write jobs (writer thread)


def _create_user(
    conn: sqlite3.Connection, name: str, password_hash: str, is_admin: bool
) -> UserRecord:
    now = _now_ms()
    cur = conn.execute(
        "INSERT INTO users (name, password_hash, is_admin, disabled, created_at, skeleton)"
        " VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING",
        (name, password_hash, int(is_admin), now, skeleton(name)),
    )
    if cur.rowcount != 1:
        raise NameTakenError(f"user {name!r} (or a look-alike) already exists")
    return UserRecord(name, password_hash, is_admin, now, False)


def _set_password(
    conn: sqlite3.Connection, name: str, password_hash: str, if_gen: int | None
) -> int | None:
    cur = conn.execute(
        "UPDATE users SET password_hash = ?, cred_gen = cred_gen + 1 WHERE name = ?"
        " AND (? IS NULL OR (cred_gen = ? AND disabled = 0))",
        (password_hash, name, if_gen, if_gen),
    )
    if cur.rowcount != 1:
        return None
    conn.execute("DELETE FROM tokens WHERE user = ?", (name,))
    return _cred_gen(conn, name)


def _set_disabled(conn: sqlite3.Connection, name: str, disabled: bool) -> int | None:
    cur = conn.execute(
        "UPDATE users SET disabled = ?, cred_gen = cred_gen + ? WHERE name = ?",
        (int(disabled), int(disabled), name),
    )
    if cur.rowcount != 1:
        return None
    if disabled:
        conn.execute("DELETE FROM tokens WHERE user = ?", (name,))
    return _cred_gen(conn, name)


def _cred_gen(conn: sqlite3.Connection, name: str) -> int:
    """The generation just written (same transaction: RETURNING needs SQLite 3.35)."""
    return int(_one(conn, "SELECT cred_gen FROM users WHERE name = ?", (name,))[0])


def _add_token(
    conn: sqlite3.Connection, user: str, token_hash: bytes, expires_at: int, keep: int, gen: int
) -> None:
    now = _now_ms()
    conn.execute("DELETE FROM tokens WHERE user = ? AND expires_at <= ?", (user, now))
    conn.execute(
        "INSERT INTO tokens (hash, user, created_at, expires_at, cred_gen) VALUES (?, ?, ?, ?, ?)",
        (token_hash, user, now, expires_at, gen),
    )
    conn.execute(
        "DELETE FROM tokens WHERE user = ? AND hash NOT IN"
        " (SELECT hash FROM tokens WHERE user = ? ORDER BY created_at DESC LIMIT ?)",
        (user, user, max(1, keep)),
    )


def _backfill_skeletons(conn: sqlite3.Connection) -> None:
    """Give rows without a skeleton theirs (rows from before 0002, and all after 0004 cleared
    them for ICU's skeletons). Look-alike pairs keep NULL for the younger name; names the
    current rules would refuse are logged once, and keep working (lookups only normalize)."""
    for table, where in (("users", ""), ("rooms", " AND visibility != 'dm'")):
        names = [
            r[0]
            for r in conn.execute(
                f"SELECT name FROM {table} WHERE skeleton IS NULL{where} ORDER BY created_at"
            )
        ]
        for name in names:
            legacy_name_problem(table, name)
            try:
                conn.execute(
                    f"UPDATE {table} SET skeleton = ? WHERE name = ?", (skeleton(name), name)
                )
            except sqlite3.IntegrityError:
                log.warning("%s %r looks like another name; its skeleton stays unset", table, name)


def _create_room(
    conn: sqlite3.Connection,
    name: str,
    visibility: Visibility,
    created_by: str,
    topic: str,
    members: tuple[str, ...],
) -> RoomRecord:
    now = _now_ms()
    skel = None if visibility == "dm" else skeleton(name)
    cur = conn.execute(
        "INSERT INTO rooms (name, visibility, topic, created_by, created_at, last_seq, skeleton)"
        " VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT DO NOTHING",
        (name, visibility, topic, created_by, now, skel),
    )
    if cur.rowcount != 1:
        raise RoomExistsError(f"room {name!r} (or a look-alike) already exists")
    owner = created_by if visibility != "dm" else None
    conn.executemany(
        "INSERT INTO members (room, user, joined_at, role) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(name, user, now, "owner" if user == owner else "member") for user in members],
    )
    return RoomRecord(name, visibility, topic, created_by, now, 0)


def _add_member(conn: sqlite3.Connection, room: str, user: str, role: Role) -> bool:
    if not _room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    cur = conn.execute(
        "INSERT INTO members (room, user, joined_at, role) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (room, user, _now_ms(), role),
    )
    invitations.forget(conn, room, user)
    return cur.rowcount == 1


def _remove_member(conn: sqlite3.Connection, room: str, user: str) -> bool:
    cur = conn.execute("DELETE FROM members WHERE room = ? AND user = ?", (room, user))
    return cur.rowcount == 1


def _close_room(conn: sqlite3.Connection, room: str) -> ClosedRoom:
    if not _room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    rows = conn.execute("DELETE FROM members WHERE room = ? RETURNING user", (room,)).fetchall()
    conn.execute("UPDATE rooms SET closed = 1 WHERE name = ?", (room,))
    conn.execute("DELETE FROM mutes WHERE room = ?", (room,))
    invitees = invitations.forget(conn, room)
    return ClosedRoom(sorted(str(r[0]) for r in rows), invitees)


def _set_role(conn: sqlite3.Connection, room: str, user: str, role: Role) -> bool:
    cur = conn.execute(
        "UPDATE members SET role = ? WHERE room = ? AND user = ?", (role, room, user)
    )
    return cur.rowcount == 1


def _ban(conn: sqlite3.Connection, room: str, user: str, by: str, reason: str) -> BanOutcome:
    if not _room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    conn.execute(
        "INSERT INTO bans (room, user, banned_by, reason, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (room, user) DO UPDATE SET banned_by = excluded.banned_by,"
        " reason = excluded.reason",
        (room, user, by, reason, _now_ms()),
    )
    conn.execute("DELETE FROM mutes WHERE room = ? AND user = ?", (room, user))
    had_invitation = bool(invitations.forget(conn, room, user))
    cur = conn.execute("DELETE FROM members WHERE room = ? AND user = ?", (room, user))
    return BanOutcome(was_member=cur.rowcount == 1, had_invitation=had_invitation)


def _mute(conn: sqlite3.Connection, room: str, user: str, by: str, until: int | None) -> None:
    if not _room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    conn.execute(
        "INSERT INTO mutes (room, user, muted_by, until, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (room, user) DO UPDATE SET muted_by = excluded.muted_by,"
        " until = excluded.until",
        (room, user, by, until, _now_ms()),
    )


def _room_policy(conn: sqlite3.Connection, room: str) -> RoomPolicy:
    roles = {
        str(u): cast(Role, str(r))
        for u, r in conn.execute(
            "SELECT user, role FROM members WHERE room = ? AND role != 'member'", (room,)
        )
    }
    now = _now_ms()
    mutes = {
        str(u): (None if t is None else int(t))
        for u, t in conn.execute(
            "SELECT user, until FROM mutes WHERE room = ? AND (until IS NULL OR until > ?)",
            (room, now),
        )
    }
    return RoomPolicy(roles=roles, mutes=mutes)


def _set_topic(conn: sqlite3.Connection, room: str, topic: str) -> None:
    cur = conn.execute("UPDATE rooms SET topic = ? WHERE name = ?", (topic, room))
    if cur.rowcount != 1:
        raise UnknownRoomError(f"no room {room!r}")


def _append(conn: sqlite3.Connection, msg: NewMessage) -> StoredMessage:
    """Store one message, idempotently; runs inside the batch's transaction.

    The duplicate check comes first and looks at everything written so far on this connection,
    earlier jobs of the same batch included, so a resend racing its original is caught too.
    """
    original = _one(
        conn,
        f"SELECT {_MSG_COLS} FROM messages WHERE sender = ? AND msg_id = ?",
        (msg.sender, msg.msg_id),
    )
    if original is not None:
        return _message(original, duplicate=True)
    row = _one(
        conn,
        "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ? RETURNING last_seq",
        (msg.room,),
    )
    if row is None:
        raise UnknownRoomError(f"no room {msg.room!r}")
    seq = int(row[0])
    conn.execute(
        f"INSERT INTO messages ({_MSG_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (msg.room, seq, msg.msg_id, msg.sender, msg.ts, msg.text, msg.kind),
    )
    _advance_marker(conn, msg.sender, msg.room, seq)
    return StoredMessage(
        room=msg.room,
        seq=seq,
        msg_id=msg.msg_id,
        sender=msg.sender,
        ts=msg.ts,
        text=msg.text,
        kind=msg.kind,
    )


def _advance_marker(conn: sqlite3.Connection, user: str, room: str, seq: int) -> int:
    row = _one(
        conn,
        "INSERT INTO read_markers (user, room, seq) VALUES (?, ?, ?)"
        " ON CONFLICT (user, room) DO UPDATE SET seq = max(seq, excluded.seq)"
        " RETURNING seq",
        (user, room, seq),
    )
    return int(row[0])


def _set_read_marker(conn: sqlite3.Connection, user: str, room: str, seq: int) -> int:
    if not _room_exists(conn, room):
        raise UnknownRoomError(f"no room {room!r}")
    return _advance_marker(conn, user, room, seq)


# ---------------------------------------------------------------- read jobs (reader thread)


def _history(
    conn: sqlite3.Connection, room: str, before: int | None, after: int | None, limit: int
) -> list[StoredMessage]:
    if limit <= 0:
        return []
    base = f"SELECT {_MSG_COLS} FROM messages WHERE room = ?"
    if after is not None and before is not None:
        rows = conn.execute(
            base + " AND seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?", (room, after, before, limit)
        ).fetchall()
    elif after is not None:
        rows = conn.execute(
            base + " AND seq > ? ORDER BY seq ASC LIMIT ?", (room, after, limit)
        ).fetchall()
    elif before is not None:
        rows = conn.execute(
            base + " AND seq < ? ORDER BY seq DESC LIMIT ?", (room, before, limit)
        ).fetchall()
        rows.reverse()
    else:
        rows = conn.execute(base + " ORDER BY seq DESC LIMIT ?", (room, limit)).fetchall()
        rows.reverse()
    return [_message(row) for row in rows]


# ------------------------------------------------------------------------------ the storage

_State = Literal["new", "opening", "open", "closing", "closed"]


class SqliteStorage(Storage):
    """Durable state in one SQLite file (WAL mode), written through a group-committing thread.

    ``synchronous`` is SQLite's ``PRAGMA synchronous``: ``FULL`` (the default) fsyncs the WAL at
    every commit, so an acknowledged message survives power loss; ``NORMAL`` survives a process
    crash but may lose the last commits on power loss. ``max_batch`` bounds how many jobs one
    transaction carries, which bounds the latency a single commit adds to its first caller.
    """

    def __init__(
        self,
        path: pathlib.Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        max_batch: int = 1000,
    ) -> None:
        mode = synchronous.upper()
        if mode not in _SYNCHRONOUS:
            raise ValueError(
                f"synchronous must be one of {sorted(_SYNCHRONOUS)}, not {synchronous!r}"
            )
        if busy_timeout_ms < 0:
            raise ValueError("busy_timeout_ms must be >= 0")
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.path = pathlib.Path(path)
        self.synchronous = mode
        self.busy_timeout_ms = busy_timeout_ms
        self.max_batch = max_batch
        self.stats = StorageStats()
        self._state: _State = "new"
        self._writer: _Writer | None = None
        self._reader: _Reader | None = None
        self._closer: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return (
            f"<SqliteStorage {str(self.path)!r} {self._state} synchronous={self.synchronous}"
            f" commits={self.stats.commits}>"
        )

    # -- connections (run on their own threads) ----------------------------------------------

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")

    def _connect_writer(self) -> sqlite3.Connection:
        _prepare_file(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)
        try:
            journal = str(conn.execute("PRAGMA journal_mode = WAL").fetchall()[0][0])
            if journal.lower() != "wal":
                raise StorageError(f"{self.path}: cannot switch to WAL (journal_mode={journal})")
            self._configure(conn)
            apply_migrations(conn, load_migrations())
            _backfill_skeletons(conn)
            for suffix in ("-wal", "-shm"):
                _restrict(self.path.with_name(self.path.name + suffix))
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)
        try:
            self._configure(conn)
            conn.execute("PRAGMA query_only = ON")  # a write here would bypass the writer
        except BaseException:
            conn.close()
            raise
        return conn

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Create/migrate the database and start the writer and reader threads."""
        if self._state != "new":
            raise StorageError(f"storage {self.path} cannot be opened: it is {self._state}")
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise StorageError(
                f"SQLite {sqlite3.sqlite_version} is too old; need"
                f" {'.'.join(map(str, MIN_SQLITE_VERSION))}"
            )
        self._state = "opening"
        try:
            writer = _Writer(
                "tertulia-sqlite-writer", self._connect_writer, self.stats, self.max_batch
            )
            self._writer = writer
            await writer.start()
            reader = _Reader("tertulia-sqlite-reader", self._connect_reader)
            self._reader = reader
            await reader.start()
        except BaseException:
            await self._stop_threads()
            self._state = "closed"
            raise
        self._state = "open"

    async def close(self) -> None:
        """Refuse new calls, answer every queued one, checkpoint, close, join the threads.

        Safe to call more than once and concurrently; cancelling a caller of ``close`` does not
        interrupt the shutdown.
        """
        if self._closer is None:
            if self._state in ("new", "closed"):
                self._state = "closed"
                return
            self._state = "closing"
            self._closer = asyncio.ensure_future(self._stop_threads())
        await asyncio.shield(self._closer)
        self._state = "closed"

    async def _stop_threads(self) -> None:
        # Reader first: the final checkpoint on the writer can then fold the whole WAL back.
        if self._reader is not None:
            await self._reader.stop()
        if self._writer is not None:
            await self._writer.stop()

    # -- plumbing ----------------------------------------------------------------------------

    def _ready(self) -> tuple[_Writer, _Reader]:
        if self._state != "open" or self._writer is None or self._reader is None:
            state = {"new": "not open yet", "opening": "still opening"}.get(self._state, "closed")
            raise StorageError(f"storage {self.path} is {state}")
        return self._writer, self._reader

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Queue ``fn`` for the writer; return its result once its transaction committed.

        Cancelling the caller does not withdraw the job: it may already be in a transaction.
        """
        writer, _ = self._ready()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        writer.submit(_Job(fn, loop, future))
        return await future

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        _, reader = self._ready()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        reader.submit(_Job(fn, loop, future))
        return await future

    # -- users -------------------------------------------------------------------------------

    async def create_user(
        self, name: str, password_hash: str, *, is_admin: bool = False
    ) -> UserRecord:
        return await self._write(lambda conn: _create_user(conn, name, password_hash, is_admin))

    async def get_user(self, name: str) -> UserRecord | None:
        row = await self._read(
            lambda conn: _one(conn, f"SELECT {_USER_COLS} FROM users WHERE name = ?", (name,))
        )
        return None if row is None else _user(row)

    async def list_users(self) -> list[UserRecord]:
        rows = await self._read(
            lambda conn: conn.execute(f"SELECT {_USER_COLS} FROM users ORDER BY name").fetchall()
        )
        return [_user(row) for row in rows]

    async def set_password(
        self, name: str, password_hash: str, *, if_gen: int | None = None
    ) -> int | None:
        return await self._write(lambda conn: _set_password(conn, name, password_hash, if_gen))

    async def count_users(self) -> int:
        row = await self._read(lambda conn: _one(conn, "SELECT count(*) FROM users"))
        return int(row[0])

    async def set_disabled(self, name: str, disabled: bool) -> int | None:
        return await self._write(lambda conn: _set_disabled(conn, name, disabled))

    # -- resume tokens -----------------------------------------------------------------------

    async def add_token(
        self, user: str, token_hash: bytes, expires_at: int, *, keep: int, cred_gen: int
    ) -> None:
        await self._write(
            lambda conn: _add_token(conn, user, token_hash, expires_at, keep, cred_gen)
        )

    async def token_user(self, token_hash: bytes, now: int) -> tuple[str, int] | None:
        row = await self._read(
            lambda conn: _one(
                conn,
                "SELECT t.user, t.cred_gen FROM tokens t JOIN users u ON u.name = t.user"
                " WHERE t.hash = ? AND t.expires_at > ? AND t.cred_gen = u.cred_gen"
                " AND u.disabled = 0",
                (token_hash, now),
            )
        )
        return None if row is None else (str(row[0]), int(row[1]))

    async def revoke_token(self, token_hash: bytes) -> bool:
        return await self._write(
            lambda conn: (
                conn.execute("DELETE FROM tokens WHERE hash = ?", (token_hash,)).rowcount == 1
            )
        )

    async def revoke_tokens(self, user: str) -> int:
        return await self._write(
            lambda conn: int(conn.execute("DELETE FROM tokens WHERE user = ?", (user,)).rowcount)
        )

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
        initial = tuple(members)  # consume the iterable here, not on the writer thread
        return await self._write(
            lambda conn: _create_room(conn, name, visibility, created_by, topic, initial)
        )

    async def get_room(self, name: str) -> RoomRecord | None:
        row = await self._read(
            lambda conn: _one(conn, f"SELECT {_ROOM_COLS} FROM rooms WHERE name = ?", (name,))
        )
        return None if row is None else _room(row)

    async def list_public_rooms(
        self, *, after: str | None = None, limit: int | None = None
    ) -> list[RoomRecord]:
        rows = await self._read(
            lambda conn: conn.execute(
                f"SELECT {_ROOM_COLS} FROM rooms WHERE visibility = 'public' AND closed = 0"
                " AND (? IS NULL OR name > ?) ORDER BY name LIMIT ?",
                (after, after, -1 if limit is None else limit),
            ).fetchall()
        )
        return [_room(row) for row in rows]

    async def rooms_of(self, user: str) -> list[RoomRecord]:
        cols = ", ".join(f"r.{col.strip()}" for col in _ROOM_COLS.split(","))
        rows = await self._read(
            lambda conn: conn.execute(
                f"SELECT {cols} FROM members m JOIN rooms r ON r.name = m.room"
                " WHERE m.user = ? ORDER BY r.name",
                (user,),
            ).fetchall()
        )
        return [_room(row) for row in rows]

    async def members(self, room: str) -> list[str]:
        rows = await self._read(
            lambda conn: conn.execute(
                "SELECT user FROM members WHERE room = ? ORDER BY user", (room,)
            ).fetchall()
        )
        return [str(row[0]) for row in rows]

    async def add_member(self, room: str, user: str, role: Role = "member") -> bool:
        return await self._write(lambda conn: _add_member(conn, room, user, role))

    async def remove_member(self, room: str, user: str) -> bool:
        return await self._write(lambda conn: _remove_member(conn, room, user))

    async def set_topic(self, room: str, topic: str) -> None:
        await self._write(lambda conn: _set_topic(conn, room, topic))

    async def close_room(self, room: str) -> ClosedRoom:
        return await self._write(lambda conn: _close_room(conn, room))

    # -- invitations -------------------------------------------------------------------------

    async def add_invitation(
        self, room: str, user: str, invited_by: str, *, max_pending: int
    ) -> InviteOutcome:
        return await self._write(
            lambda conn: invitations.add(conn, room, user, invited_by, max_pending)
        )

    async def invitations_of(self, user: str) -> list[InvitationRecord]:
        return await self._read(lambda conn: invitations.of_user(conn, user))

    async def accept_invitation(self, room: str, user: str) -> bool:
        return await self._write(lambda conn: invitations.accept(conn, room, user))

    async def decline_invitation(self, room: str, user: str) -> bool:
        return await self._write(lambda conn: invitations.decline(conn, room, user))

    # -- moderation --------------------------------------------------------------------------

    async def room_policy(self, room: str) -> RoomPolicy:
        return await self._read(lambda conn: _room_policy(conn, room))

    async def set_role(self, room: str, user: str, role: Role) -> bool:
        return await self._write(lambda conn: _set_role(conn, room, user, role))

    async def ban(self, room: str, user: str, banned_by: str, reason: str = "") -> BanOutcome:
        return await self._write(lambda conn: _ban(conn, room, user, banned_by, reason))

    async def unban(self, room: str, user: str) -> bool:
        return await self._write(
            lambda conn: (
                conn.execute("DELETE FROM bans WHERE room = ? AND user = ?", (room, user)).rowcount
                == 1
            )
        )

    async def is_banned(self, room: str, user: str) -> bool:
        row = await self._read(
            lambda conn: _one(conn, "SELECT 1 FROM bans WHERE room = ? AND user = ?", (room, user))
        )
        return row is not None

    async def bans(self, room: str) -> list[BanRecord]:
        rows = await self._read(
            lambda conn: conn.execute(
                "SELECT room, user, banned_by, reason, created_at FROM bans WHERE room = ?"
                " ORDER BY user",
                (room,),
            ).fetchall()
        )
        return [BanRecord(str(a), str(b), str(c), str(d), int(e)) for a, b, c, d, e in rows]

    async def mute(self, room: str, user: str, muted_by: str, until: int | None) -> None:
        await self._write(lambda conn: _mute(conn, room, user, muted_by, until))

    async def unmute(self, room: str, user: str) -> bool:
        return await self._write(
            lambda conn: (
                conn.execute("DELETE FROM mutes WHERE room = ? AND user = ?", (room, user)).rowcount
                == 1
            )
        )

    # -- messages ----------------------------------------------------------------------------

    async def append(self, msg: NewMessage) -> StoredMessage:
        return await self._write(lambda conn: _append(conn, msg))

    def append_future(self, msg: NewMessage) -> asyncio.Future[StoredMessage]:
        writer, _ = self._ready()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredMessage] = loop.create_future()
        writer.submit(_Job(lambda conn: _append(conn, msg), loop, future))
        return future

    async def history(
        self, room: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> list[StoredMessage]:
        return await self._read(lambda conn: _history(conn, room, before, after, limit))

    # -- read markers ------------------------------------------------------------------------

    async def set_read_marker(self, user: str, room: str, seq: int) -> int:
        if seq < 0:
            raise ValueError("seq must be >= 0")
        return await self._write(lambda conn: _set_read_marker(conn, user, room, seq))

    async def read_markers(self, user: str) -> dict[str, int]:
        rows = await self._read(
            lambda conn: conn.execute(
                "SELECT room, seq FROM read_markers WHERE user = ?", (user,)
            ).fetchall()
        )
        return {str(room): int(seq) for room, seq in rows}
