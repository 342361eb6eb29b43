"""The IRC mode's line handling, on a fake transport (no IRC server needed)."""

from __future__ import annotations

import asyncio
from typing import Any

from tertulia.bench.clients import IrcClient


class FakeTransport:
    def __init__(self) -> None:
        self.out = b""

    def write(self, data: bytes) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


async def test_privmsg_ping_and_pong_acknowledgement() -> None:
    got: list[tuple[str, str, int]] = []
    client = IrcClient("u1", lambda room, text, seq: got.append((room, text, seq)))
    transport: Any = FakeTransport()
    client.connection_made(transport)
    client.send_batch("bench", ["a", "b"])
    assert client.sent == 2 and client.acked == 0
    assert transport.out.count(b"PRIVMSG #bench :") == 2
    assert b"PING :1\r\n" in transport.out
    # split across reads on purpose
    client.data_received(b":u2!u2@h PRIVMSG #bench :1:0:5:xx\r\nPI")
    client.data_received(b"NG :srv\r\n:srv PONG srv :1\r\n")
    assert got == [("bench", "1:0:5:xx", -1)]
    assert b"PONG :srv\r\n" in transport.out
    assert client.acked == 2
    assert client.ack_hist.count == 2


async def test_welcome_and_join_complete() -> None:
    client = IrcClient("u1")
    transport: Any = FakeTransport()
    client.connection_made(transport)
    login = asyncio.ensure_future(client.login("u1", "", 5))
    await asyncio.sleep(0)
    client.data_received(b":srv 001 u1 :Welcome\r\n")
    await login
    join = asyncio.ensure_future(client.join("bench", 5))
    await asyncio.sleep(0)
    client.data_received(b":srv 353 u1 = #bench :u1\r\n:srv 366 u1 #bench :End of /NAMES list.\r\n")
    await join
    assert b"JOIN #bench\r\n" in transport.out
