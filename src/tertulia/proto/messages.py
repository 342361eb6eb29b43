"""Typed wire messages of protocol v1 and their JSON codec.

Every frame body is one UTF-8 JSON object whose ``type`` field selects a message struct below.
Client requests carry a client-chosen ``id`` (string or integer) that the server echoes in the
response; notices (``typing``, ``pong``) and server events carry none. docs/protocol.md is the
contract; this module is its executable form, so keep the two in step.

Unknown fields are ignored (forward compatibility); unknown ``type`` values are an error. Values
are checked for type here and for range/length by the server, whose limits are configurable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "MAX_INT",
    "MAX_LIST_PAGE",
    "MAX_SERVER_FRAME",
    "PROTOCOL_VERSION",
    "AcceptInvitation",
    "Ban",
    "BanEntry",
    "BanList",
    "Bans",
    "ChangePassword",
    "ClientMessage",
    "CloseRoom",
    "CreateRoom",
    "DeclineInvitation",
    "DisableUser",
    "Error",
    "Hello",
    "HelloOk",
    "History",
    "HistoryPage",
    "Invitation",
    "InvitationEvent",
    "InvitationList",
    "InvitationRemoved",
    "Invite",
    "Join",
    "Kick",
    "Leave",
    "Limits",
    "ListInvitations",
    "ListRooms",
    "Login",
    "LoginOk",
    "Logout",
    "MarkRead",
    "Member",
    "MemberEvent",
    "MemberList",
    "Members",
    "Message",
    "Mute",
    "MutedEvent",
    "Ok",
    "OpenDm",
    "Ping",
    "Pong",
    "PongReply",
    "Presence",
    "PresenceEvent",
    "ReadEvent",
    "Register",
    "Resume",
    "RoleEvent",
    "RoomAdded",
    "RoomInfo",
    "RoomList",
    "RoomRemoved",
    "RoomReply",
    "Send",
    "Sent",
    "ServerBye",
    "ServerMessage",
    "ServerPing",
    "SetRole",
    "SetTopic",
    "Sync",
    "Synced",
    "TopicEvent",
    "Typing",
    "TypingEvent",
    "Unban",
    "Unmute",
    "UnmutedEvent",
]

PROTOCOL_VERSION = 1

#: client-chosen request id: an integer exactly representable as an IEEE double (so JavaScript
#: clients can use numbers), or a string of 1..64 characters
RequestId = (
    Annotated[int, msgspec.Meta(ge=-(2**53 - 1), le=2**53 - 1)]
    | Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
)
#: the largest integer any client field may carry (seq cursors, limits, counts, nonces): 2^53 - 1,
#: exact in every JSON implementation and far below SQLite's and PostgreSQL's 64-bit columns, so
#: no client value can overflow storage. Out of range is refused at decode time (``codec``).
MAX_INT = 2**53 - 1
#: a non-negative integer field: seq cursors, page sizes, durations, nonces
Uint = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
#: the most entries of one ``room_list`` or ``member_list`` page (the server may send fewer)
MAX_LIST_PAGE = 500
#: a list cursor: the name of the last entry of the previous page (names are short; this bound
#: only keeps hostile cursors cheap)
Cursor = Annotated[str, msgspec.Meta(max_length=256)]
#: the largest frame a server may send (a full history page of maximal messages fits); clients
#: must accept frames up to this size whatever the announced client->server limits are
MAX_SERVER_FRAME = 16 * 1024 * 1024
Visibility = Literal["public", "private", "dm"]
PresenceStatus = Literal["online", "away", "offline"]
MessageKind = Literal["text", "me"]
Role = Literal["owner", "moderator", "member"]


class _Msg(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Base of all wire messages: tagged by ``type``, keyword-only, defaults omitted on encode."""


# --------------------------------------------------------------------------- shared structs


