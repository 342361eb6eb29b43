"""Wiring: builds the storage, TLS context, hub and listener, and runs them.

This is the only module that chooses implementations: SQLite or PostgreSQL (``[store] url``),
a single node or Redis fan-out (``[bus] url``). ``Server.start()`` binds and returns;
``Server.stop()`` shuts down gracefully: stop accepting, say ``bye`` to every connection, let
commits in flight finish and be acknowledged, then close storage.
"""

from __future__ import annotations

import asyncio
import collections
import importlib.util
import itertools
import logging
import sqlite3
import ssl
import time
from pathlib import Path

from tertulia.proto import ErrorCode, encode
from tertulia.proto import messages as m
from tertulia.server.bootstrap import bootstrap_admin
from tertulia.server.bus.base import Bus, BusError
from tertulia.server.bus.local import LocalBus
from tertulia.server.config import ServerConfig
from tertulia.server.datadir import DataDirLock, prepare_data_dir
from tertulia.server.error_log import ErrorLog
from tertulia.server.guard import Guard
from tertulia.server.http import HttpListener, Page
from tertulia.server.hub import Hub
from tertulia.server.listener import Listener
from tertulia.server.memory import Trimmer
from tertulia.server.passwords import Passwords
from tertulia.server.session import Session
from tertulia.server.startup import (
    StartupError,
    corrupt_database,
    disk_full,
    disk_is_full,
    is_corruption,
    listen_error,
    warn_if_disk_full,
)
from tertulia.server.status import Action, start_status_socket
from tertulia.server.storage.base import Storage, StorageError
from tertulia.server.storage.sqlite import SqliteStorage, is_disk_full
from tertulia.transport.tls import (
    ServerIdentity,
    TLSIdentityError,
    ensure_server_identity,
    server_context,
)

__all__ = ["Server", "open_bus", "open_storage"]

#: seconds between two checks of the self-signed certificate's remaining validity
_RENEW_CHECK = 12 * 3600.0

log = logging.getLogger("tertulia.server")

#: settings that only a restart changes (``Server.reload_config`` keeps their running values)
_RESTART_ONLY = (
    "host",
    "port",
    "data_dir",
    "reuse_port",
    "sqlite_synchronous",
    "store",
    "bus",
    "http",
)


def open_storage(config: ServerConfig) -> Storage:
    """The storage selected by the configuration: PostgreSQL if ``store.url`` is set, else the
    embedded SQLite database (backed up first if a schema migration is pending)."""
    if config.store.url:
        _require("asyncpg", "a PostgreSQL store (store.url)", "postgres", StorageError)
        from tertulia.server.storage.postgres import PostgresStorage

        return PostgresStorage(
            config.store.url,
            schema=config.store.schema or None,
            pool_size=config.store.pool_size,
        )
    from tertulia.server.storage.backup import backup_before_migration

    path = Path(config.data_dir) / "tertulia.db"
    try:
        backup_before_migration(path, config.store.backups_keep)
    except (OSError, sqlite3.Error) as exc:
        if is_disk_full(exc) or disk_is_full(path.parent):
            raise disk_full(
                path,
                "cannot read (or back up before a pending schema migration) the database",
            ) from None
        if isinstance(exc, OSError):
            raise StartupError(
                f"cannot back up the database {path} before the pending schema migration"
                f" ({exc.strerror or exc}): check that the user the server runs as can write"
                f" {path.parent / 'backups'}"
            ) from None
        if not isinstance(exc, sqlite3.OperationalError):
            raise corrupt_database(path, exc) from None
        # unreadable, locked: not a damaged file
        raise StartupError(
            f"cannot open the database {path} ({exc}): check that the user the server runs"
            " as can read and write it"
        ) from None
    return SqliteStorage(path, synchronous=config.sqlite_synchronous)


# unreadable, locked: not a damaged file


def open_bus(config: ServerConfig) -> Bus:
    """The bus selected by the configuration: Redis if ``bus.url`` is set, else none."""
    if config.bus.url:
        _require("redis", "a Redis bus (bus.url)", "redis", BusError)
        from tertulia.server.bus.redis import RedisBus

        return RedisBus(
            config.bus.url, prefix=config.bus.prefix, presence_ttl=config.bus.presence_ttl
        )
    return LocalBus()


