"""Tests of tertulia.proto.framing: length-prefixed frames over an arbitrarily split stream."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tertulia.proto import ErrorCode, FrameDecoder, RemoteProtocolError, encode_frame

FAST = settings(max_examples=150, deadline=None)

bodies = st.lists(st.binary(min_size=1, max_size=300), max_size=12)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``data`` at the given offsets (duplicates and out-of-order offsets allowed)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    out: list[bytes] = []
    prev = 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


def decode_chunks(chunks: list[bytes], max_size: int = 1 << 20) -> list[bytes]:
    dec = FrameDecoder(max_size)
    frames: list[bytes] = []
    for chunk in chunks:
        dec.feed(chunk)
        frames.extend(dec.frames())
    assert dec.buffered == 0
    return frames


def test_encode_frame_is_big_endian_length_prefix() -> None:
    assert encode_frame(b'{"type":"ping","id":1}') == (
        bytes.fromhex("00000016") + b'{"type":"ping","id":1}'
    )
    assert encode_frame(b"x" * 0x01020304)[:4] == b"\x01\x02\x03\x04"


@FAST
@given(bodies, st.data())
def test_any_split_decodes_to_the_same_frames(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(b) for b in frames)
    cuts = data.draw(st.lists(st.integers(0, max(len(stream), 1)), max_size=30), label="cuts")
    assert decode_chunks(split_at(stream, cuts)) == frames


@FAST
@given(bodies)
def test_one_byte_chunks_decode_to_the_same_frames(frames: list[bytes]) -> None:
    stream = b"".join(encode_frame(b) for b in frames)
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert decode_chunks(chunks) == frames


@FAST
@given(bodies)
def test_whole_stream_at_once(frames: list[bytes]) -> None:
    stream = b"".join(encode_frame(b) for b in frames)
    assert decode_chunks([stream]) == frames


def test_incomplete_frame_waits_for_more() -> None:
    dec = FrameDecoder(100)
    frame = encode_frame(b"hello")
    dec.feed(frame[:3])
    assert dec.next_frame() is None
    dec.feed(frame[3:6])
    assert dec.next_frame() is None
    dec.feed(frame[6:])
    assert dec.next_frame() == b"hello"
    assert dec.next_frame() is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8), st.integers(1, 512))
def test_random_bytes_raise_only_remote_protocol_error(chunks: list[bytes], limit: int) -> None:
    dec = FrameDecoder(limit)
    failed = False
    for chunk in chunks:
        dec.feed(chunk)
        while True:
            try:
                frame = dec.next_frame()
            except RemoteProtocolError as exc:
                assert not failed, "a failed decoder must not raise again"
                assert exc.fatal
                assert exc.code in {ErrorCode.BAD_FRAME, ErrorCode.FRAME_TOO_LARGE}
                failed = True
                continue
            if frame is None:
                break
            assert not failed, "a failed decoder must not return frames"
            assert 1 <= len(frame) <= limit
    if failed:
        assert dec.buffered == 0


@pytest.mark.parametrize("with_body", [0, 1, 100_000])
def test_huge_header_rejected_without_buffering_the_body(with_body: int) -> None:
    dec = FrameDecoder(65536)
    dec.feed(struct.pack(">I", 2**32 - 1) + b"x" * with_body)
    with pytest.raises(RemoteProtocolError) as info:
        dec.next_frame()
    exc = info.value
    assert exc.code is ErrorCode.FRAME_TOO_LARGE
    assert exc.fatal
    assert exc.params == {"size": 2**32 - 1, "max": 65536}
    assert dec.buffered == 0
    # the rest of the announced body is never held
    dec.feed(b"y" * 100_000)
    assert dec.buffered == 0
    assert dec.next_frame() is None


def test_header_alone_is_enough_to_reject() -> None:
    dec = FrameDecoder(10)
    dec.feed(struct.pack(">I", 11))
    with pytest.raises(RemoteProtocolError) as info:
        dec.next_frame()
    assert info.value.code is ErrorCode.FRAME_TOO_LARGE
    assert info.value.params == {"size": 11, "max": 10}


def test_limit_is_inclusive() -> None:
    dec = FrameDecoder(10)
    dec.feed(encode_frame(b"0123456789"))
    assert dec.next_frame() == b"0123456789"


def test_zero_length_frame_is_fatal_bad_frame_and_later_input_ignored() -> None:
    dec = FrameDecoder(100)
    dec.feed(encode_frame(b"ok") + b"\x00\x00\x00\x00" + encode_frame(b"after"))
    assert dec.next_frame() == b"ok"
    with pytest.raises(RemoteProtocolError) as info:
        dec.next_frame()
    assert info.value.code is ErrorCode.BAD_FRAME
    assert info.value.fatal
    assert dec.next_frame() is None
    dec.feed(encode_frame(b"more"))
    assert dec.buffered == 0
    assert dec.next_frame() is None
    assert dec.frames() == []


def test_raising_max_size_takes_effect_for_the_next_header() -> None:
    dec = FrameDecoder(4)
    dec.feed(encode_frame(b"1234"))
    assert dec.frames() == [b"1234"]
    dec.max_size = 8
    dec.feed(encode_frame(b"12345678"))
    assert dec.frames() == [b"12345678"]


def test_frames_raises_after_returning_nothing_for_bad_header() -> None:
    dec = FrameDecoder(100)
    dec.feed(encode_frame(b"a") + struct.pack(">I", 101))
    with pytest.raises(RemoteProtocolError):
        dec.frames()


@pytest.mark.parametrize("bad", [0, -1])
def test_max_size_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError):
        FrameDecoder(bad)
