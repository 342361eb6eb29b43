"""The client library against a real server over real TLS on 127.0.0.1 (issue: client library)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tertulia.client import (
    Client,
    ClientOffline,
    ConnectionStateChanged,
    ConnState,
    EntryState,
    Event,
    HistoryPage,
    Message,
    Outbox,
    PendingMessage,
    RoomAdded,
    ServerError,
    TopicEvent,
    TrustError,
    TrustPolicy,
    TypingEvent,
)
from tertulia.proto import messages as m
from tertulia_testkit import PASSWORD, SCALE, InProcessServer

Make = Callable[..., Any]


@pytest.fixture
async def make_client(tls_server: InProcessServer) -> AsyncIterator[Make]:
    """``await make_client(user, register=True, start=True, **kw)``; all closed afterwards."""
    clients: list[Client] = []

    async def make(user: str, *, register: bool = True, start: bool = True, **kw: Any) -> Client:
        kw.setdefault("trust", TrustPolicy(fingerprint=tls_server.fingerprint))
        client = Client(tls_server.host, tls_server.port, user, PASSWORD, **kw)
        clients.append(client)
        if register:
            try:
                await client.register()
            except ServerError as exc:
                assert exc.code == "name_taken"
        if start:
            await asyncio.wait_for(client.start(), 10 * SCALE)
        return client

    yield make
    for c in clients:
        await c.close()


async def collect(client: Client, room: str, n: int, timeout: float = 10.0) -> list[Message]:
    """The next ``n`` messages of ``room`` delivered to ``client``'s application."""
    out: list[Message] = []

    async def go() -> None:
        async for msg in client.messages(room):
            out.append(msg)
            if len(out) >= n:
                return

    try:
        await asyncio.wait_for(go(), timeout * SCALE)
    except TimeoutError:
        raise AssertionError(f"got {len(out)} of {n} messages: {out}") from None
    return out


async def test_two_clients_chat_with_history_and_room_calls(make_client: Make) -> None:
    alice = await make_client("alice", rooms=["General"])
    bob = await make_client("bob")
    info = await bob.join("general")
    assert info.name == "general" and info.joined
    bob_inbox = asyncio.ensure_future(collect(bob, "general", 4))
    alice_inbox = asyncio.ensure_future(collect(alice, "general", 4))
    await asyncio.sleep(0)
    acks = []
    for c, text in ((alice, "hola"), (bob, "qué tal"), (alice, "bien"), (bob, "me alegro")):
        entry = await c.send("General", text)
        acks.append(await entry.acked())
    assert [a.seq for a in acks] == [1, 2, 3, 4]
    for inbox in (bob_inbox, alice_inbox):
        got = await inbox
        assert [(x.seq, x.sender, x.text) for x in got] == [
            (1, "alice", "hola"),
            (2, "bob", "qué tal"),
            (3, "alice", "bien"),
            (4, "bob", "me alegro"),
        ]
    page = await bob.history("general", limit=2)
    assert isinstance(page, HistoryPage)
    assert [x.seq for x in page.messages] == [3, 4] and page.more
    page = await bob.history("general", after=1, limit=10)
    assert [x.text for x in page.messages] == ["qué tal", "bien", "me alegro"]
    assert not page.more
    rooms = {r.name: r for r in await alice.list_rooms()}
    assert rooms["general"].joined and rooms["general"].last_seq == 4
    members = await alice.members("general")
    assert [(x.user, x.presence) for x in members] == [("alice", "online"), ("bob", "online")]
    await alice.mark_read("general", 4)
    await alice.set_presence("away")


async def test_dm_topic_typing_and_events(make_client: Make) -> None:
    alice = await make_client("alice", rooms=["lobby"])
    bob = await make_client("bob", rooms=["lobby"])
    events = bob.events()
    dm = await alice.open_dm("bob")
    assert dm.visibility == "dm" and dm.peer == "bob"
    added = await _next(events, RoomAdded)
    assert added.room.name == dm.name and added.room.peer == "alice"
    await (await alice.send(dm.name, "psst")).acked()
    msg = await _next(events, Message)
    assert (msg.room, msg.seq, msg.sender, msg.text) == (dm.name, 1, "alice", "psst")
    await alice.typing("lobby")
    typing = await _next(events, TypingEvent)
    assert (typing.room, typing.user) == ("lobby", "alice")
    await alice.set_topic("lobby", "today: tapas")
    topic = await _next(events, TopicEvent)
    assert (topic.room, topic.topic, topic.by) == ("lobby", "today: tapas", "alice")
    events.close()


async def _next(events: Any, kind: type, timeout: float = 5.0) -> Any:
    while True:
        ev = await events.get(timeout * SCALE)
        if isinstance(ev, kind):
            return ev


