"""The operator status socket: a Unix socket in the data directory, answering JSON.

It lives beside the database (``DATA_DIR/admin.sock``, mode 0600 inside the 0700 data dir), so
only the account that runs the server can read it -- the same trust boundary as the database
file. One request per connection: a command line (``status``), answered by one JSON document.

Even so it is bounded like the client port: a request line of at most ``MAX_REQUEST`` bytes
(the reader's buffer never holds more), ``REQUEST_TIMEOUT`` seconds to send it, at most
``MAX_CLIENTS`` served at once, and every failure -- a line too long, not UTF-8, an unknown
command, an action that fails or hangs -- is answered with ``{"error": ...}`` in one line, never
a traceback in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

__all__ = ["SOCKET_NAME", "query_status", "start_status_socket"]

SOCKET_NAME = "admin.sock"
#: the longest request line (a ``passwd`` line carries an argon2 hash: ~100 bytes + a name)
MAX_REQUEST = 4096
#: seconds a client has to send its line, and an action has to answer
REQUEST_TIMEOUT = 5.0
ACTION_TIMEOUT = 30.0
#: operator connections served at once (more wait for the accept backlog)
MAX_CLIENTS = 8

log = logging.getLogger("tertulia.server.status")


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

    busy = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal busy
        busy += 1
        try:
            if busy > MAX_CLIENTS:
                body: dict[str, object] = {"error": "too many operator connections at once"}
            else:
                body = await _answer(reader, snapshot, actions or {})
            writer.write(json.dumps(body).encode() + b"\n")
            await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT)
        except (TimeoutError, ConnectionError, OSError):
            pass  # the operator's client went away: nothing to tell anyone
        finally:
            busy -= 1
            writer.close()

    old = os.umask(0o177)
    try:
        # limit: the reader's buffer; a longer line is refused by _answer, never buffered
        server = await asyncio.start_unix_server(handle, path=str(path), limit=MAX_REQUEST)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


async def _answer(
    reader: asyncio.StreamReader,
    snapshot: Callable[[], dict[str, object]],
    actions: Mapping[str, Action],
) -> dict[str, object]:
    """Read one request line and answer it; every failure is an ``error`` answer, in one line."""
    try:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), REQUEST_TIMEOUT)
    except TimeoutError:
        return {"error": f"no request line within {REQUEST_TIMEOUT:g} s"}
    except asyncio.LimitOverrunError:
        return {"error": f"request line longer than {MAX_REQUEST} bytes"}
    except asyncio.IncompleteReadError as exc:
        if len(exc.partial) > MAX_REQUEST:  # pragma: no cover - the limit stops it first
            return {"error": f"request line longer than {MAX_REQUEST} bytes"}
        line = exc.partial  # no newline before EOF: take what came
    try:
        command = line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return {"error": "the request line is not UTF-8"}
    verb, _, rest = command.partition(" ")
    if command == "status":
        return snapshot()
    if verb not in actions:
        known = ", ".join(["status", *actions])
        return {"error": f"unknown command {verb[:40]!r}; known: {known}"}
    try:
        return await asyncio.wait_for(actions[verb](rest.strip()), ACTION_TIMEOUT)
    except TimeoutError:
        log.warning("operator command %r timed out after %g s", verb, ACTION_TIMEOUT)
        return {"error": f"{verb} did not finish within {ACTION_TIMEOUT:g} s"}
    except Exception as exc:  # an operator action failed: one line, not a traceback
        log.warning("operator command %r failed: %s", verb, exc)
        return {"error": f"{verb} failed: {exc}"}


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
