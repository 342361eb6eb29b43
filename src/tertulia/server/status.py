"""The operator status socket: a Unix socket in the data directory, answering JSON.

It lives beside the database (``DATA_DIR/admin.sock``, mode 0600 inside the 0700 data dir), so
only the account that runs the server can read it -- the same trust boundary as the database
file. One request per connection: a command line (``status``), answered by one JSON document.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

__all__ = ["SOCKET_NAME", "query_status", "start_status_socket"]

SOCKET_NAME = "admin.sock"
_MAX_REQUEST = 256


#: an operator action: takes the rest of the command line, answers a JSON object
Action = Callable[[str], Awaitable[dict[str, object]]]


async def start_status_socket(
    data_dir: Path,
    snapshot: Callable[[], dict[str, object]],
    actions: Mapping[str, Action] | None = None,
) -> asyncio.Server | None:
    """Serve ``snapshot()`` on the status socket; None where Unix sockets are unavailable.

    ``actions`` maps further command words (``disable``, ``close-room``...) to coroutines that
    act on the running server, so ``tertulia admin`` changes take effect at once.
    """
    path = data_dir / SOCKET_NAME
    if not hasattr(asyncio, "start_unix_server") or len(str(path)) > 100:
        return None
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left over by a server that was killed

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            command = line[:_MAX_REQUEST].decode("utf-8", "replace").strip()
            verb, _, rest = command.partition(" ")
            if command == "status":
                body = snapshot()
            elif actions and verb in actions:
                body = await actions[verb](rest.strip())
            else:
                body = {"error": f"unknown command {command!r}; try 'status'"}
            writer.write(json.dumps(body).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    old = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(handle, path=str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


async def query_status(data_dir: Path, command: str = "status") -> dict[str, object]:
    """Ask a running server for its status (used by ``tertulia admin sessions``)."""
    reader, writer = await asyncio.open_unix_connection(str(data_dir / SOCKET_NAME))
    try:
        writer.write(command.encode() + b"\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.readline(), 10.0)
    finally:
        writer.close()
    result: dict[str, object] = json.loads(data)
    return result
