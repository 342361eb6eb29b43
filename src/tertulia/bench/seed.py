"""Prepare a Tertulia database before the server starts: users, rooms, members, history.

Registering ten thousand accounts over the wire would measure argon2, not the server, so the
benchmark writes them straight into storage with one precomputed password hash (each account
still has a real argon2id hash that login verifies). Rooms and their history are seeded the
same way, through the storage interface, so the schema is whatever the server uses.

It runs as a separate process (``python seed.py SPEC``) with the server's own source tree on
``PYTHONPATH``: the database must be written by the same code that will open it, which may be
another checkout when comparing versions (``--server-src``). So this file imports nothing from
``tertulia.bench``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["HISTORY_SENDER", "Seed", "seed_database"]

#: sender id carried by seeded history payloads (never a real client id)
HISTORY_SENDER = 999_999_999


class Seed:
    """What to create: ``users`` accounts ``u0..``, and rooms with members and history."""

    def __init__(self, users: int, password: str) -> None:
        self.users = users
        self.password = password
        #: room -> (member ids, messages of history)
        self.rooms: dict[str, tuple[list[int], int]] = {}

    def room(self, name: str, members: Iterable[int], history: int = 0) -> Seed:
        self.rooms[name] = (list(members), history)
        return self

    def to_json(self) -> dict[str, Any]:
        return {"users": self.users, "password": self.password, "rooms": self.rooms}


def _payload(i: int, size: int) -> str:
    head = f"{HISTORY_SENDER}:{i}:0:"  # the format of tertulia.bench.stats.format_payload
    return head + "x" * max(0, size - len(head))


async def _seed(path: Path, spec: dict[str, Any]) -> None:
    from tertulia.server.config import PasswordConfig
    from tertulia.server.passwords import Passwords
    from tertulia.server.storage.base import NewMessage
    from tertulia.server.storage.sqlite import SqliteStorage

    storage = SqliteStorage(path, synchronous="NORMAL")
    await storage.open()
    try:
        pw_hash = Passwords(PasswordConfig(**spec["passwords"])).hash_sync(spec["password"])
        users = int(spec["users"])
        for start in range(0, users, 2000):
            stop = min(users, start + 2000)
            await asyncio.gather(
                *(storage.create_user(f"u{i}", pw_hash) for i in range(start, stop))
            )
        size = int(spec["size"])
        for name, (members, history) in spec["rooms"].items():
            names = [f"u{i}" for i in members] or ["u0"]
            await storage.create_room(name, "public", names[0], members=names)
            for start in range(0, history, 1000):
                batch = range(start, min(history, start + 1000))
                await asyncio.gather(
                    *(
                        storage.append(
                            NewMessage(
                                room=name,
                                sender=names[0],
                                msg_id=f"seed.{i}",
                                text=_payload(i, size),
                                kind="text",
                                ts=1_700_000_000_000 + i,
                            )
                        )
                        for i in batch
                    )
                )
    finally:
        await storage.close()


def seed_database(
    data_dir: Path,
    seed: Seed,
    passwords: dict[str, int],
    *,
    size: int = 100,
    server_src: Path | None = None,
) -> None:
    """Create ``data_dir/tertulia.db`` as ``seed`` describes, with the server's own code."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    spec = {**seed.to_json(), "passwords": passwords, "size": size, "db": str(data_dir)}
    env = dict(os.environ)
    if server_src is not None:
        env["PYTHONPATH"] = str(server_src)
    subprocess.run([sys.executable, __file__, json.dumps(spec)], env=env, check=True, timeout=600)


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    asyncio.run(_seed(Path(spec["db"]) / "tertulia.db", spec))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
