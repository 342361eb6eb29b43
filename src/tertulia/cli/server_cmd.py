"""``tertulia server``: run a server until SIGINT/SIGTERM, then shut down gracefully.

``tertulia server check`` validates a configuration (file, environment, options) and prints
the effective settings with secrets masked, without starting anything; ``--connect`` also
checks that the store, bus, certificate, ports and data directory are usable
(:mod:`tertulia.cli.server_doctor`).

SIGHUP re-reads the configuration (file and environment) and the TLS certificate and key: new
connections get the new certificate, open ones keep theirs; settings that need a restart
(addresses, data directory, store, bus, HTTP listener) are logged and keep their values.

TLS key-exchange groups (``tls.groups``) can only be limited through OpenSSL's configuration,
which OpenSSL reads once, when ``ssl`` is first imported; so the command writes
``DATA_DIR/openssl.cnf`` and re-executes itself with ``OPENSSL_CONF`` set to it (once: the
new process finds it set). An ``OPENSSL_CONF`` the operator set is respected and left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from tertulia.cli.common import run_async
from tertulia.server.config import DEFAULT_PORT, ConfigError, ServerConfig, load_config

__all__ = ["register"]

log = logging.getLogger("tertulia.server")
#: start, reload and stop messages: logged whatever --log-level says (see logfmt)
banner = logging.getLogger("tertulia.server.start")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("server", help="run a chat server ('server check' validates the config)")
    p.add_argument(
        "action",
        nargs="?",
        choices=["run", "check"],
        default="run",
        help="run (default), or check: validate the configuration and print it",
    )
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help=f"TCP port (default {DEFAULT_PORT}; 0 = any free)")
    p.add_argument("--data-dir", type=Path, help="database, keys and certificate (default ./data)")
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument(
        "--insecure-no-tls",
        action="store_true",
        help="plaintext TCP: for local debugging only, never on a network",
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help="postgresql://... for a cluster (default: SQLite in data dir)",
    )
    p.add_argument("--bus", metavar="URL", help="redis://... to fan out between cluster nodes")
    p.add_argument(
        "--reuse-port",
        action="store_true",
        default=None,
        help="SO_REUSEPORT: several nodes on this machine share the port",
    )
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--log-format", choices=["text", "json"], help="stderr log format")
    p.add_argument(
        "--connect",
        action="store_true",
        help="with check: also reach the store, the bus, the certificate, ports, permissions",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="with check --connect: seconds for each network check (default 5)",
    )
    p.set_defaults(func=run)


def _load(args: argparse.Namespace) -> ServerConfig:
    """Defaults, file, environment, then the command line (raises ConfigError)."""
    cfg = load_config(
        args.config,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        reuse_port=args.reuse_port,
    )
    if args.store is not None:
        cfg.store.url = args.store
    if args.bus is not None:
        cfg.bus.url = args.bus
    if args.log_level is not None:
        cfg.log.level = args.log_level
    if args.log_format is not None:
        cfg.log.format = args.log_format
    if args.insecure_no_tls:
        cfg.tls.insecure_no_tls = True
    cfg.validate()
    return cfg


def _config_error(args: argparse.Namespace, exc: ConfigError) -> int:
    """One line naming the setting (and the file, when the message does not already)."""
    text = str(exc)
    if args.config is not None and "config file" not in text and "TERTULIA__" not in text:
        text += f" (from {args.config}, the environment or the command line)"
    print(f"tertulia: configuration error: {text}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from tertulia.server.datadir import ensure_unlocked, prepare_data_dir
    from tertulia.server.logfmt import setup_logging
    from tertulia.server.startup import StartupError

    setup_logging(args.log_level or "INFO", args.log_format or "text")
    if args.action == "check":
        return check(args)
    try:
        cfg = _load(args)
    except ConfigError as exc:
        return _config_error(args, exc)
    setup_logging(cfg.log.level, cfg.log.format)
    try:
        # before the re-execution below writes into it, and again (under the lock) in start()
        ensure_unlocked(prepare_data_dir(Path(cfg.data_dir)))
    except StartupError as exc:
        print(f"tertulia: {exc}", file=sys.stderr)
        return 1
    _apply_tls_groups(cfg)
    _raise_nofile()
    return run_async(serve(cfg, lambda: _load(args)))


def _raise_nofile() -> None:
    """Raise the soft open-files limit to the hard one: each client is a descriptor, and the
    usual soft default (1024) would cap a server at about a thousand connections."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if want > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d: %s", soft, exc)


