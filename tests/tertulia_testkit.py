"""Test support: real servers (in-process and subprocess) and a minimal raw protocol client.

The raw client speaks the wire protocol directly (proto + ssl), independent of
``tertulia.client``, so server tests do not depend on the client library.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tertulia.proto import ClientConnection, RemoteProtocolError
from tertulia.proto import messages as m
from tertulia.server.app import Server
from tertulia.server.config import PasswordConfig, ServerConfig

#: scale every timeout in the tests (slow machines: TERTULIA_TEST_TIMEOUT_SCALE=3)
SCALE = float(os.environ.get("TERTULIA_TEST_TIMEOUT_SCALE", "1"))
PASSWORD = "correct horse battery"
#: cheap hashes, and the hashing pool's queue out of the way of tests about something else
#: (tests/security/test_hostile_login.py tests the pool's bounds)
FAST_PASSWORDS = PasswordConfig(
    time_cost=1, memory_cost=256, parallelism=1, hash_queue=100_000, hash_per_address=100_000
)
FAST_PASSWORDS_TOML = (
    "[passwords]\ntime_cost = 1\nmemory_cost = 256\nparallelism = 1\n"
    "hash_queue = 100000\nhash_per_address = 100000\n"
)
#: Rate limits out of the way of tests about something else (throughput, reconnects, chaos):
#: tests of the limits themselves (tests/security) set their own.
RELAXED_LIMITS = {
    "message_rate": 1e6,
    "message_burst": 1_000_000,
    "request_rate": 1e6,
    "request_burst": 1_000_000,
    "room_create_per_hour": 1_000_000,
    "room_create_burst": 1_000_000,
    "presence_rate": 1e6,
    "presence_burst": 1_000_000,
    "typing_rate": 1e6,
    "typing_burst": 1_000_000,
}


def relaxed_toml(extra_toml: str) -> str:
    """``extra_toml`` with RELAXED_LIMITS added to its ``[limits]`` table (its own keys win)."""
    lines = extra_toml.splitlines()
    given = {ln.split("=", 1)[0].strip() for ln in lines if "=" in ln}
    mine = [f"{k} = {v!r}" for k, v in RELAXED_LIMITS.items() if k not in given]
    if "[limits]" in (ln.strip() for ln in lines):
        at = [ln.strip() for ln in lines].index("[limits]")
        lines[at + 1 : at + 1] = mine
        return "\n".join(lines) + "\n"
    return (
        extra_toml
        + ("\n" if extra_toml and not extra_toml.endswith("\n") else "")
        + ("[limits]\n" + "\n".join(mine) + "\n")
    )


def test_config(data_dir: Path, **kw: Any) -> ServerConfig:
    cfg = ServerConfig(host="127.0.0.1", port=0, data_dir=data_dir, passwords=FAST_PASSWORDS)
    for key, value in RELAXED_LIMITS.items():
        setattr(cfg.limits, key, value)
    cfg.http.port = 0  # health/metrics on a free port: many test servers run at once
    for key, value in kw.items():
        setattr(cfg, key, value)
    return cfg


def spki_of(cert_pem: Path) -> str:
    """The public-key pin (``SPKI-SHA256:...``) of a PEM certificate: what TOFU remembers."""
    from tertulia.transport.tls import spki_pin

    pem = cert_pem.read_bytes()
    return spki_pin(ssl.PEM_cert_to_DER_cert(pem.decode("ascii")))


def fingerprint_of(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return "SHA256:" + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class InProcessServer:
    """A real server in the test's event loop, over real TLS on 127.0.0.1."""

    def __init__(self, data_dir: Path, **config: Any) -> None:
        self.data_dir = data_dir
        self._config = config
        self.server: Server | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self.fingerprint = ""

    async def start(self) -> None:
        cfg = test_config(self.data_dir, **self._config)
        cfg.port = self.port
        self.server = Server(cfg)
        await self.server.start()
        self.port = self.server.port
        self.fingerprint = self.server.fingerprint or ""

    @property
    def spki(self) -> str:
        """The server's public-key pin (what a TOFU client remembers)."""
        return spki_of(self.data_dir / "tls" / "cert.pem")

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


