"""Running the real ``tertulia`` command against a real server, and reading back what it stored.

``run`` starts ``python -m tertulia`` as a subprocess (arguments and stdin may be bytes, to
pass what a shell would: invalid UTF-8 included) and measures how long it took, so each test
can assert the exit code, the message, the time bound and -- with ``stored`` -- that every
valid line is in the room exactly once, in order.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tertulia.client import Client, Message, ServerError, TrustPolicy
from tertulia_testkit import PASSWORD, SCALE

__all__ = ["Result", "cli_env", "conn_args", "run", "stored"]


def cli_env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["TERTULIA_PASSWORD"] = PASSWORD
    e["TERTULIA_KNOWN_SERVERS"] = str(tmp_path / "known_servers")
    e["PYTHONUNBUFFERED"] = "1"
    return e


def conn_args(srv: Any, user: str) -> list[str]:
    return ["--server", f"{srv.host}:{srv.port}", "--fingerprint", srv.fingerprint, "--user", user]


@dataclass
class Result:
    rc: int
    out: str
    err: str
    elapsed: float


async def run(
    *args: str | bytes,
    env: dict[str, str],
    stdin: str | bytes = b"",
    timeout: float = 30.0,
    stderr: int | None = None,
) -> Result:
    """``tertulia ARGS`` with ``stdin``; killed (and the test failed) after ``timeout`` s."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tertulia",
        *args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout * SCALE)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(
            f"tertulia {args[0]!r} did not finish in {timeout * SCALE} s"
        ) from None
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), (err or b"").decode(), time.monotonic() - started)


async def stored(srv: Any, room: str, user: str = "alice") -> list[Message] | None:
    """Every message of ``room`` in seq order (``None`` if there is no such room)."""
    trust = TrustPolicy(fingerprint=srv.fingerprint)
    client = Client(srv.host, srv.port, user, PASSWORD, trust=trust)
    await client.start()
    try:
        try:
            await client.join(room, create=False)
        except ServerError as exc:
            if exc.code == "room_not_found":
                return None
            raise
        out: list[Message] = []
        while True:
            page = await client.history(room, after=out[-1].seq if out else 0, limit=200)
            out.extend(page.messages)
            if not page.more:
                return out
    finally:
        await client.close()