def check(args: argparse.Namespace) -> int:
    """``tertulia server check``: 0 and the effective configuration if it is usable."""
    from tertulia.server.config_env import effective_toml
    from tertulia.transport.tls import TLSIdentityError, ensure_server_identity

    try:
        cfg = _load(args)
    except ConfigError as exc:
        return _config_error(args, exc)
    if cfg.tls.cert is not None and not cfg.tls.insecure_no_tls:
        try:
            ensure_server_identity(Path(cfg.data_dir), cert=cfg.tls.cert, key=cfg.tls.key)
        except TLSIdentityError as exc:
            print(f"tertulia: TLS certificate problem: {exc}", file=sys.stderr)
            return 1
    print(effective_toml(cfg), end="")
    if not args.connect:
        print(
            "# configuration OK (add --connect to reach the store, bus and ports)", file=sys.stderr
        )
        return 0
    from tertulia.cli.server_doctor import run_checks

    failed = run_checks(cfg, args.timeout, lambda line: print(line, file=sys.stderr), run_async)
    if failed:
        print(f"tertulia: {failed} check(s) failed", file=sys.stderr)
        return 1
    print("# configuration OK; every check passed", file=sys.stderr)
    return 0


#: marks the process as re-executed with our OpenSSL configuration
_REEXEC_ENV = "TERTULIA_OPENSSL_CONF"


def _apply_tls_groups(cfg: ServerConfig) -> None:
    """Re-execute with ``OPENSSL_CONF`` limiting TLS groups, unless it is already in force."""
    from tertulia.transport.openssl_conf import write_openssl_config

    if cfg.tls.insecure_no_tls or not cfg.tls.groups.strip():
        return
    current = os.environ.get("OPENSSL_CONF")
    if current is not None and os.environ.get(_REEXEC_ENV) == current:
        return  # this process was started with our file
    if current is not None:
        log.warning("OPENSSL_CONF is set (%s): tls.groups is left to that file", current)
        return
    if "server" not in sys.argv[1:]:
        log.warning("not started as 'tertulia server ...': tls.groups not applied")
        return
    data_dir = Path(cfg.data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        path = write_openssl_config(data_dir, cfg.tls.groups)
    except (OSError, ValueError) as exc:
        log.warning("cannot limit TLS groups: %s", exc)
        return
    env = dict(os.environ, OPENSSL_CONF=str(path), **{_REEXEC_ENV: str(path)})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "tertulia", *sys.argv[1:]], env)


async def serve(cfg: ServerConfig, reload_config: Callable[[], ServerConfig] | None = None) -> int:
    from tertulia.cli.server_banner import announce
    from tertulia.server.app import Server
    from tertulia.server.bus.base import BusError
    from tertulia.server.memory import tune_allocator
    from tertulia.server.startup import StartupError
    from tertulia.server.storage.base import StorageError
    from tertulia.transport.tls import TLSIdentityError

    tune_allocator()  # process-wide, so here and not in Server (tests embed servers)
    server: Server | None = None
    try:
        server = Server(cfg)
        await server.start()
    except (StartupError, StorageError, BusError, TLSIdentityError) as exc:
        prefix = "TLS certificate problem: " if isinstance(exc, TLSIdentityError) else ""
        print(f"tertulia: {prefix}{exc}", file=sys.stderr)
        if server is not None:
            await server.stop()
        return 1
    # handlers before the banner: whoever reads "listening" may signal at once
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def reload() -> None:
        try:
            if reload_config is None:
                fp = server.reload_tls()
            else:
                for name in server.reload_config(reload_config()):
                    log.warning("SIGHUP: %s changed; it takes effect at the next restart", name)
                log.info("SIGHUP: configuration reloaded")
                fp = server.identity.fingerprint if server.identity else None
        except ConfigError as exc:
            log.error("SIGHUP: configuration not reloaded: %s", exc)
            return
        except TLSIdentityError as exc:
            log.error("SIGHUP: keeping the current certificate: %s", exc)
            return
        if fp is not None:
            banner.info("TLS certificate reloaded. Fingerprint: %s", fp)

    loop.add_signal_handler(signal.SIGHUP, reload)
    announce(server)
    await stop.wait()
    banner.info("shutting down: finishing commits in flight")
    await server.stop()
    banner.info("Server stopped.")
    return 0