class Limits(msgspec.Struct, kw_only=True):
    """Server limits announced in ``hello_ok`` so clients can check before sending."""

    max_frame_pre_auth: int
    max_frame: int
    max_text: int
    max_history_page: int
    max_name: int
    #: fields added by the security hardening; absent from older servers (defaults then)
    max_topic: int = 512
    max_rooms: int = 0
    #: sustained ``send`` rate per user (messages per second) and the burst allowed above it
    message_rate: float = 0.0
    message_burst: int = 0


class RoomInfo(msgspec.Struct, kw_only=True):
    """A room as one member sees it. ``read_seq``/``unread`` are that member's own."""

    name: str
    visibility: Visibility
    topic: str = ""
    last_seq: int = 0
    read_seq: int = 0
    unread: int = 0
    member_count: int = 0
    joined: bool = True
    #: for ``dm`` rooms: the other participant
    peer: str | None = None
    #: this user's role in the room (``member`` in DMs and rooms not joined)
    role: Role = "member"


class Member(msgspec.Struct, kw_only=True):
    user: str
    presence: PresenceStatus
    role: Role = "member"


class BanEntry(msgspec.Struct, kw_only=True):
    user: str
    by: str
    reason: str = ""
    #: when the ban was made, Unix ms
    ts: int = 0


class Invitation(msgspec.Struct, kw_only=True):
    """A pending invitation: ``by`` asked the user into ``room``; nothing happens until the
    user accepts it (then they become a member) or declines it."""

    room: str
    by: str
    visibility: Literal["public", "private"]
    topic: str = ""
    #: when the invitation was made, Unix ms
    ts: int = 0


# --------------------------------------------------------------------------- client -> server


class Hello(_Msg, tag="hello"):
    id: RequestId
    versions: Annotated[list[Uint], msgspec.Meta(max_length=64)]
    client: str = ""


class Register(_Msg, tag="register"):
    id: RequestId
    user: str
    password: str


class Login(_Msg, tag="login"):
    id: RequestId
    user: str
    password: str


class Logout(_Msg, tag="logout"):
    id: RequestId


class CreateRoom(_Msg, tag="create_room"):
    id: RequestId
    room: str
    visibility: Literal["public", "private"] = "public"
    topic: str = ""


class Join(_Msg, tag="join"):
    id: RequestId
    room: str


class Leave(_Msg, tag="leave"):
    id: RequestId
    room: str


class ListRooms(_Msg, tag="list_rooms"):
    """One page of rooms, sorted by name: those after ``cursor`` (``null``: from the start).

    ``limit`` asks for at most that many (the server caps it at its own page size).
    """

    id: RequestId
    cursor: Cursor | None = None
    limit: Uint | None = None


class Invite(_Msg, tag="invite"):
    id: RequestId
    room: str
    user: str


class ListInvitations(_Msg, tag="list_invitations"):
    id: RequestId


class AcceptInvitation(_Msg, tag="accept_invitation"):
    id: RequestId
    room: str


class DeclineInvitation(_Msg, tag="decline_invitation"):
    id: RequestId
    room: str


class SetTopic(_Msg, tag="set_topic"):
    id: RequestId
    room: str
    topic: str


class OpenDm(_Msg, tag="open_dm"):
    id: RequestId
    user: str


class Send(_Msg, tag="send"):
    id: RequestId
    room: str
    msg_id: str
    text: str
    kind: MessageKind = "text"


class History(_Msg, tag="history"):
    id: RequestId
    room: str
    before: Uint | None = None
    after: Uint | None = None
    limit: Uint = 50


class Members(_Msg, tag="members"):
    """One page of ``room``'s members, sorted by name, after ``cursor`` (like ``list_rooms``)."""

    id: RequestId
    room: str
    cursor: Cursor | None = None
    limit: Uint | None = None


class MarkRead(_Msg, tag="mark_read"):
    id: RequestId
    room: str
    seq: Uint


class Presence(_Msg, tag="set_presence"):
    id: RequestId
    status: Literal["online", "away"]


class Sync(_Msg, tag="sync"):
    """Replay every message after ``cursors[room]`` for each room, then switch to live."""

    id: RequestId
    cursors: dict[str, Uint]


