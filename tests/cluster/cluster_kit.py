"""Test support for cluster mode: nodes on the real PostgreSQL and Redis, HAProxy, own Redis.

Each cluster gets a fresh PostgreSQL schema in database ``test`` and a fresh Redis key prefix,
both removed afterwards, so runs never see each other. All nodes share one TLS identity (as a
real cluster behind one name must), so clients pin one fingerprint whatever node they reach.

Services: when ``CI`` is set an unreachable PostgreSQL, Redis or a missing ``haproxy`` FAILS
the test; without ``CI`` the test is skipped. Processes started here (nodes, HAProxy, a private
redis-server) are ended by PID, never by name. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tertulia.server.status import query_status
from tertulia.transport.tls import ensure_server_identity
from tertulia_testkit import SCALE, ServerProcess

__all__ = [
    "PG_DSN",
    "REDIS_URL",
    "Cluster",
    "HAProxy",
    "RedisProcess",
    "free_port",
    "require",
]

PG_DSN = os.environ.get("TERTULIA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TERTULIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require(what: str, error: BaseException | str) -> None:
    """A needed service is missing: fail under CI, skip on a developer machine."""
    import pytest

    message = f"{what} is unavailable: {error}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


async def check_services() -> None:
    import asyncpg
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    try:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
        await conn.close()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        require(f"PostgreSQL at {PG_DSN}", exc)
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        require(f"Redis at {REDIS_URL}", exc)
    finally:
        await client.aclose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return int(resp.status)
    except OSError:
        return 0


class Cluster:
    """``n`` server nodes (subprocesses) sharing a PostgreSQL schema and a Redis prefix."""

    def __init__(
        self,
        root: Path,
        n: int,
        *,
        redis_url: str = REDIS_URL,
        presence_ttl: float = 3.0,
        session_grace: float = 1.0,
        extra_toml: str = "",
    ) -> None:
        self.root = root
        self.schema = f"c_{uuid.uuid4().hex[:12]}"
        self.prefix = f"tt-{uuid.uuid4().hex[:12]}"
        self.redis_url = redis_url
        identity = ensure_server_identity(root / "shared")
        self.fingerprint = identity.fingerprint
        toml = (
            f'[store]\nurl = "{PG_DSN}"\nschema = "{self.schema}"\n'
            f'[bus]\nurl = "{redis_url}"\nprefix = "{self.prefix}"\npresence_ttl = {presence_ttl}\n'
            f'[tls]\ncert = "{identity.cert_path}"\nkey = "{identity.key_path}"\n'
            f"[heartbeat]\nsession_grace = {session_grace}\n" + extra_toml
        )
        self.nodes = [ServerProcess(root / f"node{i + 1}", toml) for i in range(n)]

    def start(self) -> None:
        for node in self.nodes:
            node.start(timeout=30)
            assert node.fingerprint == self.fingerprint

    async def node_of(self, user: str) -> ServerProcess:
        """The node where ``user`` has a connection (from its operator status socket)."""
        for node in self.nodes:
            if node.proc is None:
                continue
            status = await query_status(node.data_dir)
            users = status.get("users")
            assert isinstance(users, list)
            if any(u["user"] == user and u["connections"] for u in users):
                return node
        raise AssertionError(f"{user} is connected to no node")

    async def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                with contextlib.suppress(Exception):
                    node.terminate(timeout=15)
            node.stop()
        await self.drop()

    async def drop(self) -> None:
        """Remove the cluster's schema and Redis keys."""
        import asyncpg
        import redis.asyncio as aioredis

        with contextlib.suppress(Exception):
            conn = await asyncpg.connect(PG_DSN, timeout=5)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            finally:
                await conn.close()
        with contextlib.suppress(Exception):
            client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
            try:
                keys = [k async for k in client.scan_iter(match=f"{self.prefix}:*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()


class HAProxy:
    """HAProxy in TCP mode in front of ``nodes``, health-checking each one's ``/readyz``."""

    def __init__(self, root: Path, nodes: list[ServerProcess]) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            require("haproxy", "not installed (Debian package haproxy; .ci/run installs it)")
        assert binary is not None
        self.binary = binary
        self.port = free_port()
        self.path = root / "haproxy.cfg"
        servers = "\n".join(
            f"    server n{i + 1} 127.0.0.1:{n.port} check port {n.http_port}"
            for i, n in enumerate(nodes)
        )
        self.path.write_text(
            "global\n    maxconn 2000\n\n"
            "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1h\n"
            "    timeout server 1h\n    retries 3\n    option redispatch\n\n"
            f"frontend chat\n    bind 127.0.0.1:{self.port}\n    default_backend nodes\n\n"
            "backend nodes\n    balance roundrobin\n    option httpchk GET /readyz\n"
            "    http-check expect status 200\n"
            "    default-server inter 300ms fastinter 200ms downinter 300ms fall 2 rise 2"
            " on-marked-down shutdown-sessions\n" + servers + "\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        check = subprocess.run(
            [self.binary, "-c", "-f", str(self.path)], capture_output=True, text=True, timeout=30
        )
        assert check.returncode == 0, check.stderr + check.stdout
        self.proc = subprocess.Popen(
            [self.binary, "-db", "-f", str(self.path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10 * SCALE
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("haproxy did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


class RedisProcess:
    """A private redis-server on a random loopback port, so a test may kill and restart it."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            require("redis-server", "not installed")
        assert binary is not None
        self.binary = binary
        self.port = free_port()
        self.dir = root / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def args(self) -> list[str]:
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*self.args(), "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10 * SCALE
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate()`` (sync or async) until true, at most ``timeout`` (scaled) seconds."""
    deadline = time.monotonic() + timeout * SCALE
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