async def test_join_creates_missing_room_and_handles_the_race(make_client: Make) -> None:
    clients = [await make_client(u) for u in ("ana", "ben", "cai", "dee")]
    infos = await asyncio.gather(*(c.join("Plaza") for c in clients))
    assert {i.name for i in infos} == {"plaza"}
    members = await clients[0].members("plaza")
    assert sorted(x.user for x in members) == ["ana", "ben", "cai", "dee"]
    with pytest.raises(ServerError) as err:
        await clients[0].join("nowhere", create=False)
    assert err.value.code == "room_not_found"


async def test_refused_message_fails_and_is_not_resent(make_client: Make) -> None:
    alice = await make_client("alice", rooms=["general"])
    await make_client("bob", rooms=["elsewhere"])
    too_long = await alice.send("general", "x" * 5000)
    not_member = await alice.send("elsewhere", "let me in")
    fine = await alice.send("general", "ok")
    failed = await alice.flush()
    assert [f.msg_id for f in failed] == [too_long.msg_id, not_member.msg_id]
    assert too_long.state is EntryState.FAILED and too_long.error is not None
    assert too_long.error.code == "text_too_long" and too_long.error.params.get("max") == 4000
    assert not_member.error is not None and not_member.error.code == "not_member"
    assert (await fine.acked()).seq == 1
    with pytest.raises(ServerError):
        await too_long.acked()
    await alice.join("elsewhere")
    alice.retry(not_member.msg_id)
    assert (await not_member.acked()).seq == 1


async def test_exactly_once_across_server_restart_mid_stream(
    tls_server: InProcessServer, make_client: Make
) -> None:
    alice = await make_client("alice", rooms=["general"], send_window=8)
    bob: Client = await make_client("bob", rooms=["general"])
    states: list[ConnState] = []

    @bob.on_event
    def track(ev: Event) -> None:
        if isinstance(ev, ConnectionStateChanged):
            states.append(ev.state)

    n = 120
    inbox = asyncio.ensure_future(collect(bob, "general", n, timeout=30))
    await asyncio.sleep(0)
    some_acked = asyncio.Event()
    acked = 0

    def on_change(entry: PendingMessage) -> None:
        nonlocal acked
        acked += entry.state is EntryState.SENT
        if acked >= 15:
            some_acked.set()

    alice.outbox.on_change = on_change
    entries = [await alice.send("general", f"msg {i}") for i in range(n)]
    # restart while messages are in flight: some acks are lost, the outbox resends them
    await asyncio.wait_for(some_acked.wait(), 10 * SCALE)
    await tls_server.restart()
    assert not await alice.flush()
    acks = [e.sent for e in entries]
    assert all(a is not None for a in acks)
    assert [a.seq for a in acks if a is not None] == list(range(1, n + 1))
    got = await inbox
    assert [x.seq for x in got] == list(range(1, n + 1))
    assert [x.text for x in got] == [f"msg {i}" for i in range(n)]
    assert [x.msg_id for x in got] == [e.msg_id for e in entries]
    # the history holds each message exactly once
    page = await bob.history("general", after=0, limit=200)
    assert [x.text for x in page.messages] == [f"msg {i}" for i in range(n)]
    assert ConnState.RECONNECTING in states and states[-1] is ConnState.CONNECTED
    # and nothing more arrives afterwards (no duplicate deliveries)
    with pytest.raises(AssertionError):
        await collect(bob, "general", 1, timeout=0.5)


async def test_persisted_outbox_survives_a_client_restart(
    tls_server: InProcessServer, make_client: Make, tmp_path: Path
) -> None:
    path = tmp_path / "alice.outbox"
    setup = await make_client("alice", rooms=["general"])
    await setup.close()
    await tls_server.stop()
    # offline: the messages go to the journal only
    first = await make_client("alice", register=False, start=False, outbox_path=path)
    await first.start(wait=False)
    queued = [await first.send("general", f"offline {i}") for i in range(3)]
    await asyncio.sleep(0.2)
    assert all(e.state is EntryState.PENDING for e in queued)
    await first.close()
    await tls_server.start()
    second = await make_client("alice", register=False, outbox_path=path)
    assert not await second.flush()
    assert len(second.outbox) == 0
    page = await second.history("general", after=0)
    assert [x.text for x in page.messages] == ["offline 0", "offline 1", "offline 2"]
    assert [x.msg_id for x in page.messages] == [e.msg_id for e in queued]
    await second.close()
    # a third start finds nothing left to send
    third = await make_client("alice", register=False, outbox_path=path)
    assert len(third.outbox) == 0