class Ping(_Msg, tag="ping"):
    id: RequestId


class Typing(_Msg, tag="typing"):
    """Notice (no ``id``, no response): the user is typing in ``room``."""

    room: str


class Pong(_Msg, tag="pong"):
    """Notice: answer to a server ``ping`` carrying its ``nonce``."""

    nonce: Uint


class Resume(_Msg, tag="resume"):
    """Log in with the ``token`` of an earlier ``login_ok`` instead of a password."""

    id: RequestId
    token: str


class ChangePassword(_Msg, tag="change_password"):
    id: RequestId
    old_password: str
    new_password: str


class Kick(_Msg, tag="kick"):
    id: RequestId
    room: str
    user: str
    reason: str = ""


class Ban(_Msg, tag="ban"):
    id: RequestId
    room: str
    user: str
    reason: str = ""


class Unban(_Msg, tag="unban"):
    id: RequestId
    room: str
    user: str


class Bans(_Msg, tag="bans"):
    """One page of ``room``'s bans, sorted by user name, after ``cursor`` (like ``list_rooms``)."""

    id: RequestId
    room: str
    cursor: Cursor | None = None
    limit: Uint | None = None


class Mute(_Msg, tag="mute"):
    """Silence ``user`` in ``room`` for ``seconds`` (``null``: until ``unmute``)."""

    id: RequestId
    room: str
    user: str
    seconds: Uint | None = None


class Unmute(_Msg, tag="unmute"):
    id: RequestId
    room: str
    user: str


class SetRole(_Msg, tag="set_role"):
    id: RequestId
    room: str
    user: str
    role: Role


class DisableUser(_Msg, tag="disable_user"):
    """Server admins only: disable (or re-enable) an account."""

    id: RequestId
    user: str
    disabled: bool = True


class CloseRoom(_Msg, tag="close_room"):
    """Server admins only: close a room for good."""

    id: RequestId
    room: str


ClientMessage = (
    Hello
    | Register
    | Login
    | Logout
    | CreateRoom
    | Join
    | Leave
    | ListRooms
    | Invite
    | ListInvitations
    | AcceptInvitation
    | DeclineInvitation
    | SetTopic
    | OpenDm
    | Send
    | History
    | Members
    | MarkRead
    | Presence
    | Sync
    | Ping
    | Typing
    | Pong
    | Resume
    | ChangePassword
    | Kick
    | Ban
    | Unban
    | Bans
    | Mute
    | Unmute
    | SetRole
    | DisableUser
    | CloseRoom
)

# --------------------------------------------------------------------------- server -> client


class HelloOk(_Msg, tag="hello_ok"):
    id: RequestId
    version: int
    server: str
    limits: Limits
    heartbeat_interval: float


class Ok(_Msg, tag="ok"):
    id: RequestId


class LoginOk(_Msg, tag="login_ok"):
    id: RequestId
    user: str
    admin: bool = False
    #: a resume token for ``resume`` (256 random bits, base64url), and its expiry (Unix ms)
    token: str | None = None
    token_expires: int | None = None


class RoomReply(_Msg, tag="room"):
    id: RequestId
    room: RoomInfo


class RoomList(_Msg, tag="room_list"):
    id: RequestId
    rooms: list[RoomInfo]
    #: ``cursor`` for the next page; ``null`` on the last page
    next: str | None = None


class Sent(_Msg, tag="sent"):
    """Acknowledgement: the message is durably stored as ``seq`` in ``room``."""

    id: RequestId
    room: str
    msg_id: str
    seq: int
    ts: int
    duplicate: bool = False


class Message(_Msg, tag="message"):
    """A stored chat message (event, and element of ``history_page``). ``ts``: Unix ms, UTC."""

    room: str
    seq: int
    msg_id: str
    sender: str
    ts: int
    text: str
    kind: MessageKind = "text"


class HistoryPage(_Msg, tag="history_page"):
    id: RequestId
    room: str
    messages: list[Message]
    more: bool


