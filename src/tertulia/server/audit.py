"""The security log: logins (success and failure) and disconnects, at INFO.

One line per event, in a fixed shape that fail2ban can match (contrib/fail2ban/):

    login failed from 192.0.2.7: user "bob", method password: wrong user name or password
    login ok from 192.0.2.7: user "bob", method password
    disconnected 192.0.2.7:50612: user "bob", after 12.3 s: closed by the client

The peer address comes right after the fixed words and before anything the client chose, so
a crafted user name cannot put another address where the filter looks; names are written as
JSON strings (quotes and control characters escaped), so they cannot start a new line either.
With ``--log-format json`` the same records also carry ``event``, ``ip``, ``user``,
``method`` and ``reason`` as fields.

These two functions are the whole interface: the login code calls :func:`log_login` where it
knows the outcome, the session calls :func:`log_disconnect` when it ends.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tertulia.server.session import Session

__all__ = ["log_disconnect", "log_login"]

auth_log = logging.getLogger("tertulia.auth")
conn_log = logging.getLogger("tertulia.connection")

#: characters of a user name written to the log (names are short; garbage is cut)
_MAX_NAME = 64


def _name(user: str | None) -> str:
    return json.dumps((user or "")[:_MAX_NAME], ensure_ascii=True)


def log_login(session: Session, user: str | None, method: str, failure: str | None) -> None:
    """One login attempt of ``session``: ``failure`` is None when it succeeded."""
    ip = session.ip or "-"
    fields = {"event": "login", "ip": ip, "user": user or "", "method": method}
    if failure is None:
        auth_log.info(
            "login ok from %s: user %s, method %s",
            ip,
            _name(user),
            method,
            extra={**fields, "outcome": "ok"},
        )
    else:
        auth_log.info(
            "login failed from %s: user %s, method %s: %s",
            ip,
            _name(user),
            method,
            failure,
            extra={**fields, "outcome": "failed", "reason": failure},
        )


def log_disconnect(session: Session, reason: str) -> None:
    """``session`` ended: who it was, how long it lasted, and why."""
    age = time.monotonic() - session.connected_at
    conn_log.info(
        "disconnected %s: user %s, after %.1f s: %s",
        session.peer,
        _name(session.user) if session.user else "-",
        age,
        reason,
        extra={
            "event": "disconnect",
            "ip": session.ip or "-",
            "user": session.user or "",
            "reason": reason,
            "duration": round(age, 3),
        },
    )
