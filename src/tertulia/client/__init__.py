"""Tertulia client library: an asyncio client that stays connected and delivers exactly once.

Start here::

    from tertulia.client import Client, TrustPolicy

    client = Client("chat.example.org", 7443, "alice", password,
                    trust=TrustPolicy(fingerprint="SHA256:..."), rooms=["general"])

    @client.on_message
    async def hello(msg):
        if msg.text == "!ping" and msg.sender != client.user:
            await client.send(msg.room, "pong")

    client.run()

``docs/client.md`` describes the API, the connection state machine and the delivery guarantees.
The message and event types are the protocol's own structs, re-exported here so applications
need not import :mod:`tertulia.proto`.
"""

from tertulia.client.client import (
    Client,
    ClientOffline,
    Event,
    EventHandler,
    EventStream,
    MessageHandler,
    normalize_name,
)
from tertulia.client.connection import (
    DEFAULT_PORT,
    ClientError,
    Connection,
    ConnectionLost,
    RefusedLocally,
    ServerError,
)
from tertulia.client.outbox import EntryState, Outbox, PendingMessage, new_msg_id
from tertulia.client.pacing import SendPacer
from tertulia.client.reconnect import ConnectionStateChanged, ConnState, Reconnector
from tertulia.client.trust import TrustError, TrustPolicy
from tertulia.proto.messages import (
    Error,
    HistoryPage,
    Invitation,
    InvitationEvent,
    InvitationRemoved,
    Limits,
    Member,
    MemberEvent,
    Message,
    MessageKind,
    MutedEvent,
    PresenceEvent,
    ReadEvent,
    RoleEvent,
    RoomAdded,
    RoomInfo,
    RoomRemoved,
    Sent,
    TopicEvent,
    TypingEvent,
    UnmutedEvent,
)
from tertulia.transport.tcp import unreachable

__all__ = [
    "DEFAULT_PORT",
    "Client",
    "ClientError",
    "ClientOffline",
    "ConnState",
    "Connection",
    "ConnectionLost",
    "ConnectionStateChanged",
    "EntryState",
    "Error",
    "Event",
    "EventHandler",
    "EventStream",
    "HistoryPage",
    "Invitation",
    "InvitationEvent",
    "InvitationRemoved",
    "Limits",
    "Member",
    "MemberEvent",
    "Message",
    "MessageHandler",
    "MessageKind",
    "MutedEvent",
    "Outbox",
    "PendingMessage",
    "PresenceEvent",
    "ReadEvent",
    "Reconnector",
    "RefusedLocally",
    "RoleEvent",
    "RoomAdded",
    "RoomInfo",
    "RoomRemoved",
    "SendPacer",
    "Sent",
    "ServerError",
    "TopicEvent",
    "TrustError",
    "TrustPolicy",
    "TypingEvent",
    "UnmutedEvent",
    "new_msg_id",
    "normalize_name",
    "unreachable",
]
