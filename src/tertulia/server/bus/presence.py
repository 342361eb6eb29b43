"""Presence across nodes: who is online on the *other* nodes of a cluster.

The hub knows its own users (connected, or held for the grace period after a drop). In a
cluster a user may also be connected to another node, so "is alice online?" needs the others'
view too. A :class:`PresenceDirectory` mirrors it for the hub:

* the hub reports its own users' changes with :meth:`~PresenceDirectory.set_local`;
* peers' ``PresenceChanged`` events update the mirror through :meth:`~PresenceDirectory.peer`;
* :meth:`~PresenceDirectory.others` answers synchronously from the mirror (no I/O on the hot
  path of ``members`` or presence fan-out);
* the directory calls ``on_change(user, before, after)`` when its own reconciliation -- not an
  event -- changes a user's status on the other nodes: a node died and its users' entries
  expired, or an event was lost while the bus was down.

A single node has no others: :class:`LocalPresence` answers ``None`` and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

__all__ = ["LocalPresence", "PresenceDirectory", "RemoteStatus"]

RemoteStatus = Literal["online", "away"]
#: the hub's own users and their status (connected or held), for periodic refresh
LocalUsers = Callable[[], dict[str, RemoteStatus]]
#: ``(user, status on other nodes before, after)``; ``None`` means on no other node
OnChange = Callable[[str, RemoteStatus | None, RemoteStatus | None], None]


class PresenceDirectory:
    """The single-node behaviour; cluster buses provide a subclass."""

    def bind(self, local_users: LocalUsers, on_change: OnChange) -> None:
        """Called once by the hub: where to read its users, whom to tell about changes."""

    def set_local(self, user: str, status: RemoteStatus | None) -> None:
        """This node's view of ``user`` changed (None: this node no longer holds them)."""

    def peer(self, user: str, node: str, status: Literal["online", "away", "offline"]) -> None:
        """A peer node announced ``user``'s status there."""

    def others(self, user: str) -> RemoteStatus | None:
        """``user``'s status on the other nodes ("online" wins over "away"), None if absent."""
        return None


class LocalPresence(PresenceDirectory):
    """No other nodes."""
