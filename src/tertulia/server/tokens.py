"""Resume tokens: 256 random bits for the client, only their SHA-256 for the database.

A token lets a device log in again without the password (``resume``). It is generated with
:mod:`secrets`, sent once in ``login_ok``, and stored as a hash, so a stolen database copy does
not let anyone in; a fast hash is enough because the input has 256 bits of entropy (nothing to
brute-force, unlike a password). Tokens expire (``sessions.token_ttl``), at most
``sessions.max_tokens_per_user`` are kept per user, ``logout`` revokes the connection's token,
and a password change or a disabled account revokes all of them (in storage, in the same
transaction). A token also records the account's credential generation it was issued under
(``users.cred_gen``): storage answers nothing for a token of an older generation, so a token
issued to a login that was still in flight during a password change is dead as well.

A token has exactly one spelling: 43 characters of the URL-safe base64 alphabet, no ``=``
padding, no surrounding spaces, and the canonical last character (the two bits past the 256
that base64 cannot avoid carrying must be zero). Anything else is refused before the look-up,
so a token logged or compared as text means one secret only.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from tertulia.server.config import SessionConfig
from tertulia.server.storage.base import Storage

__all__ = ["IssuedToken", "TokenOwner", "hash_token", "issue_token", "token_user"]

TOKEN_BYTES = 32
#: the one spelling of a token: unpadded URL-safe base64 of 32 bytes
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_hash: bytes
    expires: int  # Unix ms


def hash_token(token: str) -> bytes | None:
    """SHA-256 of a token's bytes, or None if ``token`` is not a token spelled the one way
    :func:`issue_token` spells it (see the module docstring)."""
    if _TOKEN_RE.fullmatch(token) is None:  # also refuses "=", "+", "/", spaces, newlines
        return None
    raw = base64.urlsafe_b64decode(token + "=")
    if _encode(raw) != token:  # a non-zero bit in the last character's unused tail
        return None
    return hashlib.sha256(raw).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


async def issue_token(
    storage: Storage, cfg: SessionConfig, user: str, cred_gen: int
) -> IssuedToken:
    """A fresh token for ``user``, valid while the account stays at generation ``cred_gen``."""
    raw = secrets.token_bytes(TOKEN_BYTES)
    token = _encode(raw)
    digest = hashlib.sha256(raw).digest()
    expires = int((time.time() + cfg.token_ttl) * 1000)
    await storage.add_token(user, digest, expires, keep=cfg.max_tokens_per_user, cred_gen=cred_gen)
    return IssuedToken(token, digest, expires)


@dataclass(frozen=True, slots=True)
class TokenOwner:
    user: str
    token_hash: bytes
    #: the credential generation the token was issued under (the login's generation)
    cred_gen: int


async def token_user(storage: Storage, token: str) -> TokenOwner | None:
    """Who a token belongs to, if it is well formed, known, unexpired and of its account's
    current credential generation.

    The look-up is by hash in an index, so its time does not depend on how much of a guessed
    token matches a real one.
    """
    digest = hash_token(token)
    if digest is None:
        return None
    found = await storage.token_user(digest, int(time.time() * 1000))
    return None if found is None else TokenOwner(found[0], digest, found[1])
