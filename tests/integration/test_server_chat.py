"""End-to-end behaviour of the server over real TLS on 127.0.0.1 (issue: core server)."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Callable
from typing import Any

import pytest

from tertulia.proto import encode
from tertulia.proto import messages as m
from tertulia_testkit import PASSWORD, InProcessServer, RawClient, ServerError

Factory = Callable[..., Any]


async def _send(c: RawClient, room: str, text: str, msg_id: str | None = None) -> m.Sent:
    rid = c.next_id()
    reply: m.Sent = await c.request(
        m.Send(id=rid, room=room, msg_id=msg_id or f"m{rid}-{os.urandom(4).hex()}", text=text)
    )
    return reply


async def test_three_users_chat_in_a_room(raw_client_factory: Factory) -> None:
    alice, bob, carol = [await raw_client_factory(u) for u in ("alice", "bob", "carol")]
    reply = await alice.request(m.CreateRoom(id=1, room="General", topic="hola"))
    assert reply.room.name == "general" and reply.room.topic == "hola"
    for c in (bob, carol):
        joined = await c.request(m.Join(id=c.next_id(), room="general"))
        assert joined.room.joined and joined.room.visibility == "public"
    members = await alice.request(m.Members(id=2, room="general"))
    assert [(x.user, x.presence) for x in members.members] == [
        ("alice", "online"),
        ("bob", "online"),
        ("carol", "online"),
    ]
    sent = [
        await _send(c, "general", f"hi from {n}")
        for c, n in ((alice, "alice"), (bob, "bob"), (carol, "carol"))
    ]
    assert [s.seq for s in sent] == [1, 2, 3]
    for c in (alice, bob, carol):
        got = [await c.event(m.Message, room="general") for _ in range(3)]
        assert [(g.seq, g.sender, g.text) for g in got] == [
            (1, "alice", "hi from alice"),
            (2, "bob", "hi from bob"),
            (3, "carol", "hi from carol"),
        ]
    page = await carol.request(m.History(id=9, room="general", limit=2))
    assert [x.seq for x in page.messages] == [2, 3] and page.more
    page = await carol.request(m.History(id=10, room="general", before=2))
    assert [x.seq for x in page.messages] == [1] and not page.more
    page = await carol.request(m.History(id=11, room="general", after=1, limit=1))
    assert [x.seq for x in page.messages] == [2] and page.more


async def test_dm_is_invisible_to_a_third_user(raw_client_factory: Factory) -> None:
    alice, bob, eve = [await raw_client_factory(u) for u in ("alice", "bob", "eve")]
    dm = await alice.request(m.OpenDm(id=1, user="bob"))
    assert dm.room.visibility == "dm" and dm.room.peer == "bob"
    added = await bob.event(m.RoomAdded)
    assert added.room.name == dm.room.name and added.room.peer == "alice"
    await _send(alice, dm.room.name, "secret")
    assert (await bob.event(m.Message)).text == "secret"
    for req in (
        m.History(id=5, room=dm.room.name),
        m.Join(id=6, room=dm.room.name),
        m.Send(id=7, room=dm.room.name, msg_id="x", text="let me in"),
        m.Members(id=8, room=dm.room.name),
    ):
        with pytest.raises(ServerError) as err:
            await eve.request(req)
        assert err.value.code == "room_not_found"
    rooms = await eve.request(m.ListRooms(id=9))
    assert dm.room.name not in [r.name for r in rooms.rooms]
    with pytest.raises(asyncio.TimeoutError):
        await eve.event(m.Message, timeout=0.3)


async def test_private_room_and_non_members(raw_client_factory: Factory) -> None:
    alice, bob, eve = [await raw_client_factory(u) for u in ("alice", "bob", "eve")]
    await alice.request(m.CreateRoom(id=1, room="team", visibility="private"))
    with pytest.raises(ServerError) as err:
        await eve.request(m.Join(id=1, room="team"))
    assert err.value.code == "room_not_found"
    await alice.request(m.Invite(id=2, room="team", user="bob"))
    assert (await bob.event(m.InvitationEvent)).invitation.room == "team"
    await bob.request(m.AcceptInvitation(id=bob.next_id(), room="team"))
    assert (await bob.event(m.RoomAdded)).room.name == "team"
    await _send(bob, "team", "thanks")
    # a public room the user has not joined: readable by members only
    await alice.request(m.CreateRoom(id=3, room="lobby"))
    for req in (m.History(id=4, room="lobby"), m.Send(id=5, room="lobby", msg_id="a", text="x")):
        with pytest.raises(ServerError) as err:
            await eve.request(req)
        assert err.value.code == "not_member"


async def test_wrong_password_and_unknown_user_fail_alike(
    tls_server: InProcessServer, raw_client_factory: Factory
) -> None:
    await raw_client_factory("alice")
    c = await raw_client_factory()
    await c.hello()
    for user, pw in (("alice", "wrong password"), ("nobody", PASSWORD), ("Bad Name!", PASSWORD)):
        reply = await c.request(m.Login(id=c.next_id(), user=user, password=pw), check=False)
        assert isinstance(reply, m.Error) and reply.code == "auth_failed"
        assert reply.message == "wrong user name or password"
    with pytest.raises(ServerError) as err:
        await c.request(m.ListRooms(id=c.next_id()))
    assert err.value.code == "not_authenticated"
    await c.request(m.Login(id=c.next_id(), user="ALICE", password=PASSWORD))


async def test_registration_closed(tmp_path: Any) -> None:
    srv = InProcessServer(tmp_path / "srv", registration="closed")
    await srv.start()
    try:
        c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
        await c.hello()
        with pytest.raises(ServerError) as err:
            await c.request(m.Register(id=1, user="alice", password=PASSWORD))
        assert err.value.code == "registration_closed"
        await c.close()
    finally:
        await srv.stop()


async def test_register_validation(raw_client_factory: Factory) -> None:
    await raw_client_factory("alice")
    c = await raw_client_factory()
    await c.hello()
    cases = [
        ("alice", PASSWORD, "name_taken"),
        ("Alice", PASSWORD, "name_taken"),
        ("a b", PASSWORD, "invalid_name"),
        ("x" * 40, PASSWORD, "invalid_name"),
        ("bob", "short", "weak_password"),
        ("", PASSWORD, "invalid_name"),
        ("bo\u202eb", PASSWORD, "invalid_name"),
    ]
    for user, pw, code in cases:
        with pytest.raises(ServerError) as err:
            await c.request(m.Register(id=c.next_id(), user=user, password=pw))
        assert err.value.code == code, (user, pw)


async def test_resent_msg_id_returns_same_seq(raw_client_factory: Factory) -> None:
    alice = await raw_client_factory("alice")
    await alice.request(m.CreateRoom(id=1, room="r"))
    first = await _send(alice, "r", "once", msg_id="fixed-1")
    again = await _send(alice, "r", "once", msg_id="fixed-1")
    assert (again.seq, again.ts, again.duplicate) == (first.seq, first.ts, True)
    await alice.request(m.CreateRoom(id=2, room="other"))
    with pytest.raises(ServerError) as err:
        await _send(alice, "other", "once", msg_id="fixed-1")
    assert err.value.code == "msg_id_conflict"
    page = await alice.request(m.History(id=3, room="r"))
    assert [x.text for x in page.messages] == ["once"]


async def test_history_survives_restart(tls_server: InProcessServer) -> None:
    c = await RawClient.connect(tls_server.host, tls_server.port)
    await c.login("alice", register=True)
    await c.request(m.CreateRoom(id=1, room="r"))
    for i in range(5):
        await _send(c, "r", f"msg {i}")
    fp = tls_server.fingerprint
    await tls_server.restart()
    assert tls_server.fingerprint == fp  # the same identity is reused
    await c.close()
    c = await RawClient.connect(tls_server.host, tls_server.port, fingerprint=fp)
    await c.login("alice")
    page = await c.request(m.History(id=2, room="r"))
    assert [(x.seq, x.text) for x in page.messages] == [(i + 1, f"msg {i}") for i in range(5)]
    assert (await _send(c, "r", "after")).seq == 6
    await c.close()


async def test_garbage_client_does_not_disturb_others(
    tls_server: InProcessServer, raw_client_factory: Factory
) -> None:
    alice, bob = await raw_client_factory("alice"), await raw_client_factory("bob")
    await alice.request(m.CreateRoom(id=1, room="r"))
    await bob.request(m.Join(id=1, room="r"))
    evil = await raw_client_factory("evil")
    await evil.request(m.Join(id=1, room="r"))
    bad = [
        b"{not json",
        b"[1,2,3]",
        b'{"type":"nope","id":7}',
        b'{"type":"send","id":8}',
        b'{"type":"send","id":9,"room":"r","msg_id":"m","text":5}',
        b"\xff\xfe\x00",
        b'{"type":"history","id":10,"room":"r","limit":-1}',
    ]
    for body in bad:
        evil.write_raw(struct.pack(">I", len(body)) + body)
    codes = []
    for _ in bad:
        err = await evil.event(m.Error)
        codes.append((err.id, err.code))
    assert codes == [
        (None, "bad_json"),
        (None, "bad_message"),
        (7, "unknown_type"),
        (8, "bad_message"),
        (9, "bad_message"),
        (None, "bad_json"),
        (10, "invalid_argument"),
    ]
    for i in range(20):
        await _send(alice, "r", f"still here {i}")
        evil.write_raw(os.urandom(3))  # breaks evil's framing eventually; others unaffected
    got = [await bob.event(m.Message) for _ in range(20)]
    assert [g.seq for g in got] == list(range(1, 21))


async def test_oversized_frame_before_login_is_rejected_from_header(
    raw_client_factory: Factory,
) -> None:
    c = await raw_client_factory()
    c.write_raw(struct.pack(">I", 2**32 - 1))
    err = await c.event(m.Error)
    assert err.code == "frame_too_large" and err.params["size"] == 2**32 - 1
    await asyncio.wait_for(c.closed.wait(), 5)


async def test_hello_first_and_version(raw_client_factory: Factory) -> None:
    c = await raw_client_factory()
    with pytest.raises(ServerError) as err:
        await c.request(m.Login(id=1, user="a", password="b"))
    assert err.value.code == "hello_required"
    reply = await c.request(m.Hello(id=2, versions=[99]), check=False)
    assert reply.code == "unsupported_version" and reply.params["supported"] == [1]
    await asyncio.wait_for(c.closed.wait(), 5)


async def test_sync_replays_then_live_and_devices(raw_client_factory: Factory) -> None:
    alice = await raw_client_factory("alice")
    await alice.request(m.CreateRoom(id=1, room="r"))
    for i in range(30):
        await _send(alice, "r", f"m{i}")
    phone = await raw_client_factory("alice", register=False)
    synced_fut = phone.send_nowait(m.Sync(id=99, cursors={"r": 10, "nope": 0}))
    live = asyncio.ensure_future(_send(alice, "r", "live"))
    synced = await synced_fut
    await live
    seqs = []
    while len(seqs) < 21:
        seqs.append((await phone.event(m.Message)).seq)
    assert seqs == list(range(11, 32))
    assert synced.cursors["r"] >= 30 and "nope" not in synced.cursors


async def test_presence_typing_topic_and_read_markers(
    tls_server: InProcessServer, raw_client_factory: Factory
) -> None:
    alice, bob = await raw_client_factory("alice"), await raw_client_factory("bob")
    await alice.request(m.CreateRoom(id=1, room="r"))
    await bob.request(m.Join(id=1, room="r"))
    assert (await alice.event(m.MemberEvent)).user == "bob"
    bob.notice(m.Typing(room="r"))
    assert (await alice.event(m.TypingEvent)) == m.TypingEvent(room="r", user="bob")
    await alice.request(m.SetTopic(id=2, room="r", topic="new topic"))
    assert (await bob.event(m.TopicEvent)).topic == "new topic"
    await bob.request(m.Presence(id=3, status="away"))
    assert (await alice.event(m.PresenceEvent)) == m.PresenceEvent(user="bob", status="away")
    for i in range(3):
        await _send(alice, "r", f"m{i}")
    rooms = await bob.request(m.ListRooms(id=4))
    assert [(r.name, r.unread) for r in rooms.rooms] == [("r", 3)]
    bob2 = await raw_client_factory("bob", register=False)
    await bob.request(m.MarkRead(id=5, room="r", seq=2))
    assert (await bob2.event(m.ReadEvent)) == m.ReadEvent(room="r", seq=2)
    rooms = await bob2.request(m.ListRooms(id=6))
    assert rooms.rooms[0].unread == 1
    assert tls_server.server is not None
    tls_server.server.hub.session_grace = 0.3
    await bob.close()
    await bob2.close()
    assert (await alice.event(m.PresenceEvent)) == m.PresenceEvent(user="bob", status="offline")


async def test_quick_reconnect_is_invisible_to_others(
    tls_server: InProcessServer, raw_client_factory: Factory
) -> None:
    """Within the grace period a drop and reconnect cause no presence noise."""
    alice, bob = await raw_client_factory("alice"), await raw_client_factory("bob")
    await alice.request(m.CreateRoom(id=1, room="r"))
    await bob.request(m.Join(id=1, room="r"))
    assert tls_server.server is not None
    tls_server.server.hub.session_grace = 1.0
    await bob.close()
    status = tls_server.server.status()
    held = [u for u in status["users"] if u["user"] == "bob"]  # type: ignore[union-attr]
    assert held and held[0]["status"] == "held" and held[0]["connections"] == []
    bob = await raw_client_factory("bob", register=False)
    members = await alice.request(m.Members(id=2, room="r"))
    assert ("bob", "online") in [(x.user, x.presence) for x in members.members]
    await asyncio.sleep(1.3)
    seen = []
    while not alice.events.empty():
        ev = alice.events.get_nowait()
        if isinstance(ev, m.PresenceEvent) and ev.user == "bob":
            seen.append(ev.status)
    assert seen == []  # no offline/online flicker
    await bob.close()
    assert (await alice.event(m.PresenceEvent)) == m.PresenceEvent(user="bob", status="offline")
    status = tls_server.server.status()
    assert "bob" not in [u["user"] for u in status["users"]]  # type: ignore[union-attr]


async def test_limits_give_clear_errors(raw_client_factory: Factory) -> None:
    alice = await raw_client_factory("alice")
    await alice.request(m.CreateRoom(id=1, room="r"))
    for req, code in (
        (m.Send(id=2, room="r", msg_id="a", text="x" * 4001), "text_too_long"),
        (m.Send(id=3, room="r", msg_id="b", text="   "), "invalid_argument"),
        (m.Send(id=4, room="r", msg_id="c" * 65, text="x"), "invalid_argument"),
        (m.History(id=5, room="r", limit=201), "invalid_argument"),
        (m.SetTopic(id=6, room="r", topic="t" * 513), "invalid_argument"),
        (m.CreateRoom(id=7, room="dm:a:b"), "invalid_name"),
        (m.CreateRoom(id=8, room="r"), "room_exists"),
        (m.OpenDm(id=9, user="alice"), "invalid_argument"),
        (m.OpenDm(id=10, user="ghost"), "user_not_found"),
        (m.Leave(id=11, room="ghost"), "room_not_found"),
    ):
        with pytest.raises(ServerError) as err:
            await alice.request(req)
        assert err.value.code == code, req
    # a frame above the post-login limit is still fatal
    alice.write_raw(encode(m.Send(id=12, room="r", msg_id="z", text="y" * 70000)))
    err = await alice.event(m.Error)
    assert err.code == "frame_too_large"


async def test_sync_does_not_resend_what_arrived_live(raw_client_factory: Factory) -> None:
    """Messages a connection already got live are not sent again by a sync racing with them."""
    alice = await raw_client_factory("alice")
    await alice.request(m.CreateRoom(id=1, room="r"))
    for i in range(3):
        await _send(alice, "r", f"before {i}")
    bob = await raw_client_factory("bob")
    await bob.request(m.Join(id=1, room="r"))
    for i in range(2):
        await _send(alice, "r", f"live {i}")
    live = [await bob.event(m.Message) for _ in range(2)]
    assert [x.seq for x in live] == [4, 5]
    synced = await bob.request(m.Sync(id=2, cursors={"r": 0}))
    assert synced.cursors == {"r": 5}
    await _send(alice, "r", "after")
    rest = [await bob.event(m.Message) for _ in range(4)]
    assert [x.seq for x in rest] == [1, 2, 3, 6]
    # asked again from the start, the server replays what it replayed before (the client chose
    # that cursor) but still not what this connection got live since the last sync (seq 6)
    synced = await bob.request(m.Sync(id=3, cursors={"r": 0}))
    assert synced.cursors == {"r": 6}
    await _send(alice, "r", "last")
    again = [await bob.event(m.Message) for _ in range(6)]
    assert [x.seq for x in again] == [1, 2, 3, 4, 5, 7]


async def test_reopening_a_left_dm_restores_membership_durably(
    tls_server: InProcessServer, raw_client_factory: Factory
) -> None:
    alice, bob = await raw_client_factory("alice"), await raw_client_factory("bob")
    dm = (await alice.request(m.OpenDm(id=1, user="bob"))).room.name
    await bob.event(m.RoomAdded)
    await bob.request(m.Leave(id=2, room=dm))
    await alice.request(m.OpenDm(id=3, user="bob"))
    assert (await bob.event(m.RoomAdded)).room.name == dm
    assert dm in [r.name for r in (await bob.request(m.ListRooms(id=4))).rooms]
    await tls_server.restart()
    bob2 = await raw_client_factory("bob", register=False)
    assert dm in [r.name for r in (await bob2.request(m.ListRooms(id=5))).rooms]
    page = await bob2.request(m.History(id=6, room=dm))
    assert page.messages == []


async def test_a_moderator_who_leaves_comes_back_as_a_member(raw_client_factory: Factory) -> None:
    alice, bob = await raw_client_factory("alice"), await raw_client_factory("bob")
    await alice.request(m.CreateRoom(id=1, room="r"))
    await bob.request(m.Join(id=1, room="r"))
    await alice.request(m.SetRole(id=2, room="r", user="bob", role="moderator"))
    await bob.request(m.Leave(id=3, room="r"))
    await bob.request(m.Join(id=4, room="r"))
    roles = {x.user: x.role for x in (await alice.request(m.Members(id=5, room="r"))).members}
    assert roles == {"alice": "owner", "bob": "member"}


async def test_pong_before_hello_is_accepted(raw_client_factory: Factory) -> None:
    c = await raw_client_factory()
    c.notice(m.Pong(nonce=1))
    await c.hello()
    with pytest.raises(asyncio.TimeoutError):
        await c.event(m.Error, timeout=0.3)


async def test_sync_racing_a_stream_never_sends_a_seq_twice(raw_client_factory: Factory) -> None:
    """Repeated syncs from the last seen seq while 1,500 pipelined sends commit."""
    alice, bob = await raw_client_factory("alice"), await raw_client_factory("bob")
    await alice.request(m.CreateRoom(id=1, room="r"))
    await bob.request(m.Join(id=1, room="r"))
    total = 1500
    sends = [
        alice.send_nowait(m.Send(id=100 + i, room="r", msg_id=f"s{i}", text=f"t{i}"))
        for i in range(total)
    ]
    seen: list[int] = []
    for i in range(30):
        while not bob.events.empty():
            ev = bob.events.get_nowait()
            if isinstance(ev, m.Message):
                seen.append(ev.seq)
        await bob.request(m.Sync(id=1000 + i, cursors={"r": max(seen, default=0)}))
    await asyncio.gather(*sends)
    while len(seen) < total:
        seen.append((await bob.event(m.Message)).seq)
    assert sorted(seen) == list(range(1, total + 1))  # each seq exactly once on the wire
