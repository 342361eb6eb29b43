"""Resume tokens: 256 random bits for the client, only their SHA-256 for the database.

A token lets a device log in again without the password (``resume``). It is generated with
:mod:`secrets`, sent once in ``login_ok``, and stored as a hash, so a stolen database copy does
not let anyone in; a fast hash is enough because the input has 256 bits of entropy (nothing to
brute-force, unlike a password). Tokens expire (``sessions.token_ttl``), at most
``sessions.max_tokens_per_user`` are kept per user, ``logout`` revokes the connection's token,
and a password change or a disabled account revokes all of them (in storage, in the same
transaction).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from dataclasses import dataclass

from tertulia.server.config import SessionConfig
from tertulia.server.storage.base import Storage

__all__ = ["IssuedToken", "hash_token", "issue_token", "token_user"]

TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_hash: bytes
    expires: int  # Unix ms


def hash_token(token: str) -> bytes | None:
    """SHA-256 of a token's bytes, or None if ``token`` is not a well-formed token."""
    if len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != TOKEN_BYTES:
        return None
    return hashlib.sha256(raw).digest()


async def issue_token(storage: Storage, cfg: SessionConfig, user: str) -> IssuedToken:
    raw = secrets.token_bytes(TOKEN_BYTES)
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    digest = hashlib.sha256(raw).digest()
    expires = int((time.time() + cfg.token_ttl) * 1000)
    await storage.add_token(user, digest, expires, keep=cfg.max_tokens_per_user)
    return IssuedToken(token, digest, expires)


async def token_user(storage: Storage, token: str) -> tuple[str, bytes] | None:
    """The user a token belongs to (and its hash), if it is well formed, known and unexpired.

    The look-up is by hash in an index, so its time does not depend on how much of a guessed
    token matches a real one.
    """
    digest = hash_token(token)
    if digest is None:
        return None
    user = await storage.token_user(digest, int(time.time() * 1000))
    return None if user is None else (user, digest)
