"""The operator socket (``DATA_DIR/admin.sock``) answers every bad request in one line.

Issue 12, item 12: a 100 kB line made the server log an unhandled ``ValueError`` (the stream
reader's 64 KiB limit) and answer nothing. Now a line is at most ``MAX_REQUEST`` bytes, a
client that sends nothing is answered after ``REQUEST_TIMEOUT``, and neither leaves a
traceback in the log; the socket keeps serving afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from tertulia.server.status import SOCKET_NAME
from tertulia_testkit import SCALE


async def _ask(path: str, data: bytes, *, eof: bool = True) -> dict[str, Any]:
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        writer.write(data)
        await writer.drain()
        if eof:
            writer.write_eof()
        line = await asyncio.wait_for(reader.readline(), 20 * SCALE)
    finally:
        writer.close()
    answer: dict[str, Any] = json.loads(line)
    return answer


async def test_bad_operator_requests_get_one_line_answers(
    server_proc_factory: Callable[..., Any],
) -> None:
    srv = server_proc_factory("srv")
    path = str(srv.data_dir / SOCKET_NAME)
    long = await _ask(path, b"status " + b"x" * 100_000 + b"\n")
    assert long == {"error": "request line longer than 4096 bytes"}
    assert "not UTF-8" in (await _ask(path, b"disable \xff\xfe\n"))["error"]
    unknown = await _ask(path, b"rm -rf /\n")
    assert unknown["error"].startswith("unknown command 'rm'")
    silent = await _ask(path, b"", eof=False)  # connects, says nothing: answered at the deadline
    assert silent["error"].startswith("no request line within")
    bad_hash = await _ask(path, b"passwd bob not-a-hash\n")
    assert bad_hash == {"ok": False, "error": "usage: passwd NAME ARGON2-HASH"}
    assert "connections_total" in await _ask(path, b"status\n")  # still serving
    log = srv.stderr_path.read_text()
    assert "Traceback" not in log and "ValueError" not in log, log[-2000:]
