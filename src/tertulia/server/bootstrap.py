"""First start: an ``admin`` account with a random password, printed once.

Letting the first registrant become admin would hand the server to whoever connects first; a
setup token would be one more thing to explain. Instead, when the server starts with no account
at all it creates ``admin`` with a random password, stores only its argon2id hash, and
``tertulia server`` prints the password once. Several cluster nodes starting together race
harmlessly: one wins, the others see the name taken and say nothing. Where the password
goes (the terminal, or a 0600 file when there is none) is up to ``tertulia server``
(``cli/server_banner.py``): never into the log.

The server does this as the last step of its start, once everything that can fail (database,
Redis, the listeners) has succeeded: a failed start must not leave an account whose password
nobody saw. The price is a window of milliseconds in which the very first registration over
the protocol would leave the server without this account; ``tertulia admin user add --admin``
is the way out of that (and of a lost password).
"""

from __future__ import annotations

import logging
import secrets

from tertulia.server.passwords import Passwords
from tertulia.server.storage.base import NameTakenError, Storage

__all__ = ["ADMIN_NAME", "bootstrap_admin"]

log = logging.getLogger("tertulia.server")

ADMIN_NAME = "admin"


async def bootstrap_admin(storage: Storage, passwords: Passwords) -> str | None:
    """Create ``admin`` if there is no account yet; return its password (or None)."""
    if await storage.count_users() > 0:
        return None
    password = secrets.token_urlsafe(18)
    try:
        await storage.create_user(ADMIN_NAME, await passwords.hash(password), is_admin=True)
    except NameTakenError:
        return None
    log.info("created the initial admin account %r", ADMIN_NAME)
    return password
