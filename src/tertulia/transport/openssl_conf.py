"""An OpenSSL configuration file that limits TLS key-exchange groups.

Python 3.11's :mod:`ssl` can pin one elliptic curve (``set_ecdh_curve``) but not choose a list
of groups, so the only clean way to offer exactly X25519, P-256 and P-384 (Mozilla's "modern"
profile) is OpenSSL's own configuration: a ``system_default`` section with ``Groups``, read
from the file named by ``OPENSSL_CONF`` when OpenSSL initialises -- that is, before ``ssl`` is
first imported. ``tertulia server`` therefore writes this file into its data directory and
re-executes itself with ``OPENSSL_CONF`` pointing at it (``cli/server_cmd.py``).

The file replaces the system's ``openssl.cnf`` for the server process only; it sets nothing
but the groups (the rest of TLS policy is set in code, in ``transport/tls.py``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tertulia.transport.private_files import open_private, restrict_file

__all__ = ["CONF_NAME", "openssl_config", "write_openssl_config"]

CONF_NAME = "openssl.cnf"
_GROUP = re.compile(r"^[A-Za-z0-9_-]+$")


def openssl_config(groups: str) -> str:
    """The configuration text that restricts every TLS context to ``groups`` (``A:B:C``)."""
    names = [g.strip() for g in groups.split(":") if g.strip()]
    if not names or not all(_GROUP.match(g) for g in names):
        raise ValueError(f"tls.groups must be OpenSSL group names separated by ':', not {groups!r}")
    return (
        "# Written by tertulia server: TLS key-exchange groups (tls.groups). Do not edit.\n"
        "openssl_conf = tertulia_init\n\n"
        "[tertulia_init]\nssl_conf = tertulia_ssl\n\n"
        "[tertulia_ssl]\nsystem_default = tertulia_tls\n\n"
        f"[tertulia_tls]\nGroups = {':'.join(names)}\n"
    )


def write_openssl_config(directory: Path, groups: str) -> Path:
    """Write (or rewrite, if it changed) ``directory/openssl.cnf`` (mode 0600); return its path.

    It holds no secret, but it decides the TLS policy of the server: nobody else may change
    it, and the data directory's files are all owner-only (0600 whatever the umask).
    """
    path = Path(directory) / CONF_NAME
    text = openssl_config(groups)
    try:
        if path.read_text(encoding="utf-8") == text:
            restrict_file(path)
            return path
    except OSError:
        pass
    tmp = path.with_name(f".{CONF_NAME}.{os.getpid()}.tmp")
    with open_private(tmp) as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path
