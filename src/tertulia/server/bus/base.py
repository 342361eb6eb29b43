"""The fan-out bus between server nodes, and the events that travel on it.

A node applies every event to its own sessions at once (the fast path) and publishes it on the
bus for the *other* nodes, which apply it to theirs. A single node uses :class:`LocalBus`, which
has no peers; cluster mode plugs in a Redis implementation.

Buses may lose or reorder events (Redis pub/sub is at-most-once). Correctness does not depend
on them for messages: a node that sees a ``seq`` gap in a room backfills it from storage before
delivering further (see ``Hub``), so members still get every message exactly once, in order.
Ephemeral events (typing, presence) are best effort by nature.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Literal

import msgspec

from tertulia.server.bus.presence import LocalPresence, PresenceDirectory

__all__ = [
    "Bus",
    "BusError",
    "BusEvent",
    "InvitationChanged",
    "MemberChanged",
    "MemberRemoved",
    "MessageCommitted",
    "MuteChanged",
    "PresenceChanged",
    "ReadMoved",
    "RoleChanged",
    "RoomClosed",
    "TopicChanged",
    "TypingNotice",
    "UserRevoked",
    "decode_event",
    "encode_event",
]


class BusError(Exception):
    """The bus cannot start (Redis unreachable at startup, or its client library missing)."""


class _Event(msgspec.Struct, tag_field="k", kw_only=True):
    #: node that produced the event (so it can ignore its own echo)
    origin: str = ""


class MessageCommitted(_Event, tag="msg"):
    room: str
    seq: int
    msg_id: str
    sender: str
    ts: int
    text: str
    kind: str


class MemberChanged(_Event, tag="member"):
    room: str
    user: str
    action: Literal["joined", "left", "invited", "created"]


class TopicChanged(_Event, tag="topic"):
    room: str
    topic: str
    by: str


class TypingNotice(_Event, tag="typing"):
    room: str
    user: str


class PresenceChanged(_Event, tag="presence"):
    user: str
    status: Literal["online", "away", "offline"]


class ReadMoved(_Event, tag="read"):
    user: str
    room: str
    seq: int


class MemberRemoved(_Event, tag="removed"):
    """A moderator removed ``user`` from ``room`` (kick or ban)."""

    room: str
    user: str
    reason: Literal["kicked", "banned"]
    by: str


class RoleChanged(_Event, tag="role"):
    room: str
    user: str
    role: Literal["owner", "moderator", "member"]
    by: str


class MuteChanged(_Event, tag="mute"):
    room: str
    user: str
    by: str
    muted: bool
    #: Unix ms when the mute ends; None: until lifted
    until: int | None = None


class RoomClosed(_Event, tag="closed"):
    """An admin closed ``room``: every member is out, and the room is gone."""

    room: str
    members: list[str]


class UserRevoked(_Event, tag="revoked"):
    """``user``'s credentials changed (password changed, account disabled): close every
    connection logged in under a credential generation older than ``gen``, and refuse logins
    and resumes of older generations that are still in flight (``Hub.credentials_current``).

    The connection that changed the password holds ``gen`` already, so it stays. ``gen`` 0
    (an event without a generation) closes every connection of the user.
    """

    user: str
    code: str
    message: str
    #: the account's credential generation after the change (``users.cred_gen``)
    gen: int = 0


class InvitationChanged(_Event, tag="invitation"):
    """``user``'s pending invitation into ``room`` was made, or went away (and why): only
    that user's connections are told."""

    room: str
    user: str
    action: Literal["invited", "accepted", "declined", "banned", "closed"]
    by: str = ""
    visibility: Literal["public", "private"] = "private"
    topic: str = ""
    ts: int = 0


BusEvent = (
    MessageCommitted
    | MemberChanged
    | TopicChanged
    | TypingNotice
    | PresenceChanged
    | ReadMoved
    | MemberRemoved
    | RoleChanged
    | MuteChanged
    | RoomClosed
    | UserRevoked
    | InvitationChanged
)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(BusEvent)


def encode_event(event: BusEvent) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> BusEvent:
    """Decode an event from a peer node; raises ``msgspec.DecodeError`` on garbage."""
    event: BusEvent = _decoder.decode(data)
    return event


class Bus(abc.ABC):
    """Carries events to the other nodes of a cluster."""

    #: this node's identity, stamped on published events
    node_id: str = "local"
    #: who is online on the other nodes (nobody, for a single node)
    presence: PresenceDirectory = LocalPresence()

    @abc.abstractmethod
    async def start(
        self, on_event: Callable[[BusEvent], None], on_resync: Callable[[], None]
    ) -> None:
        """Start receiving. ``on_event`` gets peers' events on the loop thread; ``on_resync``
        is called after the bus lost events it cannot name (e.g. a reconnect), so the hub can
        backfill every room from storage."""

    @abc.abstractmethod
    def publish(self, event: BusEvent) -> None:
        """Send ``event`` to the other nodes. Never blocks; may drop under failure."""

    @abc.abstractmethod
    async def close(self) -> None: ...