class MemberList(_Msg, tag="member_list"):
    id: RequestId
    room: str
    members: list[Member]
    #: ``cursor`` for the next page; ``null`` on the last page
    next: str | None = None


class Synced(_Msg, tag="synced"):
    """Replay finished: ``cursors`` holds the last ``seq`` sent per room; live traffic follows."""

    id: RequestId
    cursors: dict[str, int]


class PongReply(_Msg, tag="pong"):
    id: RequestId


class Error(_Msg, tag="error", omit_defaults=False):
    """Failure of request ``id`` (``null`` for connection-level errors); always fully encoded."""

    code: str
    message: str
    id: RequestId | None = None
    params: dict[str, Any] = {}


class PresenceEvent(_Msg, tag="presence"):
    user: str
    status: PresenceStatus


class TypingEvent(_Msg, tag="typing"):
    room: str
    user: str


class MemberEvent(_Msg, tag="member"):
    room: str
    user: str
    action: Literal["joined", "left", "invited", "kicked", "banned"]
    #: for ``kicked`` and ``banned``: the moderator
    by: str | None = None


class TopicEvent(_Msg, tag="topic"):
    room: str
    topic: str
    by: str


class ReadEvent(_Msg, tag="read"):
    """Your read marker moved (from another of your devices)."""

    room: str
    seq: int


class RoomAdded(_Msg, tag="room_added"):
    """You became a member of a room without asking (invitation, a DM opened by someone)."""

    room: RoomInfo


class RoomRemoved(_Msg, tag="room_removed"):
    """You are no longer a member of ``room``, not by your own ``leave``."""

    room: str
    reason: Literal["kicked", "banned", "closed"]
    by: str | None = None


class RoleEvent(_Msg, tag="role"):
    room: str
    user: str
    role: Role
    by: str


class MutedEvent(_Msg, tag="muted"):
    room: str
    user: str
    by: str
    #: Unix ms when the mute ends; ``null``: until lifted
    until: int | None = None


class UnmutedEvent(_Msg, tag="unmuted"):
    room: str
    user: str
    by: str


class InvitationList(_Msg, tag="invitation_list"):
    id: RequestId
    #: the user's pending invitations, oldest first (at most ``max_pending_invitations``)
    invitations: list[Invitation]


class InvitationEvent(_Msg, tag="invitation"):
    """Someone invited you into a room: accept or decline it (or leave it pending)."""

    invitation: Invitation


class InvitationRemoved(_Msg, tag="invitation_removed"):
    """A pending invitation of yours is gone: accepted or declined on one of your connections
    (every other one is told), or a moderator banned you from the room (``banned``), or the
    room was closed (``closed``: every connection is told)."""

    room: str
    reason: Literal["accepted", "declined", "banned", "closed"]


class BanList(_Msg, tag="ban_list"):
    id: RequestId
    room: str
    bans: list[BanEntry]
    #: ``cursor`` for the next page; ``null`` on the last page
    next: str | None = None


class ServerPing(_Msg, tag="ping"):
    """Heartbeat: answer with ``pong`` carrying the same ``nonce``."""

    nonce: int


class ServerBye(_Msg, tag="bye"):
    """The server is about to close this connection, and why."""

    code: str
    message: str


ServerMessage = (
    HelloOk
    | Ok
    | LoginOk
    | RoomReply
    | RoomList
    | Sent
    | Message
    | HistoryPage
    | MemberList
    | Synced
    | PongReply
    | Error
    | PresenceEvent
    | TypingEvent
    | MemberEvent
    | TopicEvent
    | ReadEvent
    | RoomAdded
    | ServerPing
    | ServerBye
    | RoomRemoved
    | RoleEvent
    | MutedEvent
    | UnmutedEvent
    | BanList
    | InvitationList
    | InvitationEvent
    | InvitationRemoved
)

CLIENT_TYPES: frozenset[str] = frozenset(
    str(t.__struct_config__.tag) for t in ClientMessage.__args__
)
SERVER_TYPES: frozenset[str] = frozenset(
    str(t.__struct_config__.tag) for t in ServerMessage.__args__
)