async def test_cursor_file_resumes_where_the_bot_stopped(make_client: Make, tmp_path: Path) -> None:
    cursor_path = tmp_path / "bot.cursors"
    alice = await make_client("alice", rooms=["general"])
    bot = await make_client("bot", rooms=["general"], cursor_path=cursor_path)
    inbox = asyncio.ensure_future(collect(bot, "general", 3))
    await asyncio.sleep(0)
    for i in range(3):
        await (await alice.send("general", f"early {i}")).acked()
    assert [x.text for x in await inbox] == [f"early {i}" for i in range(3)]
    await bot.close()
    assert json.loads(cursor_path.read_text())["cursors"] == {"general": 3}
    for i in range(2):
        await (await alice.send("general", f"while away {i}")).acked()
    bot2 = await make_client("bot", register=False, start=False, cursor_path=cursor_path)
    inbox = asyncio.ensure_future(collect(bot2, "general", 3))
    await asyncio.sleep(0)
    await bot2.start()
    await (await alice.send("general", "live")).acked()
    got = await inbox
    assert [(x.seq, x.text) for x in got] == [(4, "while away 0"), (5, "while away 1"), (6, "live")]


async def test_since_zero_replays_history_then_live(make_client: Make) -> None:
    alice = await make_client("alice", rooms=["general"])
    for i in range(5):
        await alice.send("general", f"m{i}")
    assert not await alice.flush()
    reader = await make_client("reader", rooms=["general"], cursors={"general": 0}, start=False)
    inbox = asyncio.ensure_future(collect(reader, "general", 6))
    await asyncio.sleep(0)
    await reader.start()
    await alice.send("general", "m5")
    assert [x.seq for x in await inbox] == [1, 2, 3, 4, 5, 6]


async def test_wrong_password_and_wrong_fingerprint_are_fatal(
    tls_server: InProcessServer, make_client: Make
) -> None:
    await make_client("alice")
    bad = Client(
        tls_server.host,
        tls_server.port,
        "alice",
        "not the password",
        trust=TrustPolicy(fingerprint=tls_server.fingerprint),
    )
    with pytest.raises(ServerError) as err:
        await asyncio.wait_for(bad.start(), 10 * SCALE)
    assert err.value.code == "auth_failed" and bad.state is ConnState.OFFLINE
    with pytest.raises(ClientOffline):
        await bad.history("general")
    await bad.close()
    wrong_fp = "SHA256:" + ":".join(["00"] * 32)
    impostor = Client(
        tls_server.host,
        tls_server.port,
        "alice",
        PASSWORD,
        trust=TrustPolicy(fingerprint=wrong_fp),
    )
    with pytest.raises(TrustError) as terr:
        await asyncio.wait_for(impostor.start(), 10 * SCALE)
    assert "does not match" in str(terr.value)
    await impostor.close()


async def test_gap_in_live_messages_is_fetched_before_delivery() -> None:
    """Defensive path: a live message beyond cursor+1 waits for history to fill the gap."""

    def msg(seq: int) -> m.Message:
        return m.Message(room="r", seq=seq, msg_id=f"id{seq}", sender="x", ts=seq, text=f"t{seq}")

    class StubConn:
        closed = False
        asked: list[int | None] = []

        async def request(self, req: Any, expect: type) -> Any:
            self.asked.append(req.after)
            await asyncio.sleep(0.01)
            return m.HistoryPage(id=1, room="r", messages=[msg(s) for s in (2, 3, 4)], more=False)

    client = Client("127.0.0.1", 1, "me", "pw", cursors={"r": 1})
    stub = StubConn()
    client._conn = stub  # type: ignore[assignment]
    client._on_event(msg(4))  # gap: 2 and 3 are missing
    client._on_event(msg(5))
    client._on_event(msg(4))  # duplicate
    assert client._queue.empty()
    task = client._gap_tasks["r"]
    await asyncio.wait_for(task, 5)
    delivered = []
    while not client._queue.empty():
        ev = client._queue.get_nowait()
        assert isinstance(ev, Message)
        delivered.append(ev.seq)
    assert delivered == [2, 3, 4, 5]
    assert stub.asked == [1]
    client._on_event(msg(3))  # old: dropped
    assert client._queue.empty()


async def test_resending_a_msg_id_stores_it_once(make_client: Make, tmp_path: Path) -> None:
    """What happens after a crash between the server's commit and the ack reaching us."""
    alice = await make_client("alice", rooms=["general"])
    first = await (await alice.send("general", "only once", msg_id="fixed-1")).acked()
    again = await (await alice.send("general", "only once", msg_id="fixed-1")).acked()
    assert not first.duplicate and again.duplicate and again.seq == first.seq
    # the same through a journal left behind by a client that died before reading its ack
    path = tmp_path / "outbox.jsonl"
    with Outbox(path) as box:
        box.add("general", "only once", msg_id="fixed-1")
        box.add("general", "new one")
    await alice.close()
    revived = await make_client("alice", register=False, outbox_path=path)
    assert not await revived.flush()
    page = await revived.history("general", after=0)
    assert [x.text for x in page.messages] == ["only once", "new one"]
