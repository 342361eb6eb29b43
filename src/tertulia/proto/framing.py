"""Length-prefixed framing: a 4-byte big-endian length, then that many bytes of body.

Sans-I/O: :class:`FrameDecoder` is fed bytes as they arrive and hands back complete frame bodies.
The maximum size is checked from the header alone, before any of the body is buffered, so a peer
announcing a 4 GiB frame costs us four bytes of memory, not four gigabytes. The limit can be
raised after authentication (``max_size`` is a plain attribute) -- small before login, larger
after, as docs/protocol.md specifies.
"""

from __future__ import annotations

import struct

from tertulia.proto.errors import ErrorCode, RemoteProtocolError

__all__ = ["HEADER", "FrameDecoder", "encode_frame"]

HEADER = struct.Struct(">I")
_HEADER_SIZE = HEADER.size


def encode_frame(body: bytes) -> bytes:
    """Prefix ``body`` with its length. The caller enforces its own limits on what it sends."""
    return HEADER.pack(len(body)) + body


class FrameDecoder:
    """Reassembles frames from an arbitrarily split byte stream.

    Call :meth:`feed` with whatever bytes arrived, then :meth:`frames` (or iterate ``next_frame``)
    to take the complete bodies. A zero-length or oversized frame raises a fatal
    :class:`RemoteProtocolError`; after that the decoder refuses further input, because the
    stream position can no longer be trusted.
    """

    __slots__ = ("_buf", "_failed", "_need", "max_size")

    def __init__(self, max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be positive")
        self.max_size = max_size
        self._buf = bytearray()
        self._need = -1  # body length of the frame in progress, -1 while reading a header
        self._failed = False

    @property
    def buffered(self) -> int:
        """Bytes held but not yet returned as frames (for memory accounting)."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        """Append received bytes. Never raises; errors surface from :meth:`next_frame`."""
        if self._failed:
            return
        self._buf += data

    def next_frame(self) -> bytes | None:
        """Return the next complete frame body, or ``None`` if more bytes are needed."""
        if self._failed:
            return None
        buf = self._buf
        if self._need < 0:
            if len(buf) < _HEADER_SIZE:
                return None
            (length,) = HEADER.unpack_from(buf)
            if length == 0:
                self._fail()
                raise RemoteProtocolError(ErrorCode.BAD_FRAME, "zero-length frame", fatal=True)
            if length > self.max_size:
                self._fail()
                raise RemoteProtocolError(
                    ErrorCode.FRAME_TOO_LARGE,
                    f"frame of {length} bytes exceeds the limit of {self.max_size}",
                    fatal=True,
                    params={"size": length, "max": self.max_size},
                )
            del buf[:_HEADER_SIZE]
            self._need = length
        if len(buf) < self._need:
            return None
        body = bytes(buf[: self._need])
        del buf[: self._need]
        self._need = -1
        return body

    def frames(self) -> list[bytes]:
        """Take every complete frame currently buffered (raises like :meth:`next_frame`)."""
        out: list[bytes] = []
        while (frame := self.next_frame()) is not None:
            out.append(frame)
        return out

    def _fail(self) -> None:
        self._failed = True
        self._buf.clear()
