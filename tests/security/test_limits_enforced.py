"""Every limit of docs/security.md, hit over real TLS, with the error code it must give.

Nothing accepted is lost: where a limit refuses some requests, the ones accepted before are
checked to be stored.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import time
from pathlib import Path

import pytest
from security_kit import (
    SCALE,
    bye_of,
    connect,
    expect_code,
    server_of,
    strict_server,
    user,
)

from tertulia.proto import encode, encode_frame
from tertulia.proto import messages as m
from tertulia.server.config import TlsConfig
from tertulia_testkit import PASSWORD, RawClient


async def test_tls_handshake_deadline(tmp_path: Path) -> None:
    """A TCP connection that never starts TLS is closed at the handshake deadline (no TLS
    channel exists to carry an error code; the connection is simply closed)."""
    async with strict_server(tmp_path / "s", tls=TlsConfig(handshake_timeout=0.5)) as srv:
        reader, writer = await asyncio.open_connection(srv.host, srv.port)
        writer.write(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
        start = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 10 * SCALE) == b""
        assert 0.3 < time.monotonic() - start < 5 * SCALE
        writer.close()


async def test_limits_are_announced(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", message_rate=3.0, max_rooms_per_user=7) as srv:
        c = await connect(srv)
        hello = await c.hello()
        assert hello.limits == m.Limits(
            max_frame_pre_auth=4096,
            max_frame=65536,
            max_text=4000,
            max_history_page=200,
            max_name=32,
            max_topic=512,
            max_rooms=7,
            message_rate=3.0,
            message_burst=50,
        )


async def test_login_deadline(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", login_timeout=1.0) as srv:
        c = await connect(srv)
        await c.hello()
        bye = await bye_of(c)
        assert bye.code == "timeout"


async def test_frame_size_is_checked_from_the_header(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        c = await connect(srv)
        await c.hello()
        c.write_raw(struct.pack(">I", 4097))  # pre-login limit 4096: the body never comes
        err = await c.event(m.Error)
        assert err.code == "frame_too_large" and err.params == {"size": 4097, "max": 4096}
        a = await user(srv, "alice")
        a.write_raw(struct.pack(">I", 2**32 - 1))
        err = await a.event(m.Error)
        assert err.code == "frame_too_large" and err.params["max"] == 65536


async def test_lengths_of_text_topic_names_and_pages(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        a = await user(srv, "alice")
        await a.request(m.CreateRoom(id=a.next_id(), room="r"))
        for req, code, params in (
            (m.Send(id=1, room="r", msg_id="a", text="x" * 4001), "text_too_long", {"max": 4000}),
            (m.SetTopic(id=2, room="r", topic="t" * 513), "invalid_argument", {"max": 512}),
            (
                m.CreateRoom(id=3, room="r" * 33),
                "invalid_name",
                {"field": "room", "reason": "too_long", "max": 32},
            ),
            (m.History(id=4, room="r", limit=201), "invalid_argument", {"max": 200}),
            (m.Sync(id=5, cursors={f"r{i}": 0 for i in range(201)}), "invalid_argument", {}),
        ):
            err = await expect_code(a, req, code)
            assert params.items() <= err.params.items(), err


async def test_message_rate_slows_down_and_loses_nothing(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", message_rate=2.0, message_burst=3) as srv:
        a = await user(srv, "alice")
        await a.request(m.CreateRoom(id=a.next_id(), room="r"))
        sent = [
            a.send_nowait(m.Send(id=a.next_id(), room="r", msg_id=f"m{i}", text=f"t{i}"))
            for i in range(6)
        ]
        replies = [await asyncio.wait_for(f, 10 * SCALE) for f in sent]
        ok = [r for r in replies if isinstance(r, m.Sent)]
        limited = [r for r in replies if isinstance(r, m.Error)]
        assert len(ok) == 3 and len(limited) == 3
        assert {e.code for e in limited} == {"rate_limited"}
        assert all(0 < e.params["retry_after"] <= 0.5 for e in limited)
        assert limited[0].params["limit"] == "message_rate"
        await asyncio.sleep(limited[0].params["retry_after"])
        again = await a.request(m.Send(id=a.next_id(), room="r", msg_id="m3", text="t3"))
        assert again.seq == 4
        page = await a.request(m.History(id=a.next_id(), room="r"))
        assert [x.text for x in page.messages] == ["t0", "t1", "t2", "t3"]


async def test_request_flood_gets_slow_down_then_bye(tmp_path: Path) -> None:
    async with strict_server(
        tmp_path / "s", request_rate=1.0, request_burst=5, rate_strikes=3
    ) as srv:
        c = await connect(srv)
        for i in range(20):
            c.write_raw(encode(m.Ping(id=i)))
        codes = []
        while True:
            ev = await c.events.get() if not c.events.empty() else None
            if ev is None:
                try:
                    ev = await asyncio.wait_for(c.events.get(), 5 * SCALE)
                except TimeoutError:
                    break
            codes.append(getattr(ev, "code", ev.type if hasattr(ev, "type") else type(ev)))
            if isinstance(ev, m.ServerBye):
                break
        # 5 pings within the burst are answered (the first is hello_required: hello was never
        # sent, yet it consumed a token), then slow-down errors, then the bye
        assert codes[:5].count("rate_limited") == 0
        assert codes.count("rate_limited") >= 3
        assert codes[-1] == "rate_limited" and isinstance(ev, m.ServerBye)
        assert server_of(srv).closes["rate_limited"] == 1


async def test_slow_consumer_is_dropped(tmp_path: Path) -> None:
    """A client that stops reading is cut off once its send buffer passes the limit."""
    async with strict_server(
        tmp_path / "s", max_send_buffer=256 * 1024, request_rate=1e6, request_burst=10**6
    ) as srv:
        a = await user(srv, "alice")
        await a.request(m.CreateRoom(id=a.next_id(), room="r"))
        for i in range(50):
            await a.request(m.Send(id=a.next_id(), room="r", msg_id=f"b{i}", text="x" * 3000))
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (srv.host, srv.port))
        slow = await RawClient.connect(srv.host, srv.port, sock=sock)
        await slow.login("alice")
        slow._task.cancel()  # stop reading: the kernel buffers fill, then the server's
        for i in range(300):
            slow.write_raw(encode(m.History(id=1000 + i, room="r", limit=50)))
            await asyncio.sleep(0)
        deadline = time.monotonic() + 20 * SCALE
        while server_of(srv).closes["slow_consumer"] == 0 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert server_of(srv).closes["slow_consumer"] == 1
        assert await a.request(m.Ping(id=a.next_id()))  # everyone else carries on
        slow.writer.close()


async def test_connections_per_address(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", max_connections_per_ip=3) as srv:
        held = [await connect(srv, "127.0.0.2") for _ in range(3)]
        extra = await connect(srv, "127.0.0.2")
        bye = await bye_of(extra)
        assert bye.code == "too_many_connections"
        other = await connect(srv, "127.0.0.3")  # another address is not affected
        await other.hello()
        await held[0].close()
        await asyncio.sleep(0.1)
        again = await connect(srv, "127.0.0.2")  # a slot was freed
        await again.hello()
        assert server_of(srv).closes["too_many_connections"] == 1


async def test_failed_logins_are_throttled_per_account(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", login_failures_per_account=3) as srv:
        await (await user(srv, "alice")).close()
        c = await connect(srv, "127.0.0.4")
        await c.hello()
        for _ in range(3):
            await expect_code(
                c, m.Login(id=c.next_id(), user="alice", password="nope"), "auth_failed"
            )
        err = await expect_code(
            c, m.Login(id=c.next_id(), user="alice", password=PASSWORD), "login_throttled"
        )
        assert err.params["retry_after"] > 0
        # an unknown account is throttled the same way: no hint which names exist
        for _ in range(3):
            await expect_code(c, m.Login(id=c.next_id(), user="ghost", password="x"), "auth_failed")
        await expect_code(c, m.Login(id=c.next_id(), user="ghost", password="x"), "login_throttled")
        # the count is per (account, address): the owner elsewhere is not locked out
        owner = await connect(srv, "127.0.0.14")
        await owner.hello()
        await owner.request(m.Login(id=owner.next_id(), user="alice", password=PASSWORD))
        stranger = await connect(srv, "127.0.0.15")
        await stranger.hello()
        await expect_code(stranger, m.Login(id=1, user="ghost", password="x"), "auth_failed")


async def test_failed_logins_are_capped_per_account_across_addresses(tmp_path: Path) -> None:
    async with strict_server(
        tmp_path / "s", login_failures_per_account=2, login_failures_per_account_total=4
    ) as srv:
        await (await user(srv, "alice", local_ip="127.0.0.16")).close()  # alice's address
        for ip in ("127.0.0.17", "127.0.0.18"):
            c = await connect(srv, ip)
            await c.hello()
            for _ in range(2):
                await expect_code(
                    c, m.Login(id=c.next_id(), user="alice", password="nope"), "auth_failed"
                )
        fresh = await connect(srv, "127.0.0.19")
        await fresh.hello()
        err = await expect_code(
            fresh, m.Login(id=fresh.next_id(), user="alice", password=PASSWORD), "login_throttled"
        )
        assert err.params["retry_after"] > 0
        # the address alice logged in from is past the ceiling (its own limit still holds)
        home = await connect(srv, "127.0.0.16")
        await home.hello()
        await home.request(m.Login(id=home.next_id(), user="alice", password=PASSWORD))


async def test_failed_logins_are_throttled_per_address(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", login_failures_per_ip=4) as srv:
        c = await connect(srv, "127.0.0.5")
        await c.hello()
        for i in range(4):
            await expect_code(c, m.Login(id=c.next_id(), user=f"u{i}", password="x"), "auth_failed")
        await expect_code(c, m.Login(id=c.next_id(), user="u9", password="x"), "login_throttled")
        other = await connect(srv, "127.0.0.6")
        await other.hello()
        await expect_code(other, m.Login(id=1, user="u9", password="x"), "auth_failed")


async def test_registrations_per_address(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", registrations_per_ip_per_hour=2) as srv:
        c = await connect(srv, "127.0.0.7")
        await c.hello()
        for name in ("ana", "bea"):
            await c.request(m.Register(id=c.next_id(), user=name, password=PASSWORD))
        err = await expect_code(
            c, m.Register(id=c.next_id(), user="cy", password=PASSWORD), "rate_limited"
        )
        assert err.params["limit"] == "registrations" and err.params["retry_after"] > 1000


async def test_rooms_per_user(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s", max_rooms_per_user=2) as srv:
        a, b = await user(srv, "alice"), await user(srv, "bob")
        for r in ("r1", "r2"):
            await a.request(m.CreateRoom(id=a.next_id(), room=r))
        await b.request(m.CreateRoom(id=b.next_id(), room="b1"))
        await expect_code(a, m.CreateRoom(id=a.next_id(), room="r3"), "too_many_rooms")
        await expect_code(a, m.Join(id=a.next_id(), room="b1"), "too_many_rooms")
        await expect_code(a, m.OpenDm(id=a.next_id(), user="bob"), "too_many_rooms")
        # an invitation is pending, not a room: it is made, and the quota applies on accepting
        await b.request(m.Invite(id=b.next_id(), room="b1", user="alice"))
        err = await expect_code(a, m.AcceptInvitation(id=a.next_id(), room="b1"), "too_many_rooms")
        assert err.params["user"] == "alice"
        await a.request(m.Leave(id=a.next_id(), room="r2"))
        await a.request(m.AcceptInvitation(id=a.next_id(), room="b1"))


async def test_look_alike_and_invisible_names_are_refused(tmp_path: Path) -> None:
    async with strict_server(tmp_path / "s") as srv:
        await (await user(srv, "alice")).close()
        c = await connect(srv)
        await c.hello()
        await expect_code(c, m.Register(id=1, user="a1ice", password=PASSWORD), "name_taken")
        await expect_code(c, m.Register(id=3, user="\u0430lice", password=PASSWORD), "invalid_name")
        await expect_code(c, m.Register(id=2, user="ALICE", password=PASSWORD), "name_taken")
        for i, bad in enumerate(("al\u200bice", "bob\u202e", "a\x00b", "x" * 33)):
            await expect_code(c, m.Register(id=10 + i, user=bad, password=PASSWORD), "invalid_name")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2])
async def test_old_tls_is_refused_by_default(tmp_path: Path, version: ssl.TLSVersion) -> None:
    async with strict_server(tmp_path / "s") as srv:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = version
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await RawClient.connect(srv.host, srv.port, ssl_ctx=ctx)


async def test_receive_side_is_bounded(tmp_path: Path) -> None:
    """A client that pipelines far more than the server can handle at once is held back by TCP:
    what the server holds of its input stays bounded (about half a MiB), however much it sends."""
    async with strict_server(
        tmp_path / "s", request_rate=1e6, request_burst=10**6, message_rate=1e6
    ) as srv:
        a = await user(srv, "alice")
        await a.request(m.CreateRoom(id=a.next_id(), room="r"))
        server = server_of(srv)
        (session,) = [s for s in server.sessions if s.user == "alice"]
        pad = "x" * 1000  # unknown fields are ignored: big requests, each a storage read
        blob = b"".join(
            encode_frame(
                json.dumps(
                    {"type": "history", "id": 10_000 + i, "room": "r", "limit": 1, "pad": pad}
                ).encode()
            )
            for i in range(1500)
        )  # 1.6 MB of requests
        a.write_raw(blob)
        peak = 0
        for _ in range(50):
            held = len(session.reader._buffer) + session.conn.buffered
            peak = max(peak, held)
            await asyncio.sleep(0.01)
        print(f"peak bytes held for one connection's input: {peak}")
        # the reader pauses the socket past 128 KiB; TLS records already read (up to 256 KiB)
        # are still decrypted into it, and the decoder holds at most one partial frame
        assert peak <= 2 * 65536 + 256 * 1024 + 65536 + 65536
        assert await a.request(m.Ping(id="done"), timeout=60)
