"""Sans-I/O protocol state for one side of a connection.

Theory of operation: the I/O layer passes every chunk it reads to :meth:`Connection.receive_data`,
which returns the events decoded from it -- typed messages, or :class:`RemoteProtocolError`
instances for frames that could not be understood. A non-fatal error concerns one frame only;
a fatal one (oversized or zero-length frame) ends the stream, and every later call returns
nothing. Outgoing messages become bytes through :meth:`Connection.send`; writing them is the
caller's job. Nothing here touches sockets, tasks or clocks.

The frame limit starts at ``max_frame_pre_auth`` and rises to ``max_frame`` once the caller
reports a successful login with :meth:`Connection.authenticated`.
"""

from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar

import msgspec

from tertulia.proto.codec import decode_client, decode_server, encode
from tertulia.proto.errors import LocalProtocolError, RemoteProtocolError
from tertulia.proto.framing import FrameDecoder
from tertulia.proto.messages import ClientMessage, ServerMessage

__all__ = ["ClientConnection", "Connection", "Role", "ServerConnection"]

M = TypeVar("M", ClientMessage, ServerMessage)


class Role(Enum):
    CLIENT = "client"
    SERVER = "server"


class Connection(Generic[M]):
    """Frames and messages of one connection, as seen from ``role``."""

    def __init__(self, role: Role, *, max_frame_pre_auth: int, max_frame: int) -> None:
        if max_frame < max_frame_pre_auth:
            raise LocalProtocolError("max_frame must be >= max_frame_pre_auth")
        self.role = role
        self.max_frame = max_frame
        self._decoder = FrameDecoder(max_frame_pre_auth)
        self._decode = decode_client if role is Role.SERVER else decode_server
        self.closed = False
        self.is_authenticated = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("auth" if self.is_authenticated else "pre-auth")
        return f"<Connection {self.role.value} {state} buffered={self._decoder.buffered}>"

    @property
    def buffered(self) -> int:
        return self._decoder.buffered

    def authenticated(self) -> None:
        """Raise the frame limit to the post-login maximum."""
        self.is_authenticated = True
        self._decoder.max_size = self.max_frame

    def receive_data(self, data: bytes) -> list[M | RemoteProtocolError]:
        """Feed received bytes; return decoded messages and per-frame errors, in stream order."""
        if self.closed:
            return []
        self._decoder.feed(data)
        out: list[M | RemoteProtocolError] = []
        while True:
            try:
                body = self._decoder.next_frame()
            except RemoteProtocolError as exc:
                self.closed = True
                out.append(exc)
                return out
            if body is None:
                return out
            try:
                out.append(self._decode(body))  # type: ignore[arg-type]
            except RemoteProtocolError as exc:
                out.append(exc)

    def send(self, msg: msgspec.Struct) -> bytes:
        """Return the frame bytes for ``msg``; the caller writes them."""
        if self.closed:
            raise LocalProtocolError("send() on a closed connection")
        return encode(msg)


class ServerConnection(Connection[ClientMessage]):
    """Server side: decodes client messages."""

    def __init__(self, *, max_frame_pre_auth: int, max_frame: int) -> None:
        super().__init__(Role.SERVER, max_frame_pre_auth=max_frame_pre_auth, max_frame=max_frame)


class ClientConnection(Connection[ServerMessage]):
    """Client side: decodes server messages."""

    def __init__(self, *, max_frame_pre_auth: int, max_frame: int) -> None:
        super().__init__(Role.CLIENT, max_frame_pre_auth=max_frame_pre_auth, max_frame=max_frame)
