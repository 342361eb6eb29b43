"""The hub's cluster-facing behaviour with a single node: peer events and gap backfill."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tertulia.proto import messages as m
from tertulia.server.bus.base import MessageCommitted, TopicChanged, decode_event, encode_event
from tertulia.server.storage.base import NewMessage
from tertulia_testkit import InProcessServer


async def test_seq_gap_from_a_peer_is_backfilled_from_storage(
    tls_server: InProcessServer, raw_client_factory: Callable[..., Any]
) -> None:
    """A lost bus event: seq 2 arrives, 1 never does; the hub fetches 1 from storage."""
    alice = await raw_client_factory("alice")
    await alice.request(m.CreateRoom(id=1, room="r"))
    server = tls_server.server
    assert server is not None
    # another node commits two messages; only the event for the second reaches us
    now = int(time.time() * 1000)
    s1 = await server.storage.append(NewMessage("r", "bob", "x1", "first", "text", now))
    s2 = await server.storage.append(NewMessage("r", "bob", "x2", "second", "text", now))
    ev = MessageCommitted(
        origin="node-b",
        room="r",
        seq=s2.seq,
        msg_id="x2",
        sender="bob",
        ts=now,
        text="second",
        kind="text",
    )
    server.hub.on_peer_event(decode_event(encode_event(ev)))
    got = [await alice.event(m.Message), await alice.event(m.Message)]
    assert [(g.seq, g.text) for g in got] == [(s1.seq, "first"), (s2.seq, "second")]


async def test_peer_topic_event_reaches_local_members(
    tls_server: InProcessServer, raw_client_factory: Callable[..., Any]
) -> None:
    alice = await raw_client_factory("alice")
    await alice.request(m.CreateRoom(id=1, room="r"))
    assert tls_server.server is not None
    hub = tls_server.server.hub
    hub.on_peer_event(TopicChanged(origin="node-b", room="r", topic="from b", by="bob"))
    assert (await alice.event(m.TopicEvent)).topic == "from b"
    # our own echo is ignored
    hub.on_peer_event(TopicChanged(origin=hub.bus.node_id, room="r", topic="echo", by="x"))
    assert hub.rooms["r"].topic == "from b"