class ServerProcess:
    """``python -m tertulia server`` in a subprocess, so tests can SIGKILL it."""

    def __init__(self, data_dir: Path, extra_toml: str = "", *, tls: bool = True) -> None:
        self.data_dir = data_dir
        self.tls = tls
        #: the server's stderr goes to a file: a pipe nobody reads would block its logging
        self.stderr_path = data_dir.parent / f"{data_dir.name}.stderr.log"
        self.host = "127.0.0.1"
        self.port = 0
        self.fingerprint = ""
        self.proc: subprocess.Popen[str] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = data_dir.parent / f"{data_dir.name}.toml"
        if "[http]" not in extra_toml:
            extra_toml += "\n[http]\nport = 0\n"  # a free port for health/metrics
        self.config_path.write_text(FAST_PASSWORDS_TOML + relaxed_toml(extra_toml))
        #: from the startup lines: the health/metrics port, the first-run admin password
        self.http_port = 0
        self.admin_password: str | None = None
        #: logging options on the command line (tests of the log itself change them)
        self.log_args = ["--log-level", "WARNING"]
        #: run the server through this command (``nsenter ...``: tests/integration/disk_kit.py)
        self.prefix: list[str] = []

    def start(self, timeout: float = 20.0) -> None:
        cmd = [
            *self.prefix,
            sys.executable,
            "-m",
            "tertulia",
            "server",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--config",
            str(self.config_path),
            *self.log_args,
        ]
        if not self.tls:
            cmd.append("--insecure-no-tls")
        start_at = self.stderr_path.stat().st_size if self.stderr_path.exists() else 0
        with open(self.stderr_path, "a", encoding="utf-8") as err_file:
            self.proc = subprocess.Popen(
                cmd, stdout=err_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        # the start banner is logged (stderr): read this start's lines of the log file
        deadline = time.monotonic() + timeout * SCALE
        while time.monotonic() < deadline:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as fh:
                fh.seek(start_at)
                text = fh.read()
            if mo := re.search(r"initial admin password written to (\S+) ", text):
                self.admin_password = Path(mo.group(1)).read_text().strip()
            if mo := re.search(r"Health and metrics: http://\S+:(\d+)/", text):
                self.http_port = int(mo.group(1))
            if mo := re.search(r"listening on (\S+):(\d+)", text):
                self.port = int(mo.group(2))
                if not self.tls:
                    return
            if self.tls and (mo := re.search(r"Fingerprint: (SHA256:[0-9A-F:]+)", text)):
                self.fingerprint = mo.group(1)
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {text[-4000:]}")
            time.sleep(0.02)
        raise RuntimeError("server did not start in time")

    @property
    def spki(self) -> str:
        """The server's public-key pin (what a TOFU client remembers)."""
        return spki_of(self.data_dir / "tls" / "cert.pem")

    def kill(self) -> None:
        """SIGKILL: no graceful anything."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self._close_pipes()
            self.proc = None

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout * SCALE)
        self._close_pipes()
        self.proc = None
        return rc

    def _close_pipes(self) -> None:
        """Nothing to close: the server's output goes to ``stderr_path``."""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


class ServerError(Exception):
    def __init__(self, err: m.Error) -> None:
        super().__init__(f"{err.code}: {err.message}")
        self.code = err.code
        self.params = err.params


_PINNED: ssl.SSLContext | None = None


def _pinned_context() -> ssl.SSLContext:
    """One shared context: chain checks are replaced by the fingerprint comparison.

    Built once because ``ssl.create_default_context()`` loads the system CA bundle, which
    costs tens of milliseconds per connection.
    """
    global _PINNED
    if _PINNED is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _PINNED = ctx
    return _PINNED


@dataclass
class RawClient:
    """A minimal client: requests wait for their matching response; the rest are events."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    conn: ClientConnection
    fingerprint: str

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        fingerprint: str | None = None,
        sock: socket.socket | None = None,
        ssl_ctx: ssl.SSLContext | None = None,
        source: str | None = None,
    ) -> RawClient:
        """Connect over TLS, checking ``fingerprint`` if given (``sock``: pre-made socket;
        ``source``: a loopback address such as ``127.0.0.10`` to connect from, so that tests
        can stand for several client addresses and their per-address limits)."""
        ctx = ssl_ctx or _pinned_context()
        if source is not None and sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((source, 0))
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        if sock is not None:
            reader, writer = await asyncio.open_connection(sock=sock, ssl=ctx, server_hostname=host)
        else:
            reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        fp = fingerprint_of(der)
        if fingerprint is not None and fp != fingerprint:
            writer.close()
            raise ssl.SSLError(f"fingerprint mismatch: {fp} != {fingerprint}")
        self = cls(
            reader, writer, ClientConnection(max_frame_pre_auth=1 << 24, max_frame=1 << 24), fp
        )
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                for ev in self.conn.receive_data(data):
                    if isinstance(ev, RemoteProtocolError):
                        raise ev
                    rid = getattr(ev, "id", None)
                    fut = self._pending.pop(rid, None) if rid is not None else None
                    if fut is not None and not fut.done():
                        fut.set_result(ev)
                    else:
                        self.events.put_nowait(ev)
        except (ConnectionError, OSError, ssl.SSLError):
            pass
        finally:
            self.closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    def write_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send_nowait(self, msg: Any) -> asyncio.Future[Any]:
        """Write a request; return the future of its response (no waiting)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg.id] = fut
        self.writer.write(self.conn.send(msg))
        return fut

    def notice(self, msg: Any) -> None:
        self.writer.write(self.conn.send(msg))

    def next_id(self) -> int:
        return next(self._ids)

    async def request(self, msg: Any, *, timeout: float = 10.0, check: bool = True) -> Any:
        reply = await asyncio.wait_for(self.send_nowait(msg), timeout * SCALE)
        if check and isinstance(reply, m.Error):
            raise ServerError(reply)
        return reply

    async def hello(self) -> m.HelloOk:
        reply: m.HelloOk = await self.request(m.Hello(id=self.next_id(), versions=[1]))
        return reply

    async def login(self, user: str, password: str = PASSWORD, *, register: bool = False) -> None:
        await self.hello()
        if register:
            await self.request(m.Register(id=self.next_id(), user=user, password=password))
        await self.request(m.Login(id=self.next_id(), user=user, password=password))

    async def event(self, kind: type, *, timeout: float = 10.0, room: str | None = None) -> Any:
        """The next event of ``kind`` (others are discarded)."""
        deadline = time.monotonic() + timeout * SCALE
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {kind.__name__} event")
            ev = await asyncio.wait_for(self.events.get(), remaining)
            if isinstance(ev, kind) and (room is None or getattr(ev, "room", None) == room):
                return ev

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except (ConnectionError, OSError, TimeoutError, ssl.SSLError):
            pass
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
