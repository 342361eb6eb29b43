"""Protocol errors and the stable wire error codes.

Two exception types, after h11: :class:`RemoteProtocolError` means the peer sent bytes we cannot
accept (answer with an ``error`` frame, and close if ``fatal``); :class:`LocalProtocolError`
means our own code misused the API (a bug, never caused by the network).

Error codes are part of the wire contract (``docs/protocol.md``): clients translate them, so a
code is never renamed or reused for another meaning. Messages are English and for logs only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = ["ErrorCode", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ErrorCode(StrEnum):
    """Stable error codes sent in ``error`` frames (see the table in docs/protocol.md)."""

    # framing / decoding (FATAL_CODES close the connection)
    FRAME_TOO_LARGE = "frame_too_large"
    BAD_FRAME = "bad_frame"
    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    # session state
    HELLO_REQUIRED = "hello_required"
    UNSUPPORTED_VERSION = "unsupported_version"
    NOT_AUTHENTICATED = "not_authenticated"
    ALREADY_AUTHENTICATED = "already_authenticated"
    # accounts
    AUTH_FAILED = "auth_failed"
    REGISTRATION_CLOSED = "registration_closed"
    NAME_TAKEN = "name_taken"
    INVALID_NAME = "invalid_name"
    WEAK_PASSWORD = "weak_password"
    # rooms and messages
    ROOM_NOT_FOUND = "room_not_found"
    ROOM_EXISTS = "room_exists"
    NOT_MEMBER = "not_member"
    FORBIDDEN = "forbidden"
    USER_NOT_FOUND = "user_not_found"
    TEXT_TOO_LONG = "text_too_long"
    INVALID_ARGUMENT = "invalid_argument"
    MSG_ID_CONFLICT = "msg_id_conflict"
    # moderation and security
    BANNED = "banned"
    MUTED = "muted"
    TOO_MANY_ROOMS = "too_many_rooms"
    TOO_MANY_INVITATIONS = "too_many_invitations"
    LOGIN_THROTTLED = "login_throttled"
    ACCOUNT_DISABLED = "account_disabled"
    SESSION_REVOKED = "session_revoked"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    # load and lifecycle
    RATE_LIMITED = "rate_limited"
    #: the server is hashing as many passwords as it takes: retry after ``retry_after``
    BUSY = "busy"
    SLOW_CONSUMER = "slow_consumer"
    #: the answer would be a frame over the 16 MiB the server may send (never sent instead)
    REPLY_TOO_LARGE = "reply_too_large"
    TIMEOUT = "timeout"
    SHUTTING_DOWN = "shutting_down"
    #: the server's disk is full: nothing was stored; retry after ``params.retry_after``
    STORAGE_FULL = "storage_full"
    INTERNAL = "internal"


#: Codes after which the sender of the error closes the connection.
FATAL_CODES = frozenset(
    {
        ErrorCode.FRAME_TOO_LARGE,
        ErrorCode.BAD_FRAME,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.SLOW_CONSUMER,
        ErrorCode.TIMEOUT,
        ErrorCode.SHUTTING_DOWN,
        ErrorCode.TOO_MANY_CONNECTIONS,
        ErrorCode.ACCOUNT_DISABLED,
        ErrorCode.SESSION_REVOKED,
    }
)


class ProtocolError(Exception):
    """Base class of protocol errors."""


class LocalProtocolError(ProtocolError):
    """Our side misused the protocol API: a bug in Tertulia, not the peer's fault."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow.

    ``code`` is the wire error code to report; ``fatal`` says whether the byte stream can no
    longer be trusted (the connection must be closed after reporting); ``request_id`` is the
    offending request's ``id`` when it could be recovered, so the error can be matched to it.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        fatal: bool = False,
        request_id: str | int | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal
        self.request_id = request_id
        self.params = params or {}

    def __repr__(self) -> str:
        return f"RemoteProtocolError({self.code.value!r}, {self.message!r}, fatal={self.fatal})"
