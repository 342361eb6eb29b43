"""Size and content checks before sending: message_refusal, unencodable, and the frame limit
that Connection.send_request enforces on the exact bytes (and the blame of a frame_too_large
the server reports anyway)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tertulia.client import Connection, RefusedLocally, ServerError
from tertulia.client.precheck import message_refusal, unencodable
from tertulia.proto import messages as m
from tertulia.proto.codec import encode_body

LIMITS = m.Limits(
    max_frame_pre_auth=4096, max_frame=17024, max_text=4000, max_history_page=200, max_name=32
)


def test_text_checks_use_the_announced_limits() -> None:
    assert message_refusal("hola", LIMITS) is None
    assert message_refusal("x" * 4000, LIMITS) is None
    err = message_refusal("x" * 4001, LIMITS)
    assert isinstance(err, RefusedLocally) and isinstance(err, ServerError)
    assert (err.code, err.params) == ("text_too_long", {"max": 4000, "length": 4001})
    blank = message_refusal(" \t ", LIMITS)
    assert blank is not None and (blank.code, blank.params) == (
        "invalid_argument",
        {"field": "text"},
    )
    # not connected yet: only what does not depend on the limits
    assert message_refusal("x" * 10**6, None) is None
    assert message_refusal("", None) is not None


def test_unencodable_names_the_unpaired_surrogate() -> None:
    assert unencodable("héllo \U0001f600") is None
    why = unencodable("ab\udcffc")
    assert why is not None and "U+DCFF" in why and "character 3" in why


class RecordingWriter:
    """Just enough of a StreamWriter: it keeps what was written."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass


def _connection(*, logged_in: bool) -> tuple[Connection, RecordingWriter]:
    writer = RecordingWriter()
    writer_any: Any = writer
    conn = Connection(asyncio.StreamReader(), writer_any, host="127.0.0.1", port=1)
    conn.hello_ok = m.HelloOk(id=1, version=1, server="t", limits=LIMITS, heartbeat_interval=15)
    if logged_in:
        conn._proto.authenticated()
    return conn, writer


def _send(text: str) -> m.Send:
    return m.Send(id=0, room="r", msg_id="a", text=text)


async def test_a_frame_over_the_limit_is_refused_and_nothing_is_written() -> None:
    conn, writer = _connection(logged_in=True)
    # 3000 control characters: within max_text, but each is 6 bytes of JSON (\u0001)
    text = "\x01" * 3000
    size = len(encode_body(m.Send(id=1, room="r", msg_id="a", text=text)))
    assert size > LIMITS.max_frame
    with pytest.raises(RefusedLocally) as ei:
        conn.send_request(_send(text))
    assert ei.value.code == "frame_too_large"
    assert ei.value.params == {"size": size, "max": 17024}
    assert writer.data == b""
    fut = conn.send_request(_send("x" * 4000))  # the largest plain text still goes
    assert len(writer.data) - 4 <= LIMITS.max_frame and not fut.done()


async def test_before_login_the_pre_auth_limit_applies() -> None:
    conn, writer = _connection(logged_in=False)
    with pytest.raises(RefusedLocally) as ei:
        conn.send_request(m.Login(id=0, user="a", password="p" * 5000))
    assert ei.value.params["max"] == 4096 and writer.data == b""


async def test_a_frame_too_large_from_the_server_fails_exactly_that_request() -> None:
    conn, _ = _connection(logged_in=True)
    small = conn.send_request(_send("hola"))
    big_msg = _send("y" * 3000)
    big = conn.send_request(big_msg)
    size = len(encode_body(m.Send(id=2, room="r", msg_id="a", text="y" * 3000)))
    # what a server with a smaller limit than it announced would answer: id null, the size
    conn._dispatch(
        m.Error(code="frame_too_large", message="too big", params={"size": size, "max": 100})
    )
    reply = big.result()
    assert isinstance(reply, m.Error) and reply.code == "frame_too_large" and reply.id == 2
    assert not small.done()  # the other request is left to the connection's end
    assert conn.bye is not None and conn.bye.code == "frame_too_large"