def _require(module: str, what: str, extra: str, error: type[Exception]) -> None:
    """Cluster mode's drivers are optional extras: say which one to install, not a traceback."""
    if importlib.util.find_spec(module) is None:
        raise error(
            f"{what} needs the Python package {module!r}, which is not installed:"
            f" pip install 'tertulia[{extra}]'"
        )


class Server:
    """A running Tertulia server. Use ``await start()`` then ``await stop()``."""

    def __init__(
        self, config: ServerConfig, storage: Storage | None = None, bus: Bus | None = None
    ) -> None:
        config.validate()
        self.config = config
        self.storage = storage or open_storage(config)
        self.bus = bus or open_bus(config)
        self.passwords = Passwords(config.passwords)
        self.hub = Hub(
            self.storage,
            session_grace=config.heartbeat.session_grace,
            bus=self.bus,
            presence_fanout_rate=config.limits.presence_fanout_rate,
        )
        self.sessions: set[Session] = set()
        self.identity: ServerIdentity | None = None
        self.guard = Guard(config.limits)
        #: connections closed by the server, by the code it gave (operators, tests)
        self.closes: collections.Counter[str] = collections.Counter()
        #: connections ended by a TLS record that failed its integrity check: "here" (we
        #: detected it) or "by_peer" (the client's bad_record_mac alert)
        self.tls_integrity_failures: collections.Counter[str] = collections.Counter()
        #: errors answered to clients (by code) and internal ones logged at a bounded rate
        self.error_log = ErrorLog(logging.getLogger("tertulia.server.session"))
        #: gives freed memory back to the system after connections with large output closed
        self.trimmer = Trimmer()
        self._ssl: ssl.SSLContext | None = None
        self._listener: Listener | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._status: asyncio.Server | None = None
        self.http: HttpListener | None = None
        #: password of the ``admin`` account created on this first start (printed once)
        self.initial_admin_password: str | None = None
        self._nonce = itertools.count(1)
        self.port = config.port
        self.host = config.host
        self.stopping = False
        #: set when ``start()`` has finished: until then ``/readyz`` answers 503 "starting"
        self.started = False
        #: the data directory's lock, held from the start of ``start()`` to the end of ``stop()``
        self.lock = DataDirLock(Path(config.data_dir))

    def __repr__(self) -> str:
        return f"<Server {self.host}:{self.port} sessions={len(self.sessions)}>"

    @property
    def fingerprint(self) -> str | None:
        return self.identity.fingerprint if self.identity else None

    def status(self) -> dict[str, object]:
        """Operator snapshot: listener, connections (including pre-login), held sessions."""
        snap = self.hub.status()
        snap["listen"] = f"{self.host}:{self.port}"
        snap["connections_total"] = len(self.sessions)
        snap["pre_login"] = sum(1 for s in self.sessions if s.user is None)
        snap["session_grace"] = self.config.heartbeat.session_grace
        snap["tasks"] = len(asyncio.all_tasks())
        snap["handshaking"] = self._listener.handshaking if self._listener else 0
        snap["limits"] = self.guard.status()
        snap["closes"] = dict(self.closes)
        snap["rss_kb"] = _rss_kb()
        return snap

    def next_nonce(self) -> int:
        return next(self._nonce)

    async def start(self) -> None:
        """Lock the data directory, then open everything; failures raise StartupError (one
        line: what, where, the fix), TLSIdentityError, StorageError or BusError."""
        cfg = self.config
        data_dir = prepare_data_dir(Path(cfg.data_dir))
        self.lock.acquire()
        # bind first: a port in use must fail the start before anything is created
        try:
            self._listener = Listener(
                cfg.host,
                cfg.port,
                guard=self.guard,
                context=lambda: self._ssl,
                handshake_timeout=lambda: self.config.tls.handshake_timeout,
                on_connect=self._accept,
                reuse_port=cfg.reuse_port,
            )
        except OSError as exc:
            raise listen_error(exc, cfg.host, cfg.port) from None
        self.host, self.port = self._listener.address
        if cfg.http.enabled:
            http = HttpListener(
                cfg.http.host,
                cfg.http.port,
                {"/healthz": self._healthz, "/readyz": self._readyz, "/metrics": self._metrics},
            )
            try:
                await http.start()  # /readyz answers 503 until the store is open
            except OSError as exc:
                raise listen_error(exc, cfg.http.host, cfg.http.port, http=True) from None
            self.http = http
        if not cfg.tls.insecure_no_tls:
            self.identity = ensure_server_identity(data_dir, cert=cfg.tls.cert, key=cfg.tls.key)
            self._ssl = server_context(self.identity, min_version=cfg.tls.min_version)
        try:
            await self.storage.open()
        except StorageError as exc:
            if cfg.store.url:
                raise
            db = data_dir / "tertulia.db"
            if is_disk_full(exc) or disk_is_full(data_dir):
                raise disk_full(db, "cannot open the database") from None
            if is_corruption(exc):
                raise corrupt_database(db, exc) from None
            raise StartupError(
                f"cannot open the database {db} ({exc}): check that the user the server runs"
                " as can read and write it"
            ) from None
        if not cfg.store.url:
            warn_if_disk_full(data_dir)
        await self.bus.start(self.hub.on_peer_event, self.hub.resync)
        self._listener.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        self._status = await start_status_socket(data_dir, self.status, self._operator_actions())
        self.lock.update(listen=f"{self.host}:{self.port}")
        if cfg.bootstrap_admin:
            # last: a start that fails earlier must not create an account whose password
            # nobody was shown
            self.initial_admin_password = await bootstrap_admin(self.storage, self.passwords)
        self.started = True

    # ------------------------------------------------------------------ health and metrics
    async def _healthz(self) -> Page:
        return 200, "text/plain", "ok\n"

    async def ready(self) -> tuple[bool, str]:
        """Can this node serve clients now? It can while its store answers.

        A disconnected bus is reported but does not make the node unready: a Redis outage would
        otherwise take every node out of the load balancer at once, while each can still serve
        its own clients and backfills the others' messages from storage when Redis returns.
        """
        if self.stopping:
            return False, "stopping"
        if not self.started:
            return False, "starting"
        try:
            await asyncio.wait_for(_probe(self.storage), 3.0)
        except (StorageError, TimeoutError) as exc:
            return False, f"store: {exc or 'timeout'}"
        if not getattr(self.bus, "healthy", True):
            return True, "ready (bus: disconnected, catching up when it returns)"
        return True, "ready"

    async def _readyz(self) -> Page:
        ok, why = await self.ready()
        return (200 if ok else 503), "text/plain", why + "\n"

    async def _metrics(self) -> Page:
        from tertulia.server.metrics import render_metrics

        return 200, "text/plain; version=0.0.4", render_metrics(self)

    def reload_config(self, new: ServerConfig) -> list[str]:
        """Apply a re-read configuration (SIGHUP); return the settings that need a restart.

        Applied now: registration, limits, heartbeat and session settings (new connections and
        new requests see them), the log level, and the TLS certificate (via :meth:`reload_tls`,
        which raises ``TLSIdentityError`` and keeps the old one if the new cannot be used).
        Listener addresses, the data directory, the store, the bus and the HTTP listener need a
        restart; they keep their running values.
        """
        new.validate()
        old = self.config
        restart = [name for name in _RESTART_ONLY if getattr(new, name) != getattr(old, name)]
        for name in _RESTART_ONLY:
            setattr(new, name, getattr(old, name))
        self.config = new
        self.guard.update(new.limits)
        try:
            self.reload_tls()
        except BaseException:
            new.tls = old.tls  # keep serving the certificate that works
            raise
        finally:
            self.hub.session_grace = new.heartbeat.session_grace
            logging.getLogger().setLevel(new.log.level)
        return restart

    def _operator_actions(self) -> dict[str, Action]:
        """What ``tertulia admin`` may ask the running server to do (status socket)."""
        from tertulia.server import moderation

        async def disable(name: str) -> dict[str, object]:
            return {"ok": await moderation.set_disabled(self, name, True), "user": name}

        async def enable(name: str) -> dict[str, object]:
            return {"ok": await moderation.set_disabled(self, name, False), "user": name}

        async def close_room(name: str) -> dict[str, object]:
            return {"ok": await moderation.close_room(self, name), "room": name}

        async def passwd(rest: str) -> dict[str, object]:
            # "NAME HASH": the CLI hashes at this server's cost, the socket is the operator's
            name, _, pw_hash = rest.partition(" ")
            if not pw_hash.startswith("$argon2"):
                return {"ok": False, "error": "usage: passwd NAME ARGON2-HASH"}
            return {"ok": await moderation.reset_password(self, name, pw_hash), "user": name}

        async def reload_tls(_: str) -> dict[str, object]:
            try:
                return {"ok": True, "fingerprint": self.reload_tls()}
            except TLSIdentityError as exc:
                return {"ok": False, "error": str(exc)}

        return {
            "disable": disable,
            "enable": enable,
            "close-room": close_room,
            "passwd": passwd,
            "reload-tls": reload_tls,
        }

    def _renew_tls(self) -> None:
        """Twice a day: renew the self-signed certificate if it is within 30 days of its end
        (same key, so public-key pins hold) and serve the new one to new connections."""
        if self.config.tls.insecure_no_tls or self.config.tls.cert is not None:
            return  # an operator's certificate is renewed by the operator (then SIGHUP)
        try:
            self.reload_tls()
        except (TLSIdentityError, OSError) as exc:
            log.error("cannot renew the TLS certificate, keeping the current one: %s", exc)

    def reload_tls(self) -> str | None:
        """Load the certificate and key again (SIGHUP) and use them for new connections.

        Connections already open keep their TLS session. A certificate that cannot be used
        raises :class:`~tertulia.transport.tls.TLSIdentityError` and the old one stays in
        service. Returns the fingerprint now served.
        """
        cfg = self.config
        if cfg.tls.insecure_no_tls:
            return None
        identity = ensure_server_identity(Path(cfg.data_dir), cert=cfg.tls.cert, key=cfg.tls.key)
        self._ssl = server_context(identity, min_version=cfg.tls.min_version)
        if self.identity is None or identity.fingerprint != self.identity.fingerprint:
            log.info("TLS certificate reloaded: %s", identity.fingerprint)
        self.identity = identity
        return identity.fingerprint

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, admitted: bool = True
    ) -> None:
        if self.stopping or not admitted:
            if not admitted:
                self.closes["too_many_connections"] += 1
                writer.write(
                    encode(
                        m.ServerBye(
                            code=ErrorCode.TOO_MANY_CONNECTIONS.value,
                            message="too many connections from your address",
                        )
                    )
                )
            writer.close()
            return
        session = Session(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _tick_loop(self) -> None:
        renew_at = time.monotonic() + _RENEW_CHECK
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if now >= renew_at:
                renew_at = now + _RENEW_CHECK
                self._renew_tls()
            for session in tuple(self.sessions):
                try:
                    session.tick(now)
                except Exception:
                    log.exception("heartbeat tick failed for %r", session)
            self.trimmer.tick(now)

    async def stop(self) -> None:
        """Graceful shutdown: commits in flight finish and are acknowledged first."""
        if self.stopping:
            return
        self.stopping = True
        if self.http is not None:
            await self.http.close()
        if self._listener is not None:
            self._listener.close()
        if self._status is not None:
            self._status.close()
        if self._ticker is not None:
            self._ticker.cancel()
        await self.hub.drain()
        for session in tuple(self.sessions):
            session.close(ErrorCode.SHUTTING_DOWN, "server is shutting down")
        if self._tasks:
            await asyncio.wait(tuple(self._tasks), timeout=5.0)
        await self.hub.drain()
        self.hub.release_all()
        await self.bus.close()
        await self.storage.close()
        self.passwords.close()
        self.lock.release()


async def _probe(storage: Storage) -> None:
    """One indexed read: proves the store answers (``/readyz``)."""
    await storage.get_user("")


def _rss_kb() -> int | None:
    """Resident memory of this process in KiB (Linux), for the status snapshot."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
