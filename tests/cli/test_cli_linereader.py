"""LineReader: raw lines from a descriptor with sizes and digests; an endless line costs nothing."""

from __future__ import annotations

import hashlib
import os
import threading

from tertulia.cli.linereader import LineReader


async def _all(fd: int, max_bytes: int) -> list[tuple[bytes | None, int, bytes]]:
    reader = LineReader(fd, max_bytes, ahead=2)
    reader.start()
    out = []
    while (line := await reader.next()) is not None:
        out.append((line.raw, line.size, line.digest))
    assert await reader.next() is None
    return out


async def test_lines_sizes_and_digests_across_chunk_boundaries() -> None:
    r, w = os.pipe()
    long_line = b"z" * 200_000 + b"\n"  # spans several 64 KiB reads
    data = [b"one\n", b"\xff\xfe\n", b"\n", long_line, b"two\r\n", b"no newline"]

    def write() -> None:
        for chunk in data:
            os.write(w, chunk)
        os.close(w)

    t = threading.Thread(target=write)
    t.start()
    try:
        got = await _all(r, 1000)
    finally:
        t.join()
        os.close(r)
    assert [raw for raw, _, _ in got] == [b"one\n", b"\xff\xfe\n", b"\n", None, b"two\r\n",
                                           b"no newline"]  # fmt: skip
    assert [size for _, size, _ in got] == [len(x) for x in data]
    assert [digest for _, _, digest in got] == [hashlib.sha256(x).digest() for x in data]


async def test_empty_input() -> None:
    r, w = os.pipe()
    os.close(w)
    try:
        assert await _all(r, 10) == []
    finally:
        os.close(r)
