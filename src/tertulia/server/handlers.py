"""Which coroutine handles which client message: the one table the session dispatches on.

``commands`` has the chat requests, ``accounts`` the session and password ones added with
resume tokens, ``moderation`` the room-moderation and server-admin ones, ``invitations``
``invite`` and the pending invitations. A type appearing in two tables is a bug, checked at
import.
"""

from __future__ import annotations

from tertulia.server import accounts, commands, invitations, moderation
from tertulia.server.commands import Handler

__all__ = ["HANDLERS", "handler_for"]


def _merge(*tables: dict[type, Handler]) -> dict[type, Handler]:
    merged: dict[type, Handler] = {}
    for table in tables:
        for kind, handler in table.items():
            if kind in merged:
                raise RuntimeError(f"two handlers for {kind.__name__}")
            merged[kind] = handler
    return merged


HANDLERS = _merge(commands.HANDLERS, accounts.HANDLERS, moderation.HANDLERS, invitations.HANDLERS)


def handler_for(kind: type) -> Handler:
    return HANDLERS[kind]
