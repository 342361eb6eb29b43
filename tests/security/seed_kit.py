"""Filling a server's SQLite database before it starts: many rooms, long histories.

Attacks on what a *stored* state costs (a 17 MiB room list, replaying thousands of maximal
messages) need that state first; building it through the protocol would take minutes and, with
the limits in place, is exactly what the server now refuses. The database is written with the
server's own storage class into the data directory the ``ServerProcess`` will use, so the
server opens it as its own (the users' passwords are ``PASSWORD``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from tertulia.server.passwords import Passwords
from tertulia.server.storage.base import NewMessage
from tertulia.server.storage.sqlite import SqliteStorage
from tertulia_testkit import FAST_PASSWORDS, PASSWORD

__all__ = ["seed"]


async def seed(
    data_dir: Path,
    *,
    users: Iterable[str],
    rooms: Iterable[tuple[str, str, str]] = (),
    messages: Iterable[tuple[str, str, str]] = (),
    members: Iterable[tuple[str, str]] = (),
) -> None:
    """Users; rooms ``(name, creator, topic)`` (public, no members); ``members``
    ``(room, user)``; messages ``(room, sender, text)`` appended in order."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    storage = SqliteStorage(data_dir / "tertulia.db", synchronous="NORMAL")
    await storage.open()
    try:
        pw = Passwords(FAST_PASSWORDS)
        pw_hash = pw.hash_sync(PASSWORD)
        pw.close()
        for user in users:
            await storage.create_user(user, pw_hash)
        batch = []
        for name, owner, topic in rooms:
            # the owner has left (as after a create/leave loop): not a member
            batch.append(storage.create_room(name, "public", owner, topic=topic))
            if len(batch) >= 500:  # one group commit per batch
                await asyncio.gather(*batch)
                batch = []
        await asyncio.gather(*batch)
        for room, user in members:
            await storage.add_member(room, user)
        pending = []
        for i, (room, sender, text) in enumerate(messages):
            new = NewMessage(
                room=room,
                sender=sender,
                msg_id=f"seed{i}",
                text=text,
                kind="text",
                ts=1_700_000_000_000 + i,
            )
            pending.append(storage.append_future(new))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await storage.close()
