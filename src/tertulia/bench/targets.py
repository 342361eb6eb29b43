"""The servers under test: Tertulia, InspIRCd and ngIRCd, each started as our own process.

Every target runs from a private directory with its own config file on its own loopback port,
is started by this module and stopped by its PID (SIGTERM, then SIGKILL) -- never a system
service, never by name. The peers' configurations come from ``scripts/bench/*.conf.in``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from tertulia.bench.procstat import raise_nofile
from tertulia.transport.tls import ensure_server_identity

__all__ = [
    "BENCH_LIMITS",
    "BENCH_PASSWORD",
    "BENCH_PASSWORDS",
    "PEERS",
    "IrcTarget",
    "Target",
    "TertuliaTarget",
    "free_port",
    "peer_available",
]

BENCH_PASSWORD = "bench-password-1"
#: argon2id cost used by the benchmark's server: login cost is not what is measured (the IRC
#: peers have no passwords at all); docs/benchmarks.md states what the default cost adds
BENCH_PASSWORDS = {
    "time_cost": 1,
    "memory_cost": 256,
    "parallelism": 1,
    # thousands of clients log in at once from one machine: no ``busy`` in the measurement
    "hash_queue": 1_000_000,
    "hash_per_address": 1_000_000,
}
BENCH_PASSWORD_TOML = "[passwords]\n" + "".join(f"{k} = {v}\n" for k, v in BENCH_PASSWORDS.items())
#: the IRC peers run with their flood limits raised; Tertulia's own per-user message rate,
#: per-connection request rate and total connection cap are raised the same way (only the
#: settings the server under test knows are written: ``--server-src`` may be older)
BENCH_LIMITS = {
    "message_rate": 1e9,
    "message_burst": 1_000_000_000,
    "request_rate": 1e9,
    "request_burst": 1_000_000_000,
    "max_connections": 1_000_000,
    "max_connections_per_ip": 1_000_000,
}
PEERS = ("inspircd", "ngircd")
_BINARIES = {"inspircd": "/usr/sbin/inspircd", "ngircd": "/usr/sbin/ngircd"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peer_available(name: str) -> bool:
    return Path(_BINARIES[name]).exists() or shutil.which(name) is not None


class Target:
    """A server process we start, measure and stop."""

    name = "abstract"
    protocol = "tertulia"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Path = workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "target not started"
        return self.proc.pid

    def version(self) -> str:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM our process (by PID), SIGKILL if it does not exit in ``timeout`` s."""
        proc = self.proc
        if proc is None:
            return None
        self.proc = None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait(10)
        return proc.returncode

    def _spawn(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        raise_nofile()  # inherited by the child
        log = self._log.open("ab")
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=env,
        )
        log.close()

    def _wait_tls(self, timeout: float) -> None:
        """Poll until the port completes a TLS handshake (or the process died)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.tail_log()}")
            try:
                with (
                    socket.create_connection((self.host, self.port), timeout=1.0) as raw,
                    ctx.wrap_socket(raw),
                ):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not accept TLS within {timeout} s")

    def tail_log(self, n: int = 2000) -> str:
        try:
            return self._log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


class TertuliaTarget(Target):
    """``python -m tertulia server`` on a data directory the scenario seeded."""

    name = "tertulia"
    protocol = "tertulia"

    def __init__(self, workdir: Path, extra_toml: str = "", server_src: Path | None = None) -> None:
        super().__init__(workdir)
        #: another source tree to run the server from (before/after comparisons)
        self.server_src = server_src
        self.data_dir = workdir / "data"
        self.config = workdir / "server.toml"
        self.config.write_text(self._passwords_toml() + self._limits_toml() + extra_toml)
        self.fingerprint = ""

    def _config_source(self) -> str:
        """The server's config module, to write only the settings it declares."""
        if self.server_src is not None:
            path = self.server_src / "tertulia" / "server" / "config.py"
        else:
            import tertulia.server.config as config_module

            path = Path(str(config_module.__file__))
        try:
            return path.read_text()
        except OSError:
            return ""

    def _passwords_toml(self) -> str:
        source = self._config_source()
        known = [k for k in BENCH_PASSWORDS if f"\n    {k}: " in source]
        if not source:  # cannot tell: the cost settings every version has
            known = ["time_cost", "memory_cost", "parallelism"]
        return "[passwords]\n" + "".join(f"{k} = {BENCH_PASSWORDS[k]}\n" for k in known)

    def _limits_toml(self) -> str:
        """``[limits]`` overrides for the settings the server's config module declares."""
        source = self._config_source()
        if not source:
            return ""
        known = [k for k in BENCH_LIMITS if f"\n    {k}: " in source]
        text = "[limits]\n" + "".join(f"{k} = {BENCH_LIMITS[k]!r}\n" for k in known)
        if "class HttpConfig" in source:
            # the health/metrics listener has a fixed default port: not wanted here
            text += "[http]\nenabled = false\n"
        return text if known else ""

    def version(self) -> str:
        from tertulia import __version__

        if self.server_src is not None:
            __version__ += f" from {self.server_src}"
        try:
            import uvloop

            loop = f"uvloop {getattr(uvloop, '__version__', '?')}"
        except ImportError:
            loop = "asyncio"
        py = ".".join(map(str, sys.version_info[:3]))
        return f"Tertulia {__version__} (Python {py}, {loop})"

    def start(self, timeout: float = 30.0) -> None:
        if not self.port:
            self.port = free_port()
        cmd = [sys.executable, "-m", "tertulia", "server", "--host", self.host]
        cmd += ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        cmd += ["--config", str(self.config), "--log-level", "WARNING"]
        env = None
        if self.server_src is not None:
            env = {**os.environ, "PYTHONPATH": str(self.server_src)}
        self._spawn(cmd, env)
        self._wait_tls(timeout)


class IrcTarget(Target):
    """InspIRCd or ngIRCd in the foreground, from a config written into ``workdir``."""

    protocol = "irc"

    def __init__(self, name: str, workdir: Path, templates: Path, *, maxconn: int = 20000) -> None:
        self.name = name
        super().__init__(workdir)
        self.templates = templates
        self.maxconn = maxconn

    def binary(self) -> str:
        path = _BINARIES[self.name]
        return path if Path(path).exists() else (shutil.which(self.name) or path)

    def version(self) -> str:
        try:
            out = subprocess.run(
                [self.binary(), "--version"], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return self.name
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else self.name

    def _write_config(self) -> Path:
        ident = ensure_server_identity(self.workdir / "tls")
        (self.workdir / "motd.txt").write_text("tertulia bench peer\n")
        (self.workdir / "help.txt").write_text("\n")
        template = (self.templates / f"{self.name}.conf.in").read_text()
        text = template.format(
            dir=self.workdir,
            cert=ident.cert_path,
            key=ident.key_path,
            port=self.port,
            plain_port=free_port(),
            maxconn=self.maxconn,
        )
        path = self.workdir / f"{self.name}.conf"
        path.write_text(text)
        return path

    def start(self, timeout: float = 30.0) -> None:
        if not self.port:
            self.port = free_port()
        conf = self._write_config()
        if self.name == "inspircd":
            cmd = [self.binary(), "--nofork", f"--config={conf}"]
            if os.geteuid() == 0:
                cmd.append("--runasroot")
        else:
            cmd = [self.binary(), "--nodaemon", "--config", str(conf)]
        self._spawn(cmd)
        self._wait_tls(timeout)
