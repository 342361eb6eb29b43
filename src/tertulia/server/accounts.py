"""Account requests added by the security work (resume, change_password) and login throttling.

``guarded`` wraps every handler call of the session: for ``login`` and ``register`` it applies
the per-account and per-address throttles of the server's ``Guard`` before any password is
hashed, and records failed logins (and successful ones, which forgive their address's
failures for that account) afterwards. The check is made whether or not the account
exists, and a throttled login is refused before the (constant-cost) argon2 verification, so
neither the answer nor its timing tells an attacker which names are real.

It also turns :class:`~tertulia.server.passwords.HashingBusy` (the password-hashing pool is
full, overall or for this address) into ``busy`` with ``retry_after``, for every request that
hashes (``register``, ``login``, ``change_password``); ``busy`` is not a failed login.
"""

from __future__ import annotations

from typing import Any

from tertulia.proto import ErrorCode
from tertulia.proto import messages as m
from tertulia.server.audit import log_login
from tertulia.server.commands import MAX_PASSWORD, Handler, complete_login
from tertulia.server.errors import CommandError
from tertulia.server.limits import retry_after
from tertulia.server.names import InvalidName, normalize_name
from tertulia.server.passwords import HashingBusy
from tertulia.server.session import Session
from tertulia.server.tokens import token_user

__all__ = ["HANDLERS", "guarded"]

#: the account key of a name that cannot be normalized (still throttled, as one bucket)
_INVALID = "\x00invalid"


def _account(session: Session, raw: str) -> str:
    try:
        return normalize_name(raw, session.server.config.limits.max_name)
    except InvalidName:
        return _INVALID


async def guarded(session: Session, msg: Any, handler: Handler) -> Any:
    """Run ``handler`` under the login and registration throttles where they apply, log
    every login attempt (:func:`tertulia.server.audit.log_login`), and answer ``busy`` when
    the password-hashing pool is full."""
    try:
        return await _throttled(session, msg, handler)
    except HashingBusy as exc:
        # counted, not logged as a failed login (fail2ban's filter must not see honest users)
        session.server.guard.refusals[f"hashing_busy_{exc.scope}"] += 1
        raise CommandError(
            ErrorCode.BUSY,
            "the server is busy checking passwords: try again shortly",
            retry_after=retry_after(exc.retry_after),
        ) from None


async def _throttled(session: Session, msg: Any, handler: Handler) -> Any:
    guard = session.server.guard
    if isinstance(msg, m.Register) and session.user is None:
        guard.check_registration(session.ip)
    if not isinstance(msg, m.Login | m.Resume) or session.user is not None:
        return await handler(session, msg)
    name = msg.user if isinstance(msg, m.Login) else None
    method = "password" if isinstance(msg, m.Login) else "token"
    try:
        if isinstance(msg, m.Login):
            account = _account(session, msg.user)
            guard.check_login(session.ip, account)
            try:
                result = await handler(session, msg)
            except CommandError as exc:
                if exc.code is ErrorCode.AUTH_FAILED:
                    guard.login_failed(session.ip, account)
                raise
            if session.user is not None:
                guard.login_succeeded(session.ip, account)
        else:
            result = await handler(session, msg)
    except CommandError as exc:
        log_login(session, name, method, exc.message)
        raise
    if session.user is not None:  # None: the connection closed while logging in
        log_login(session, session.user, method, None)
    return result


async def resume(session: Session, msg: m.Resume) -> None:
    """Log in with a resume token; a bad token fails like a bad password (and is counted).

    Only the address throttle applies, never the account's: the owner's devices get back in
    however many wrong passwords others have sent for the account."""
    server = session.server
    if session.user is not None:
        raise CommandError(ErrorCode.ALREADY_AUTHENTICATED, "already logged in")
    guard = server.guard
    guard.check_login(session.ip, None)
    found = await token_user(server.storage, msg.token)
    if found is None:
        guard.login_failed(session.ip, None)
        raise CommandError(ErrorCode.AUTH_FAILED, "invalid or expired token")
    await complete_login(
        session,
        msg.id,
        found.user,
        found.cred_gen,
        refusal="invalid or expired token",
        token_hash=found.token_hash,
    )
    if session.user is not None:  # the owner's device: its address's typos are forgiven
        guard.login_succeeded(session.ip, session.user)


async def change_password(session: Session, msg: m.ChangePassword) -> m.Ok:
    """Check the old password, store the new one, revoke every token, close other devices.

    The new password is stored only if the account is still at the generation this connection
    logged in under (and not disabled): a connection a concurrent change or disable is about
    to close cannot set a password and survive with the new generation.
    """
    server = session.server
    user = session.user
    assert user is not None
    guard = server.guard
    guard.check_login(session.ip, user)
    record = await server.storage.get_user(user)
    ok = await server.passwords.verify(
        record.password_hash if record else None,
        msg.old_password,
        client=guard.address_key(session.ip),
    )
    if not ok or record is None:
        guard.login_failed(session.ip, user)
        raise CommandError(ErrorCode.AUTH_FAILED, "wrong password")
    min_len = server.config.passwords.min_length
    if not min_len <= len(msg.new_password) <= MAX_PASSWORD:
        raise CommandError(
            ErrorCode.WEAK_PASSWORD,
            f"password must be {min_len} to {MAX_PASSWORD} characters",
            min=min_len,
            max=MAX_PASSWORD,
        )
    new_hash = await server.passwords.hash(msg.new_password, client=guard.address_key(session.ip))
    gen = await server.storage.set_password(user, new_hash, if_gen=session.cred_gen)
    if gen is None:  # changed or disabled meanwhile: this connection is being revoked
        raise CommandError(ErrorCode.SESSION_REVOKED, "the account's credentials changed")
    session.cred_gen = gen  # no await since the commit: this connection is the one spared
    session.token_hash = None  # revoked with the others
    session.hub.revoke(
        user, gen, ErrorCode.SESSION_REVOKED, "the password was changed: log in again"
    )
    return m.Ok(id=msg.id)


HANDLERS: dict[type, Handler] = {
    m.Resume: resume,
    m.ChangePassword: change_password,
}
