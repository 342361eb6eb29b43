"""Wiring: builds the storage, TLS context, hub and listener, and runs them.

This is the only module that chooses implementations (SQLite today; PostgreSQL and Redis are
selected here later). ``Server.start()`` binds and returns; ``Server.stop()`` shuts down
gracefully: stop accepting, say ``bye`` to every connection, let commits in flight finish and
be acknowledged, then close storage.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import ssl
import time
from pathlib import Path

from tertulia.proto import ErrorCode, encode
from tertulia.proto import messages as m
from tertulia.server.bus.base import Bus
from tertulia.server.bus.local import LocalBus
from tertulia.server.config import ServerConfig
from tertulia.server.guard import Guard
from tertulia.server.hub import Hub
from tertulia.server.listener import Listener
from tertulia.server.passwords import Passwords
from tertulia.server.session import Session
from tertulia.server.status import Action, start_status_socket
from tertulia.server.storage.base import Storage
from tertulia.server.storage.sqlite import SqliteStorage
from tertulia.transport.tls import (
    ServerIdentity,
    TLSIdentityError,
    ensure_server_identity,
    server_context,
)

__all__ = ["Server", "open_storage"]

log = logging.getLogger("tertulia.server")


def open_storage(config: ServerConfig) -> Storage:
    """The storage selected by the configuration (the embedded SQLite database for now)."""
    return SqliteStorage(
        Path(config.data_dir) / "tertulia.db", synchronous=config.sqlite_synchronous
    )


class Server:
    """A running Tertulia server. Use ``await start()`` then ``await stop()``."""

    def __init__(
        self, config: ServerConfig, storage: Storage | None = None, bus: Bus | None = None
    ) -> None:
        config.validate()
        self.config = config
        self.storage = storage or open_storage(config)
        self.bus = bus or LocalBus()
        self.passwords = Passwords(config.passwords)
        self.hub = Hub(self.storage, session_grace=config.heartbeat.session_grace, bus=self.bus)
        self.sessions: set[Session] = set()
        self.identity: ServerIdentity | None = None
        self.guard = Guard(config.limits)
        #: connections closed by the server, by the code it gave (operators, tests)
        self.closes: collections.Counter[str] = collections.Counter()
        self._ssl: ssl.SSLContext | None = None
        self._listener: Listener | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._status: asyncio.Server | None = None
        self._nonce = itertools.count(1)
        self.port = config.port
        self.host = config.host
        self.stopping = False

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
        cfg = self.config
        data_dir = Path(cfg.data_dir)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not cfg.tls.insecure_no_tls:
            self.identity = ensure_server_identity(data_dir, cert=cfg.tls.cert, key=cfg.tls.key)
            self._ssl = server_context(self.identity, min_version=cfg.tls.min_version)
        await self.storage.open()
        await self.bus.start(self.hub.on_peer_event, self.hub.resync)
        self._listener = Listener(
            cfg.host,
            cfg.port,
            guard=self.guard,
            context=lambda: self._ssl,
            handshake_timeout=cfg.tls.handshake_timeout,
            on_connect=self._accept,
        )
        self._listener.start()
        self.host, self.port = self._listener.address
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        self._status = await start_status_socket(data_dir, self.status, self._operator_actions())

    def _operator_actions(self) -> dict[str, Action]:
        """What ``tertulia admin`` may ask the running server to do (status socket)."""
        from tertulia.server import moderation

        async def disable(name: str) -> dict[str, object]:
            return {"ok": await moderation.set_disabled(self, name, True), "user": name}

        async def enable(name: str) -> dict[str, object]:
            return {"ok": await moderation.set_disabled(self, name, False), "user": name}

        async def close_room(name: str) -> dict[str, object]:
            return {"ok": await moderation.close_room(self, name), "room": name}

        async def reload_tls(_: str) -> dict[str, object]:
            try:
                return {"ok": True, "fingerprint": self.reload_tls()}
            except TLSIdentityError as exc:
                return {"ok": False, "error": str(exc)}

        return {
            "disable": disable,
            "enable": enable,
            "close-room": close_room,
            "reload-tls": reload_tls,
        }

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
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for session in tuple(self.sessions):
                try:
                    session.tick(now)
                except Exception:
                    log.exception("heartbeat tick failed for %r", session)

    async def stop(self) -> None:
        """Graceful shutdown: commits in flight finish and are acknowledged first."""
        if self.stopping:
            return
        self.stopping = True
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
