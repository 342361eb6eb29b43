"""Account requests added by the security work (resume, change_password) and login throttling.

``guarded`` wraps every handler call of the session: for ``login`` and ``register`` it applies
the per-account and per-address throttles of the server's ``Guard`` before any password is
hashed, and records failed logins afterwards. The check is made whether or not the account
exists, and a throttled login is refused before the (constant-cost) argon2 verification, so
neither the answer nor its timing tells an attacker which names are real.
"""

from __future__ import annotations

from typing import Any

from tertulia.proto import ErrorCode
from tertulia.proto import messages as m
from tertulia.server.audit import log_login
from tertulia.server.bus.base import UserRevoked
from tertulia.server.commands import MAX_PASSWORD, Handler, complete_login
from tertulia.server.errors import CommandError
from tertulia.server.names import InvalidName, normalize_name
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
    """Run ``handler`` under the login and registration throttles where they apply, and log
    every login attempt (:func:`tertulia.server.audit.log_login`)."""
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
        else:
            result = await handler(session, msg)
    except CommandError as exc:
        log_login(session, name, method, exc.message)
        raise
    if session.user is not None:  # None: the connection closed while logging in
        log_login(session, session.user, method, None)
    return result


async def resume(session: Session, msg: m.Resume) -> None:
    """Log in with a resume token; a bad token fails like a bad password (and is counted)."""
    server = session.server
    if session.user is not None:
        raise CommandError(ErrorCode.ALREADY_AUTHENTICATED, "already logged in")
    guard = server.guard
    guard.check_login(session.ip, None)
    found = await token_user(server.storage, msg.token)
    record = await server.storage.get_user(found[0]) if found else None
    if found is None or record is None or record.disabled:
        guard.login_failed(session.ip, None)
        raise CommandError(ErrorCode.AUTH_FAILED, "invalid or expired token")
    await complete_login(session, msg.id, record, token_hash=found[1])


async def change_password(session: Session, msg: m.ChangePassword) -> m.Ok:
    """Check the old password, store the new one, revoke every token, close other devices."""
    server = session.server
    user = session.user
    assert user is not None
    guard = server.guard
    guard.check_login(session.ip, user)
    record = await server.storage.get_user(user)
    ok = await server.passwords.verify(record.password_hash if record else None, msg.old_password)
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
    await server.storage.set_password(user, await server.passwords.hash(msg.new_password))
    session.token_hash = None  # revoked with the others
    hub = session.hub
    hub.publish(
        UserRevoked(
            origin=hub.bus.node_id,
            user=user,
            code=ErrorCode.SESSION_REVOKED.value,
            message="the password was changed: log in again",
            keep=id(session),
        )
    )
    return m.Ok(id=msg.id)


HANDLERS: dict[type, Handler] = {
    m.Resume: resume,
    m.ChangePassword: change_password,
}
