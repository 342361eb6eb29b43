"""Encoding and decoding of frame bodies to typed messages.

Decoding is strict about types and lenient about extra fields. When a body cannot be decoded,
the error carries the request ``id`` if one can still be read from it, so the peer learns which
of its requests failed; the connection stays usable (the frame boundary is intact).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from tertulia.proto.errors import ErrorCode, RemoteProtocolError
from tertulia.proto.framing import encode_frame
from tertulia.proto.messages import (
    CLIENT_TYPES,
    SERVER_TYPES,
    ClientMessage,
    ServerMessage,
)

__all__ = ["decode_client", "decode_server", "encode", "encode_body"]

_encoder = msgspec.json.Encoder()
_client_decoder = msgspec.json.Decoder(ClientMessage)
_server_decoder = msgspec.json.Decoder(ServerMessage)
_loose = msgspec.json.Decoder()
#: what msgspec may raise on hostile input: invalid UTF-8 inside a string surfaces as
#: UnicodeDecodeError, pathological nesting as RecursionError
_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
#: msgspec's wording for an integer outside its ``Meta(ge=..., le=...)`` range, and where
_OUT_OF_RANGE = re.compile(r"Expected `int` ([<>])= (-?\d+) - at `\$\.(\w+)")


def encode_body(msg: msgspec.Struct) -> bytes:
    """Serialize one message to its JSON body (no frame header)."""
    return _encoder.encode(msg)


def encode(msg: msgspec.Struct) -> bytes:
    """Serialize one message to a complete frame, ready to write to the stream.

    Fan-out calls this once per event and writes the same bytes to every recipient.
    """
    return encode_frame(_encoder.encode(msg))


def decode_client(body: bytes) -> ClientMessage:
    """Decode a client->server frame body, raising a non-fatal RemoteProtocolError if bad."""
    try:
        msg: ClientMessage = _client_decoder.decode(body)
        return msg
    except _DECODE_ERRORS as exc:
        raise _explain(body, exc, CLIENT_TYPES) from None


def decode_server(body: bytes) -> ServerMessage:
    """Decode a server->client frame body, raising a non-fatal RemoteProtocolError if bad."""
    try:
        msg: ServerMessage = _server_decoder.decode(body)
        return msg
    except _DECODE_ERRORS as exc:
        raise _explain(body, exc, SERVER_TYPES) from None


def _explain(body: bytes, exc: Exception, known: frozenset[str]) -> RemoteProtocolError:
    """Turn a decode failure into the most specific wire error, recovering ``id`` if possible."""
    if isinstance(exc, RecursionError):
        return RemoteProtocolError(ErrorCode.BAD_JSON, "JSON nesting is too deep")
    try:
        loose: Any = _loose.decode(body)
    except _DECODE_ERRORS:
        return RemoteProtocolError(ErrorCode.BAD_JSON, "frame body is not valid UTF-8 JSON")
    if not isinstance(loose, dict):
        return RemoteProtocolError(ErrorCode.BAD_MESSAGE, "frame body must be a JSON object")
    rid = loose.get("id")
    if not _valid_id(rid):
        rid = None  # only a well-formed id is echoed back
    mtype = loose.get("type")
    if not isinstance(mtype, str):
        return RemoteProtocolError(
            ErrorCode.BAD_MESSAGE, "message has no string 'type' field", request_id=rid
        )
    if mtype not in known:
        return RemoteProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {mtype[:64]!r}",
            request_id=rid,
            params={"type": mtype[:64]},
        )
    if isinstance(exc, msgspec.ValidationError) and (hit := _OUT_OF_RANGE.match(str(exc))):
        # a well-typed integer outside its documented range (docs/protocol.md, section 3):
        # refused here, before it can reach a comparison, a timer or a 64-bit storage column
        bound = "min" if hit.group(1) == ">" else "max"
        return RemoteProtocolError(
            ErrorCode.INVALID_ARGUMENT,
            f"{hit.group(3)} out of range in {mtype!r}: {exc}"[:300],
            request_id=rid,
            params={"type": mtype, "field": hit.group(3), bound: int(hit.group(2))},
        )
    return RemoteProtocolError(
        ErrorCode.BAD_MESSAGE,
        f"invalid {mtype!r} message: {exc}"[:300],
        request_id=rid,
        params={"type": mtype},
    )


def _valid_id(rid: object) -> bool:
    if isinstance(rid, bool):
        return False
    if isinstance(rid, int):
        return abs(rid) <= 2**53 - 1
    return isinstance(rid, str) and 1 <= len(rid) <= 64
