"""Sans-I/O core of the Tertulia wire protocol: framing, messages, errors, connection state.

No asyncio, sockets, ssl or databases here (see the layering rule in DEVELOPING.md).
"""

from tertulia.proto.codec import decode_client, decode_server, encode, encode_body
from tertulia.proto.connection import ClientConnection, Connection, Role, ServerConnection
from tertulia.proto.errors import (
    FATAL_CODES,
    ErrorCode,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
)
from tertulia.proto.framing import FrameDecoder, encode_frame
from tertulia.proto.messages import PROTOCOL_VERSION

__all__ = [
    "FATAL_CODES",
    "PROTOCOL_VERSION",
    "ClientConnection",
    "Connection",
    "ErrorCode",
    "FrameDecoder",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "ServerConnection",
    "decode_client",
    "decode_server",
    "encode",
    "encode_body",
    "encode_frame",
]
