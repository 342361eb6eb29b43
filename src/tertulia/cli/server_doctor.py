"""``tertulia server check --connect``: is everything the configuration names really usable?

``server check`` alone proves the configuration parses and validates. With ``--connect`` it
also checks, without starting a server or changing anything:

* the data directory: a directory, writable by this user, mode 0700, and whether a server
  holds it (its lock);
* the TLS certificate and key: they load together, the key is 0600, days until expiry;
* the store: SQLite's file passes ``PRAGMA quick_check`` and its schema is not newer than this
  code; PostgreSQL answers ``SELECT 1``;
* the bus: Redis answers ``PING``;
* the ports: the chat and health/metrics ports can be bound (or are held by the server
  that holds the data directory).

Each check prints one line, ``ok``, ``warn`` or ``FAIL`` and why; the exit code is 1 if any failed.
Every network check has a timeout (``--timeout``, 5 s), so an unreachable host cannot hang it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import os
import socket
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from tertulia.server.config import ServerConfig

__all__ = ["run_checks"]

#: (status, what was checked, what was found); status is "ok", "warn" or "FAIL"
Result = tuple[str, str, str]


def _data_dir(cfg: ServerConfig) -> tuple[Result, dict[str, object] | None]:
    from tertulia.server.datadir import lock_holder

    path = Path(cfg.data_dir)
    what = f"data directory {path}"
    if not path.exists():
        parent = next((p for p in path.absolute().parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK | os.X_OK):
            return ("ok", what, "does not exist yet; the server will create it (0700)"), None
        return ("FAIL", what, f"does not exist and {parent} is not writable by this user"), None
    if not path.is_dir():
        return ("FAIL", what, "is not a directory: point --data-dir at a directory"), None
    probe = path / f".write-test-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        return ("FAIL", what, f"not writable by this user ({exc.strerror}): chown/chmod it"), None
    mode = stat.S_IMODE(path.stat().st_mode)
    holder = lock_holder(path)
    running = f"; in use by a running server (PID {holder.get('pid')})" if holder else ""
    if mode & 0o077:
        why = f"writable, but mode {mode:04o} lets others in: chmod 700 {path}{running}"
        return ("warn", what, why), holder
    return ("ok", what, f"writable, mode {mode:04o}{running}"), holder


def _certificate(cfg: ServerConfig) -> Result:
    from cryptography import x509

    from tertulia.transport.tls import TLSIdentityError, ensure_server_identity

    if cfg.tls.insecure_no_tls:
        return "warn", "TLS", "off (--insecure-no-tls): never on a network"
    data_dir = Path(cfg.data_dir)
    cert = cfg.tls.cert or data_dir / "tls" / "cert.pem"
    key = cfg.tls.key or data_dir / "tls" / "key.pem"
    what = f"TLS certificate {cert}"
    if cfg.tls.cert is None and not cert.exists() and not key.exists():
        return "ok", what, "none yet; the first start creates a self-signed one"
    try:
        identity = ensure_server_identity(data_dir, cert=cfg.tls.cert, key=cfg.tls.key)
    except TLSIdentityError as exc:
        return "FAIL", what, str(exc)
    if cfg.tls.cert is None and stat.S_IMODE(key.stat().st_mode) & 0o077:
        return "FAIL", what, f"the key {key} is readable by others: chmod 600 {key}"
    leaf = x509.load_pem_x509_certificates(Path(identity.cert_path).read_bytes())[0]
    left = leaf.not_valid_after_utc - dt.datetime.now(dt.UTC)
    if left.total_seconds() <= 0:
        return "FAIL", what, f"expired on {leaf.not_valid_after_utc:%Y-%m-%d}: renew it"
    return "ok", what, f"loads with its key; expires in {left.days} days; {identity.fingerprint}"


def _sqlite(cfg: ServerConfig) -> Result:
    from tertulia.server.storage.sqlite import load_migrations

    path = Path(cfg.data_dir) / "tertulia.db"
    what = f"store {path}"
    if not path.exists():
        return "ok", what, "does not exist yet; the first start creates it"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return "FAIL", what, f"not a usable SQLite database ({exc}): restore a backup"
    if verdict != "ok":
        return "FAIL", what, f"damaged ({verdict}): restore a backup"
    latest = len(load_migrations())
    if version > latest:
        return "FAIL", what, f"schema {version} is newer than this Tertulia's ({latest})"
    pending = f"; {latest - version} migration(s) pending" if version < latest else ""
    return "ok", what, f"quick_check ok, schema version {version}{pending}"


async def _postgres(cfg: ServerConfig, timeout: float) -> Result:
    from tertulia.server.config_env import mask_secret

    what = f"store {mask_secret(cfg.store.url)}"
    try:
        import asyncpg
    except ImportError:
        return "FAIL", what, "needs the package asyncpg: pip install 'tertulia[postgres]'"
    try:
        conn = await asyncio.wait_for(asyncpg.connect(cfg.store.url, timeout=timeout), timeout)
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return "FAIL", what, f"cannot connect: {exc or 'timed out'}"
    return "ok", what, f"answers (PostgreSQL {version})"


async def _redis(cfg: ServerConfig, timeout: float) -> Result:
    from tertulia.server.config_env import mask_secret

    what = f"bus {mask_secret(cfg.bus.url)}"
    try:
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError
    except ImportError:
        return "FAIL", what, "needs the package redis: pip install 'tertulia[redis]'"
    client = aioredis.from_url(cfg.bus.url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        await asyncio.wait_for(client.ping(), timeout)
    except (OSError, TimeoutError, RedisError) as exc:
        return "FAIL", what, f"cannot connect: {exc or 'timed out'}"
    finally:
        await client.aclose()
    return "ok", what, "answers PING"


def _port(host: str, port: int, label: str, hint: str, holder: object) -> Result:
    what = f"{label} {host}:{port}"
    if port == 0:
        return "ok", what, "any free port (0)"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return "FAIL", what, f"unknown host ({exc.strerror})"
    family, type_, proto, _, addr = infos[0]
    with socket.socket(family, type_, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and holder:
                return "ok", what, "in use by the server running on this data directory"
            return "FAIL", what, f"cannot be bound ({exc.strerror}): {hint}"
    return "ok", what, "free"


async def _gather(cfg: ServerConfig, timeout: float) -> list[Result]:
    results: list[Result] = []
    dir_result, holder = _data_dir(cfg)
    results.append(dir_result)
    results.append(_certificate(cfg))
    results.append(await _postgres(cfg, timeout) if cfg.store.url else _sqlite(cfg))
    if cfg.bus.url:
        results.append(await _redis(cfg, timeout))
    results.append(
        _port(cfg.host, cfg.port, "chat port", "choose another with --port ([server] port)", holder)
    )
    if cfg.http.enabled:
        results.append(
            _port(
                cfg.http.host,
                cfg.http.port,
                "health/metrics port",
                "set [http] port (TERTULIA__HTTP__PORT), 0 for any free port",
                holder,
            )
        )
    return results


def run_checks(
    cfg: ServerConfig, timeout: float, emit: Callable[[str], None], run: Callable[..., object]
) -> int:
    """Run every check, ``emit`` one line each; the number that failed."""
    results = run(_gather(cfg, timeout))
    assert isinstance(results, list)
    failed = 0
    for status, what, why in results:
        failed += status == "FAIL"
        emit(f"{status:<4}  {what}: {why}")
    return failed
