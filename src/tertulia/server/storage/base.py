"""The storage interface the server's domain code depends on.

Only the wiring module chooses an implementation (SQLite by default, PostgreSQL later). All
methods are coroutines; an implementation keeps blocking work off the event loop.

Contract that every implementation must honour (tests/server/test_storage_sqlite.py checks it):

* ``append`` returns only after the message is durably committed. Messages appended while a
  commit is in flight go into the next transaction together (group commit).
* ``seq`` is per room, starts at 1, increases by exactly one per stored message: no gaps, even
  across a crash at any moment (the counter and the message commit in one transaction).
* ``(sender, msg_id)`` is unique: appending it again stores nothing and returns the original
  message with ``duplicate=True`` -- whatever room or text the resend names.
* Appending also advances the sender's read marker in that room to the new ``seq``.
* User names and (non-DM) room names are unique up to their confusable skeleton
  (``tertulia.server.names.skeleton``): creating one whose skeleton is taken raises
  :class:`NameTakenError` / :class:`RoomExistsError` exactly as for an equal name.
* A closed room keeps its name but has no members; ``get_room`` returns it with
  ``closed=True`` and the room lists leave it out.
* An invitation is pending until the invitee accepts it (it becomes a membership in the same
  transaction) or declines it; pending invitations are not memberships (``rooms_of`` and
  ``members`` leave them out), at most ``max_pending`` per invitee, and they disappear when
  the invitee becomes a member by other means, is banned from the room, or the room closes.
* Resume tokens are stored by their hash only; ``set_password`` and disabling an account
  revoke every token of the user in the same transaction.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BanOutcome",
    "BanRecord",
    "ClosedRoom",
    "InvitationRecord",
    "InviteOutcome",
    "NameTakenError",
    "NewMessage",
    "Role",
    "RoomExistsError",
    "RoomPolicy",
    "RoomRecord",
    "Storage",
    "StorageError",
    "StorageFullError",
    "StoredMessage",
    "UnknownRoomError",
    "UserRecord",
]

Visibility = Literal["public", "private", "dm"]
Role = Literal["owner", "moderator", "member"]
#: ``add_invitation``: made now, already pending (nothing changed), or the invitee is full
InviteOutcome = Literal["added", "pending", "full"]


class StorageError(Exception):
    """Base class of storage errors the domain code is expected to handle."""


class StorageFullError(StorageError):
    """The store's disk (or the database's quota) is full: nothing of the write was kept.

    Writes fail while it lasts and succeed again once space is freed; reads keep working. The
    server answers ``storage_full`` (with ``retry_after``), so clients keep what they sent and
    try again, instead of the generic ``internal`` that says nothing about what to do.
    """


class NameTakenError(StorageError):
    """A user with that name already exists."""


class RoomExistsError(StorageError):
    """A room with that name already exists."""


class UnknownRoomError(StorageError):
    """The room named does not exist."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    password_hash: str
    is_admin: bool
    created_at: int  # Unix ms
    disabled: bool = False
    #: credential generation: bumped with every password change and every disable, so a login
    #: or a resume token from an older generation is refused (docs/security.md)
    cred_gen: int = 0


@dataclass(frozen=True, slots=True)
class RoomRecord:
    name: str
    visibility: Visibility
    topic: str
    created_by: str
    created_at: int  # Unix ms
    last_seq: int
    closed: bool = False


@dataclass(frozen=True, slots=True)
class BanRecord:
    room: str
    user: str
    banned_by: str
    reason: str
    created_at: int  # Unix ms


@dataclass(frozen=True, slots=True)
class BanOutcome:
    """What a ``ban`` removed, in its transaction: the server tells the user of each."""

    was_member: bool
    #: a pending invitation into the room was dropped (the invitee is told: reason "banned")
    had_invitation: bool


