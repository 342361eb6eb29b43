"""What ``tertulia server`` says once it listens, through the same logging as everything else.

The banner (addresses, certificate, fingerprint) goes to the log, so it is in the journal with
a timestamp and, with ``--log-format json``, a JSON line like every other record. Like
PostgreSQL's start-up messages it is logged whatever ``--log-level`` says: its logger,
``tertulia.server.start``, is pinned at INFO (see :func:`tertulia.server.logfmt.setup_logging`).

The initial admin password must not end up in a log: on a terminal it is printed there (stdout)
and nowhere else; otherwise (systemd, a container, a pipe) it goes to
``DATA_DIR/initial-admin-password``, mode 0600, and the log says where.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tertulia.server.app import Server

__all__ = ["PASSWORD_FILE", "announce", "write_secret_file"]

log = logging.getLogger("tertulia.server.start")

PASSWORD_FILE = "initial-admin-password"


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file of mode 0600 (an old one is replaced), whatever the umask."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _initial_password(server: Server, password: str) -> None:
    change = "tertulia admin user passwd admin"
    if sys.stdout.isatty():
        print(
            "First start: created the server admin account 'admin'. Log in and change the"
            f" password\n({change}); it is not stored and not shown again.\n"
            f"Initial admin password (shown once): {password}",
            flush=True,
        )
        log.warning(
            "created the initial admin account 'admin'; its password was shown on the terminal"
            " (not in this log)"
        )
        return
    path = Path(server.config.data_dir) / PASSWORD_FILE
    write_secret_file(path, password + "\n")
    log.warning(
        "created the initial admin account 'admin'; initial admin password written to %s"
        " (mode 0600, not logged): log in with it, change it (%s), then delete the file",
        path,
        change,
    )


def announce(server: Server) -> None:
    """Log where the server listens and what it serves (and deal with a new admin password)."""
    cfg = server.config
    if server.initial_admin_password is not None:
        _initial_password(server, server.initial_admin_password)
    if server.http is not None:
        log.info("Health and metrics: http://%s:%d/metrics", server.http.host, server.http.port)
    if cfg.tls.insecure_no_tls:
        log.warning(
            "TLS IS OFF (--insecure-no-tls): passwords and messages cross the network in plain"
            " text. Use this only for local debugging."
        )
    log.info("Tertulia server listening on %s:%d", server.host, server.port)
    if server.identity is not None:
        what = "new self-signed certificate" if server.identity.created else "certificate"
        log.info("TLS %s: %s", what, server.identity.cert_path)
        if server.identity.spki:
            log.info("Public-key pin (kept across renewals): %s", server.identity.spki)
        log.info("Fingerprint: %s", server.identity.fingerprint)
