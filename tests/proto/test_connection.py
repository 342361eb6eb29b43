"""Tests of tertulia.proto.connection: the sans-I/O state of each side of a connection."""

from __future__ import annotations

import json
import struct
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from proto_strategies import client_messages, server_messages

from tertulia.proto import (
    ClientConnection,
    Connection,
    ErrorCode,
    LocalProtocolError,
    RemoteProtocolError,
    Role,
    ServerConnection,
    encode,
    encode_frame,
)
from tertulia.proto import messages as m

PRE, POST = 4096, 65536


def server() -> ServerConnection:
    return ServerConnection(max_frame_pre_auth=PRE, max_frame=POST)


def client() -> ClientConnection:
    return ClientConnection(max_frame_pre_auth=PRE, max_frame=POST)


def feed(conn: Connection[Any], chunks: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        out.extend(conn.receive_data(chunk))
    return out


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def only_error(items: list[Any]) -> RemoteProtocolError:
    assert len(items) == 1, items
    assert isinstance(items[0], RemoteProtocolError), items
    return items[0]


# ----------------------------------------------------------------------------- splitting


@settings(max_examples=60, deadline=None)
@given(st.lists(client_messages, max_size=8), st.data())
def test_server_side_any_split_gives_the_same_messages(
    msgs: list[msgspec.Struct], data: st.DataObject
) -> None:
    stream = b"".join(encode(x) for x in msgs)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=40), label="cuts")
    conn = ServerConnection(max_frame_pre_auth=1 << 20, max_frame=1 << 20)
    assert feed(conn, split_at(stream, cuts)) == msgs
    assert conn.buffered == 0
    assert not conn.closed


@settings(max_examples=60, deadline=None)
@given(st.lists(server_messages, max_size=8), st.data())
def test_client_side_any_split_gives_the_same_messages(
    msgs: list[msgspec.Struct], data: st.DataObject
) -> None:
    stream = b"".join(encode(x) for x in msgs)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=40), label="cuts")
    conn = ClientConnection(max_frame_pre_auth=1 << 20, max_frame=1 << 20)
    assert feed(conn, split_at(stream, cuts)) == msgs


@settings(max_examples=30, deadline=None)
@given(st.lists(client_messages, min_size=1, max_size=5))
def test_one_byte_chunks(msgs: list[msgspec.Struct]) -> None:
    stream = b"".join(encode(x) for x in msgs)
    conn = ServerConnection(max_frame_pre_auth=1 << 20, max_frame=1 << 20)
    assert feed(conn, [stream[i : i + 1] for i in range(len(stream))]) == msgs


def test_errors_and_messages_keep_stream_order() -> None:
    conn = server()
    stream = (
        encode(m.Ping(id=1))
        + encode_frame(b"{nope")
        + encode_frame(b'{"type":"what","id":7}')
        + encode_frame(b'{"type":"join","id":8,"room":5}')
        + encode(m.Ping(id=2))
    )
    items = conn.receive_data(stream)
    assert items[0] == m.Ping(id=1)
    errors = [e for e in items[1:4] if isinstance(e, RemoteProtocolError)]
    assert [(e.code, e.request_id, e.fatal) for e in errors] == [
        (ErrorCode.BAD_JSON, None, False),
        (ErrorCode.UNKNOWN_TYPE, 7, False),
        (ErrorCode.BAD_MESSAGE, 8, False),
    ]
    assert items[4] == m.Ping(id=2)
    assert not conn.closed


# ----------------------------------------------------------------------------- robustness


def check_never_raises(conn: Connection[Any], chunks: list[bytes]) -> None:
    for chunk in chunks:
        was_closed = conn.closed
        items = conn.receive_data(chunk)  # must not raise
        if was_closed:
            assert items == []
        for i, item in enumerate(items):
            if isinstance(item, RemoteProtocolError):
                assert isinstance(item.code, ErrorCode)
                if item.fatal:
                    assert i == len(items) - 1, "nothing may follow a fatal error"
                    assert conn.closed
            else:
                assert isinstance(item, msgspec.Struct)


_json_fragments = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b":", b",", b'"type"', b'"id"', b'"ping"', b'"hello"',
     b'"nonce"', b'"\x80"', b"1", b"null", b"\\", b"\\u", b"\xff", b"\xc3", b" "]
)  # fmt: skip
# frame bodies that get past framing, so the decoder sees them
_framed_junk = (
    st.lists(_json_fragments | st.binary(max_size=3), min_size=1, max_size=30)
    .map(b"".join)
    .filter(bool)
    .map(encode_frame)
)
# random bytes inside an otherwise valid message (e.g. invalid UTF-8 in a string)
_framed_holes = st.builds(
    lambda pre, hole, post: encode_frame(pre + hole + post),
    st.sampled_from([b'{"type":"ping","id":"', b'{"type":"typing","room":"', b'{"', b'"']),
    st.binary(min_size=1, max_size=8),
    st.sampled_from([b'"}', b'":1}', b'"', b""]),
)
_streams = st.lists(st.binary(max_size=40) | _framed_junk | _framed_holes, max_size=8)


@settings(max_examples=300, deadline=None)
@given(_streams, st.booleans())
def test_random_bytes_to_server_never_raise(chunks: list[bytes], auth: bool) -> None:
    conn = server()
    if auth:
        conn.authenticated()
    check_never_raises(conn, chunks)