@dataclass(frozen=True, slots=True)
class ClosedRoom:
    """Who lost what when a room closed, read in the closing transaction (no race with an
    ``invite`` or ``accept_invitation`` running at the same time)."""

    members: list[str]
    #: users whose pending invitation into the room was dropped (told: reason "closed")
    invitees: list[str]


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    room: str
    user: str
    invited_by: str
    created_at: int  # Unix ms
    visibility: Visibility
    topic: str


@dataclass(frozen=True, slots=True)
class RoomPolicy:
    """Who may do what in a room: roles above ``member``, and mutes (Unix ms or None)."""

    roles: dict[str, Role]
    mutes: dict[str, int | None]


@dataclass(frozen=True, slots=True)
class NewMessage:
    room: str
    sender: str
    msg_id: str
    text: str
    kind: str  # "text" | "me"
    ts: int  # Unix ms, assigned by the server before appending


@dataclass(frozen=True, slots=True)
class StoredMessage:
    room: str
    seq: int
    msg_id: str
    sender: str
    ts: int
    text: str
    kind: str
    duplicate: bool = False


class Storage(abc.ABC):
    """Durable state: users, rooms, memberships, messages, read markers."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, apply pending migrations, start background writers."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish commits in flight (their ``append`` callers get their results), then close."""

    # -- users -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_user(
        self, name: str, password_hash: str, *, is_admin: bool = False
    ) -> UserRecord:
        """Create an account; raise :class:`NameTakenError` if ``name`` exists."""

    @abc.abstractmethod
    async def get_user(self, name: str) -> UserRecord | None: ...

    @abc.abstractmethod
    async def list_users(self) -> list[UserRecord]: ...

    @abc.abstractmethod
    async def set_password(
        self, name: str, password_hash: str, *, if_gen: int | None = None
    ) -> int | None:
        """Store a new password, bump the credential generation and drop every token, in one
        transaction; return the new generation. None, changing nothing, if the user does not
        exist -- or, with ``if_gen``, if the account is disabled or its generation is no longer
        ``if_gen`` (a user changing their own password from a connection being revoked)."""

    @abc.abstractmethod
    async def count_users(self) -> int: ...

    @abc.abstractmethod
    async def set_disabled(self, name: str, disabled: bool) -> int | None:
        """Disable or re-enable an account; None if unknown, else its credential generation
        afterwards (disabling bumps it and drops every token, in the same transaction)."""

    # -- resume tokens -----------------------------------------------------------------------
    @abc.abstractmethod
    async def add_token(
        self, user: str, token_hash: bytes, expires_at: int, *, keep: int, cred_gen: int
    ) -> None:
        """Store a token hash issued under credential generation ``cred_gen``; keep only the
        ``keep`` newest tokens of ``user``."""

    @abc.abstractmethod
    async def token_user(self, token_hash: bytes, now: int) -> tuple[str, int] | None:
        """The user of an unexpired token and the credential generation it was issued under,
        or None. A token of an older generation than its account's, or of a disabled account,
        is None too: it died with the password change or the disable."""

    @abc.abstractmethod
    async def revoke_token(self, token_hash: bytes) -> bool: ...

    @abc.abstractmethod
    async def revoke_tokens(self, user: str) -> int:
        """Revoke every token of ``user``; return how many there were."""

    # -- rooms -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create_room(
        self,
        name: str,
        visibility: Visibility,
        created_by: str,
        *,
        topic: str = "",
        members: Iterable[str] = (),
    ) -> RoomRecord:
        """Create a room with its initial members atomically; :class:`RoomExistsError` if taken."""

    @abc.abstractmethod
    async def get_room(self, name: str) -> RoomRecord | None: ...

    @abc.abstractmethod
    async def list_public_rooms(
        self, *, after: str | None = None, limit: int | None = None
    ) -> list[RoomRecord]:
        """Open public rooms by name: those after ``after``, at most ``limit`` (a page)."""

    @abc.abstractmethod
    async def rooms_of(self, user: str) -> list[RoomRecord]:
        """Rooms ``user`` is a member of."""

    @abc.abstractmethod
    async def members(self, room: str) -> list[str]: ...

    @abc.abstractmethod
    async def add_member(self, room: str, user: str, role: Role = "member") -> bool:
        """Return True if newly added, False if already a member. :class:`UnknownRoomError`."""

    @abc.abstractmethod
    async def remove_member(self, room: str, user: str) -> bool:
        """Return True if removed, False if not a member."""

    @abc.abstractmethod
    async def set_topic(self, room: str, topic: str) -> None: ...

    @abc.abstractmethod
    async def close_room(self, room: str) -> ClosedRoom:
        """Close a room: remove every member and pending invitation (both returned, sorted)
        and refuse it from now on."""

    # -- invitations -------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_invitation(
        self, room: str, user: str, invited_by: str, *, max_pending: int
    ) -> InviteOutcome:
        """Make ``user``'s invitation into ``room`` pending, unless ``user`` already holds
        ``max_pending`` of them (``"full"``). :class:`UnknownRoomError`."""

    @abc.abstractmethod
    async def invitations_of(self, user: str) -> list[InvitationRecord]:
        """``user``'s pending invitations into rooms that are not closed, oldest first."""

    @abc.abstractmethod
    async def accept_invitation(self, room: str, user: str) -> bool:
        """Turn the pending invitation into a membership, atomically; False if none."""

    @abc.abstractmethod
    async def decline_invitation(self, room: str, user: str) -> bool:
        """Drop the pending invitation; False if there was none."""

    # -- moderation --------------------------------------------------------------------------
    @abc.abstractmethod
    async def room_policy(self, room: str) -> RoomPolicy: ...

    @abc.abstractmethod
    async def set_role(self, room: str, user: str, role: Role) -> bool:
        """Change a member's role; False if ``user`` is not a member."""

    @abc.abstractmethod
    async def ban(self, room: str, user: str, banned_by: str, reason: str = "") -> BanOutcome:
        """Ban ``user`` and remove their membership and pending invitation at once, saying
        which of the two there was."""

    @abc.abstractmethod
    async def unban(self, room: str, user: str) -> bool: ...

    @abc.abstractmethod
    async def is_banned(self, room: str, user: str) -> bool: ...

    @abc.abstractmethod
    async def bans(self, room: str) -> list[BanRecord]: ...

    @abc.abstractmethod
    async def mute(self, room: str, user: str, muted_by: str, until: int | None) -> None:
        """Mute ``user`` in ``room`` until ``until`` (Unix ms), or until lifted (None)."""

    @abc.abstractmethod
    async def unmute(self, room: str, user: str) -> bool: ...

    # -- messages ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def append(self, msg: NewMessage) -> StoredMessage:
        """Store durably (group commit) and return it with its ``seq``; idempotent by msg_id."""

    def append_future(self, msg: NewMessage) -> asyncio.Future[StoredMessage]:
        """Like :meth:`append`, as a future: the message is queued before this returns.

        The hub uses it to ack and fan out from a callback instead of a task per message.
        Implementations with their own queue override it to hand back their own future.
        """
        return asyncio.ensure_future(self.append(msg))

    @abc.abstractmethod
    async def history(
        self, room: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> list[StoredMessage]:
        """Up to ``limit`` messages in ascending ``seq``.

        ``after``: the first ``limit`` messages with seq > after. ``before``: the last ``limit``
        messages with seq < before. Neither: the latest ``limit``. Both: seq strictly between,
        the first ``limit`` of them.
        """

    # -- read markers ------------------------------------------------------------------------
    @abc.abstractmethod
    async def set_read_marker(self, user: str, room: str, seq: int) -> int:
        """Move the marker forward only; return the stored value (max of old and ``seq``)."""

    @abc.abstractmethod
    async def read_markers(self, user: str) -> dict[str, int]: ...
