"""``tertulia server``: run a server until SIGINT/SIGTERM, then shut down gracefully.

SIGHUP reloads the TLS certificate and key (for operators who renew certificates): new
connections get the new certificate, open ones keep theirs.

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
from pathlib import Path

from tertulia.cli.common import run_async
from tertulia.server.config import DEFAULT_PORT, ConfigError, ServerConfig, load_config

__all__ = ["register"]

log = logging.getLogger("tertulia.server")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("server", help="run a chat server")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help=f"TCP port (default {DEFAULT_PORT}; 0 = any free)")
    p.add_argument("--data-dir", type=Path, help="database, keys and certificate (default ./data)")
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument(
        "--insecure-no-tls",
        action="store_true",
        help="plaintext TCP: for local debugging only, never on a network",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        cfg = load_config(args.config, host=args.host, port=args.port, data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"tertulia: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.insecure_no_tls:
        cfg.tls.insecure_no_tls = True
    _apply_tls_groups(cfg)
    return run_async(serve(cfg))


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


async def serve(cfg: ServerConfig) -> int:
    from tertulia.server.app import Server
    from tertulia.transport.tls import TLSIdentityError

    server = Server(cfg)
    try:
        await server.start()
    except TLSIdentityError as exc:
        print(f"tertulia: TLS certificate problem: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tertulia: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror}", file=sys.stderr)
        return 1
    if cfg.tls.insecure_no_tls:
        banner = "!" * 72
        print(
            f"{banner}\nWARNING: TLS IS OFF (--insecure-no-tls). Passwords and messages cross the"
            f" network\nin plain text. Use this only for local debugging.\n{banner}",
            file=sys.stderr,
        )
    print(f"Tertulia server listening on {server.host}:{server.port}", flush=True)
    if server.identity is not None:
        what = "new self-signed certificate" if server.identity.created else "certificate"
        print(f"TLS {what}: {server.identity.cert_path}", flush=True)
        print(f"Fingerprint: {server.identity.fingerprint}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def reload() -> None:
        try:
            fp = server.reload_tls()
        except TLSIdentityError as exc:
            log.error("SIGHUP: keeping the current certificate: %s", exc)
            return
        if fp is not None:
            print(f"TLS certificate reloaded. Fingerprint: {fp}", flush=True)

    loop.add_signal_handler(signal.SIGHUP, reload)
    await stop.wait()
    log.info("shutting down: finishing commits in flight")
    await server.stop()
    print("Server stopped.", flush=True)
    return 0