@settings(max_examples=300, deadline=None)
@given(_streams, st.booleans())
def test_random_bytes_to_client_never_raise(chunks: list[bytes], auth: bool) -> None:
    conn = client()
    if auth:
        conn.authenticated()
    check_never_raises(conn, chunks)


@pytest.mark.parametrize("make", [server, client], ids=["server", "client"])
@pytest.mark.parametrize(
    "body",
    [b'{"type":"ping","id":"\xff"}', b"[" * 2000 + b"]" * 2000],
    ids=["invalid-utf8-in-string", "deep-nesting"],
)
def test_hostile_bodies_come_back_as_errors(make: Any, body: bytes) -> None:
    conn = make()
    exc = only_error(conn.receive_data(encode_frame(body)))
    assert not exc.fatal
    assert exc.code in {ErrorCode.BAD_JSON, ErrorCode.BAD_MESSAGE}
    assert not conn.closed


# ----------------------------------------------------------------------------- fatal framing


def test_huge_header_is_frame_too_large_without_buffering() -> None:
    conn = server()
    exc = only_error(conn.receive_data(struct.pack(">I", 2**32 - 1) + b"x" * 10_000))
    assert exc.code is ErrorCode.FRAME_TOO_LARGE
    assert exc.fatal
    assert exc.params == {"size": 2**32 - 1, "max": PRE}
    assert conn.closed
    assert conn.buffered == 0
    assert conn.receive_data(b"x" * 100_000) == []
    assert conn.buffered == 0


def test_zero_length_frame_is_fatal_and_later_input_ignored() -> None:
    conn = server()
    items = conn.receive_data(encode(m.Ping(id=1)) + b"\0\0\0\0" + encode(m.Ping(id=2)))
    assert items[0] == m.Ping(id=1)
    exc = only_error(items[1:])
    assert exc.code is ErrorCode.BAD_FRAME
    assert exc.fatal
    assert conn.closed
    assert conn.receive_data(encode(m.Ping(id=3))) == []
    assert "closed" in repr(conn)
    with pytest.raises(LocalProtocolError):
        conn.send(m.Ok(id=1))


def test_limit_rises_after_authenticated() -> None:
    big = m.Send(id=1, room="r", msg_id="x", text="a" * (PRE + 100))
    frame = encode(big)
    assert PRE < len(frame) - 4 <= POST

    conn = server()
    exc = only_error(conn.receive_data(frame))
    assert exc.code is ErrorCode.FRAME_TOO_LARGE
    assert exc.params["max"] == PRE

    conn = server()
    assert "pre-auth" in repr(conn)
    assert conn.receive_data(encode(m.Login(id=1, user="ana", password="pw"))) != []
    conn.authenticated()
    assert conn.is_authenticated
    assert "auth" in repr(conn)
    assert conn.receive_data(frame) == [big]

    over = struct.pack(">I", POST + 1)
    exc = only_error(conn.receive_data(over))
    assert exc.code is ErrorCode.FRAME_TOO_LARGE
    assert exc.params == {"size": POST + 1, "max": POST}


def test_limit_is_checked_at_the_boundary() -> None:
    conn = ServerConnection(max_frame_pre_auth=30, max_frame=60)
    ok = encode_frame(b'{"type":"ping","id":"' + b"x" * 7 + b'"}')
    assert len(ok) - 4 == 30
    assert conn.receive_data(ok) == [m.Ping(id="x" * 7)]
    exc = only_error(conn.receive_data(encode_frame(b" " + ok[4:])))
    assert exc.code is ErrorCode.FRAME_TOO_LARGE


def test_limits_must_be_ordered() -> None:
    with pytest.raises(LocalProtocolError):
        ServerConnection(max_frame_pre_auth=100, max_frame=99)


# ----------------------------------------------------------------------------- send / roles


def test_send_returns_frame_bytes() -> None:
    conn = client()
    frame = conn.send(m.Hello(id=1, versions=[1]))
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame) - 4
    assert json.loads(frame[4:]) == {"type": "hello", "id": 1, "versions": [1]}


def test_two_ends_talk() -> None:
    srv, cli = server(), client()
    assert srv.role is Role.SERVER
    assert cli.role is Role.CLIENT
    hello = m.Hello(id=1, versions=[1], client="test")
    assert srv.receive_data(cli.send(hello)) == [hello]
    reply = m.HelloOk(
        id=1,
        version=1,
        server="tertulia/0.1.0",
        limits=m.Limits(
            max_frame_pre_auth=PRE, max_frame=POST, max_text=4000, max_history_page=200, max_name=32
        ),
        heartbeat_interval=20,
    )
    assert cli.receive_data(srv.send(reply)) == [reply]
    # a server-only type arriving at the server is unknown, and vice versa
    exc = only_error(srv.receive_data(srv.send(m.Ok(id=5))))
    assert (exc.code, exc.request_id) == (ErrorCode.UNKNOWN_TYPE, 5)
    exc = only_error(cli.receive_data(cli.send(m.Join(id=6, room="r"))))
    assert (exc.code, exc.request_id) == (ErrorCode.UNKNOWN_TYPE, 6)
