"""Cluster mode end to end: node processes on the real PostgreSQL and Redis, HAProxy in front.

* clients on different nodes share a room (messages, typing, topic, members, presence);
* kill -9 of a node mid-stream: its clients reconnect through HAProxy to another node and
  resume with nothing lost or doubled;
* a restart of Redis mid-stream (a private redis-server, killed and restarted by PID): nothing
  lost or doubled, because nodes backfill from PostgreSQL after re-subscribing;
* presence across nodes: online while any node holds a session, offline after the TTL when
  the node holding it dies;
* the same msg_id sent through three nodes at once is stored once;
* SO_REUSEPORT: two nodes on one port.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cluster_kit import Cluster, HAProxy, RedisProcess, check_services, free_port

from tertulia.client import Client, EntryState, Message, PendingMessage, TrustPolicy
from tertulia.proto import messages as m
from tertulia.server.status import query_status
from tertulia_testkit import FAST_PASSWORDS_TOML, PASSWORD, SCALE, RawClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
async def services() -> None:
    await check_services()


@pytest.fixture
async def cluster3(services: None, tmp_path: Path) -> AsyncIterator[Cluster]:
    cluster = Cluster(tmp_path, 3)
    try:
        cluster.start()
        yield cluster
    finally:
        await cluster.stop()


def http_text(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return str(resp.read().decode())


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


async def connect(node: Any, user: str, fingerprint: str, *, register: bool) -> RawClient:
    c = await RawClient.connect(node.host, node.port, fingerprint=fingerprint)
    await c.login(user, register=register)
    return c


async def messages(client: RawClient, room: str, n: int, timeout: float = 20) -> list[m.Message]:
    """The next ``n`` messages of ``room`` pushed to ``client`` (other events are dropped)."""
    got: list[m.Message] = []
    for _ in range(n):
        got.append(await client.event(m.Message, room=room, timeout=timeout))
    return got


async def test_clients_on_different_nodes_share_a_room(cluster3: Cluster) -> None:
    fp = cluster3.fingerprint
    n1, n2, n3 = cluster3.nodes
    alice = await connect(n1, "alice", fp, register=True)
    bob = await connect(n2, "bob", fp, register=True)
    cy = await connect(n3, "cy", fp, register=True)
    try:
        await alice.request(m.CreateRoom(id=1, room="plaza"))
        await bob.request(m.Join(id=1, room="plaza"))
        joined = await alice.event(m.MemberEvent, room="plaza")
        assert (joined.user, joined.action) == ("bob", "joined")
        await cy.request(m.Join(id=1, room="plaza"))
        ids = itertools.count(100)
        for i in range(10):
            for who in (alice, bob, cy):
                who.send_nowait(m.Send(id=next(ids), room="plaza", msg_id=f"{i}", text=f"t{i}"))
        for who in (alice, bob, cy):  # every device gets every message (its own included)
            got = await messages(who, "plaza", 30)
            assert [g.seq for g in got] == list(range(1, 31))  # in order, once each
        page = await cy.request(m.History(id=2, room="plaza", limit=100))
        assert [x.seq for x in page.messages] == list(range(1, 31))
        # a topic set on node 1 (by the owner) reaches node 3; typing on node 2 reaches node 3
        await alice.request(m.SetTopic(id=3, room="plaza", topic="from node 1"))
        assert (await cy.event(m.TopicEvent, room="plaza")).topic == "from node 1"
        bob.notice(m.Typing(room="plaza"))
        assert (await cy.event(m.TypingEvent, room="plaza")).user == "bob"
        # presence of users on other nodes
        listing = await alice.request(m.Members(id=4, room="plaza"))
        assert {x.user: x.presence for x in listing.members} == {
            "alice": "online",
            "bob": "online",
            "cy": "online",
        }
    finally:
        for c in (alice, bob, cy):
            await c.close()


async def test_kill9_of_a_node_mid_stream(cluster3: Cluster, tmp_path: Path) -> None:
    """Clients of the killed node come back through HAProxy elsewhere; nothing lost/doubled."""
    proxy = HAProxy(tmp_path, cluster3.nodes)
    proxy.start()
    clients: list[Client] = []

    async def client(user: str, **kw: Any) -> Client:
        c = Client(
            "127.0.0.1",
            proxy.port,
            user,
            PASSWORD,
            trust=TrustPolicy(fingerprint=cluster3.fingerprint),
            rooms=["stream"],
            backoff_base=0.1,
            backoff_cap=0.5,
            **kw,
        )
        clients.append(c)
        await c.register()
        await asyncio.wait_for(c.start(), 15 * SCALE)
        return c

    try:
        alice = await client("alice", send_window=8)
        receivers = [await client(u) for u in ("bob", "cy", "dan")]
        victim = await cluster3.node_of("alice")  # the sender's node dies
        n = 150
        inboxes = [asyncio.ensure_future(collect(c, "stream", n)) for c in receivers]
        acked = asyncio.Event()
        count = 0

        def on_change(entry: PendingMessage) -> None:
            nonlocal count
            count += entry.state is EntryState.SENT
            if count >= 30:
                acked.set()

        alice.outbox.on_change = on_change
        entries = [await alice.send("stream", f"msg {i}") for i in range(n)]
        await asyncio.wait_for(acked.wait(), 20 * SCALE)
        victim.kill()  # SIGKILL, with sends in flight
        assert not await asyncio.wait_for(alice.flush(), 60 * SCALE)
        acks = [e.sent for e in entries]
        assert all(a is not None for a in acks)
        assert [a.seq for a in acks if a is not None] == list(range(1, n + 1))
        for inbox in inboxes:
            got = await inbox
            assert [x.seq for x in got] == list(range(1, n + 1))
            assert [x.text for x in got] == [f"msg {i}" for i in range(n)]
        assert await cluster3.node_of("alice") is not victim
        page = await receivers[0].history("stream", after=0, limit=200)
        assert [x.text for x in page.messages] == [f"msg {i}" for i in range(n)]
    finally:
        for c in clients:
            await c.close()
        proxy.stop()


async def collect(client: Client, room: str, n: int, timeout: float = 60) -> list[Message]:
    out: list[Message] = []

    async def go() -> None:
        async for msg in client.messages(room):
            out.append(msg)
            if len(out) >= n:
                return

    try:
        await asyncio.wait_for(go(), timeout * SCALE)
    except TimeoutError:
        raise AssertionError(f"got {len(out)} of {n} messages") from None
    return out


async def test_redis_restart_mid_stream_loses_nothing(services: None, tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path)
    redis.start()
    cluster = Cluster(tmp_path, 2, redis_url=redis.url)
    alice = bob = None
    try:
        cluster.start()
        n1, n2 = cluster.nodes
        alice = await connect(n1, "alice", cluster.fingerprint, register=True)
        bob = await connect(n2, "bob", cluster.fingerprint, register=True)
        await alice.request(m.CreateRoom(id=1, room="r"))
        await bob.request(m.Join(id=2, room="r"))
        n = 200
        received = asyncio.ensure_future(messages(bob, "r", n, timeout=30))
        for i in range(n):
            if i == 60:
                redis.kill()
            if i == 120:
                redis.start()  # same port, empty: no subscriptions, no presence
            await alice.request(m.Send(id=10 + i, room="r", msg_id=f"m{i}", text=f"t{i}"))
            await asyncio.sleep(0.01)
        got = await received
        assert [g.seq for g in got] == list(range(1, n + 1))
        assert [g.text for g in got] == [f"t{i}" for i in range(n)]
        # and no duplicate trails behind
        with pytest.raises(TimeoutError):
            await bob.event(m.Message, room="r", timeout=1.0)
        # node 2 really lost its subscription, and made up for it from PostgreSQL
        text = await asyncio.to_thread(http_text, n2.http_port, "/metrics")
        assert metric(text, "tertulia_bus_reconnects_total") >= 1
        assert metric(text, "tertulia_bus_resyncs_total") >= 1
        assert metric(text, "tertulia_bus_connected") == 1
        listing = await bob.request(m.Members(id=3, room="r"))
        assert {x.user for x in listing.members} == {"alice", "bob"}
    finally:
        for c in (alice, bob):
            if c is not None:
                await c.close()
        await cluster.stop()
        redis.kill()


async def test_presence_across_nodes_and_dead_node_ttl(cluster3: Cluster) -> None:
    fp = cluster3.fingerprint
    n1, n2, n3 = cluster3.nodes
    alice = await connect(n1, "alice", fp, register=True)
    eve = await connect(n3, "eve", fp, register=True)
    frank_a = await connect(n1, "frank", fp, register=True)
    frank_b = await connect(n2, "frank", fp, register=False)
    try:
        await alice.request(m.CreateRoom(id=1, room="p"))
        for who in (eve, frank_a):
            await who.request(m.Join(id=1, room="p"))
        # frank leaves node 2 but stays on node 1: after node 2's grace period he is still
        # online, and nobody is told otherwise
        await frank_b.close()
        await asyncio.sleep(2.0)  # > session_grace (1 s)
        listing = await alice.request(m.Members(id=2, room="p"))
        assert {x.user: x.presence for x in listing.members}["frank"] == "online"
        # node 3 dies: eve goes offline once her presence entry expires (ttl 3 s)
        n3.kill()
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            ev = await alice.event(m.PresenceEvent, timeout=15)
            assert ev.user != "frank"
            if ev.user == "eve" and ev.status == "offline":
                break
        waited = loop.time() - started
        assert waited < 3.0 + 3.0 * SCALE  # the TTL plus one reconcile period, with slack
        listing = await alice.request(m.Members(id=3, room="p"))
        assert {x.user: x.presence for x in listing.members} == {
            "alice": "online",
            "eve": "offline",
            "frank": "online",
        }
    finally:
        for c in (alice, eve, frank_a, frank_b):
            await c.close()


async def test_one_msg_id_through_three_nodes_is_stored_once(cluster3: Cluster) -> None:
    fp = cluster3.fingerprint
    devices = [
        await connect(node, "ana", fp, register=i == 0) for i, node in enumerate(cluster3.nodes)
    ]
    try:
        await devices[0].request(m.CreateRoom(id=1, room="once"))
        for round_ in range(15):
            replies = await asyncio.gather(
                *(
                    d.request(m.Send(id=100 + round_, room="once", msg_id=f"x{round_}", text="t"))
                    for d in devices
                )
            )
            assert {r.seq for r in replies} == {round_ + 1}
            assert sorted(r.duplicate for r in replies) == [False, True, True]
        page = await devices[2].request(m.History(id=2, room="once", limit=100))
        assert [(x.seq, x.msg_id) for x in page.messages] == [(i + 1, f"x{i}") for i in range(15)]
    finally:
        for d in devices:
            await d.close()


async def test_two_nodes_share_one_port_with_reuse_port(services: None, tmp_path: Path) -> None:
    port = free_port()
    cluster = Cluster(tmp_path, 2, extra_toml="")
    for node in cluster.nodes:
        node.port = port
        text = node.config_path.read_text()
        node.config_path.write_text(text.replace("[store]", "[server]\nreuse_port = true\n[store]"))
    clients: list[RawClient] = []
    try:
        cluster.start()
        assert all(node.port == port for node in cluster.nodes)
        for i in range(16):
            c = await RawClient.connect("127.0.0.1", port, fingerprint=cluster.fingerprint)
            await c.login(f"u{i}", register=True)
            clients.append(c)
        per_node = []
        for node in cluster.nodes:
            status = await query_status(node.data_dir)
            per_node.append(status["connections_total"])
        assert sum(per_node) == 16 and all(count > 0 for count in per_node), per_node
    finally:
        for c in clients:
            await c.close()
        await cluster.stop()


async def _from(node: Any, ip: str) -> RawClient:
    """A raw client of ``node`` from loopback address ``ip`` (one per racer: per-address
    hashing bounds stay out of the race)."""
    return await RawClient.connect(node.host, node.port, source=ip)


async def test_login_race_across_nodes(services: None, tmp_path: Path) -> None:
    """Issue 12, item 1, in a cluster: logins with the old password in flight on node 2 while
    the password changes on node 1 are refused, or closed once the revocation crosses the bus;
    no token they got resumes on either node."""
    cluster = Cluster(tmp_path, 2)
    slow = "[passwords]\ntime_cost = 2\nmemory_cost = 16384\nparallelism = 1\n"  # ~30 ms a hash
    for node in cluster.nodes:
        text = node.config_path.read_text()
        assert text.startswith(FAST_PASSWORDS_TOML)
        node.config_path.write_text(slow + text[len(FAST_PASSWORDS_TOML) :])
    try:
        cluster.start()
        n1, n2 = cluster.nodes
        victim = await connect(n1, "victim", cluster.fingerprint, register=True)
        racers = [await _from(n2, f"127.0.0.{40 + i}") for i in range(24)]
        for c in racers:
            await c.hello()
        results: list[Any] = [None] * len(racers)

        async def one(i: int) -> None:
            await asyncio.sleep(i * 0.3 / len(racers))
            c = racers[i]
            results[i] = await c.request(
                m.Login(id=c.next_id(), user="victim", password=PASSWORD), check=False, timeout=60
            )

        tasks = [asyncio.create_task(one(i)) for i in range(len(racers))]
        await asyncio.sleep(0.075)
        await victim.request(
            m.ChangePassword(id=victim.next_id(), old_password=PASSWORD, new_password="new one!")
        )
        await asyncio.gather(*tasks)
        codes = {r.code for r in results if isinstance(r, m.Error)}
        assert codes <= {"auth_failed", "busy", "login_throttled"}, codes
        logged_in = [i for i, r in enumerate(results) if isinstance(r, m.LoginOk)]

        async def survived(c: RawClient) -> str | None:
            """None if ``c`` was closed for the password change, else what happened."""
            try:
                bye = await c.event(m.ServerBye, timeout=5.0)
            except TimeoutError:
                return "still connected 5 s after the change"
            return None if bye.code == "session_revoked" else f"closed later by {bye.code}"

        outcomes = await asyncio.gather(*(survived(racers[i]) for i in logged_in))
        survivors = [(i, why) for i, why in zip(logged_in, outcomes, strict=True) if why]
        resumed = []
        for i in logged_in:
            for node in (n1, n2):
                r = await RawClient.connect(node.host, node.port, fingerprint=cluster.fingerprint)
                await r.hello()
                token = results[i].token or ""
                reply = await r.request(m.Resume(id=r.next_id(), token=token), check=False)
                if not isinstance(reply, m.Error):
                    resumed.append((i, node.port))
                await r.close()
        print(
            f"cluster login race: {len(logged_in)} logged in, {len(survivors)} survived,"
            f" {len(resumed)} tokens resumed, refused {codes}"
        )
        assert not survivors, f"logins on node 2 survived the change on node 1: {survivors}"
        assert not resumed, f"tokens of racing logins resumed: {resumed}"
        await victim.request(m.ListRooms(id=victim.next_id()))  # the changer stays
        for c in (*racers, victim):
            await c.close()
    finally:
        await cluster.stop()


@pytest.mark.parametrize(
    ("command", "code"), [("passwd", "session_revoked"), ("disable", "account_disabled")]
)
async def test_admin_cli_without_a_local_server_closes_connections_on_every_node(
    services: None, tmp_path: Path, command: str, code: str
) -> None:
    """``tertulia admin user passwd|disable`` run on a machine where no node runs (it changes
    PostgreSQL directly) still closes the user's connections on every node at once: it tells
    them over the bus, as a running server would."""
    cluster = Cluster(tmp_path, 2)
    try:
        cluster.start()
        n1, n2 = cluster.nodes
        on1 = await connect(n1, "victim", cluster.fingerprint, register=True)
        on2 = await connect(n2, "victim", cluster.fingerprint, register=False)
        ops = tmp_path / "ops"  # an operator's machine: the nodes' config, no server running
        ops.mkdir()
        args = ["admin", "--config", str(n1.config_path), "--data-dir", str(ops), "user"]
        env = {**os.environ, "TERTULIA_PASSWORD": "an operator's choice"}
        proc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tertulia", *args, command, "victim"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        assert "warning" not in proc.stderr, proc.stderr
        for c in (on1, on2):
            bye = await c.event(m.ServerBye, timeout=10.0 * SCALE)
            assert bye.code == code
    finally:
        await cluster.stop()
