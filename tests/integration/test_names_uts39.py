"""UTS #39 through ICU (issue 12, items 5 and 6), over real TLS.

Item 5: the look-alikes the attack run registered beside ``alice`` / ``general`` are refused,
by the same rule for user and room names; names an older server stored keep working.
Item 6: an outsider cannot tell a private room's name (or a look-alike of it) from a closed
room's: ``create_room`` answers the same ``room_exists {reason: "unavailable"}`` for all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tertulia.proto import messages as m
from tertulia.server.moderation import close_room
from tertulia_testkit import PASSWORD, InProcessServer, RawClient

#: the issue's examples: Cyrillic whole-script look-alike, i + combining dot above, ten stacked
#: acute accents, a combining long solidus overlay, a small capital A
USER_LOOK_ALIKES = [
    "\u0430\u04cf\u0456\u0441\u0435",
    "ali\u0307ce",
    "alice" + "\u0301" * 10,
    "a\u0338lice",
    "\u1d00lice",
]


async def _error(c: RawClient, msg: Any) -> m.Error:
    reply = await c.request(msg, check=False)
    assert isinstance(reply, m.Error), reply
    return reply


async def test_issue_look_alikes_are_refused_for_users_and_rooms(
    raw_client_factory: Callable[..., Any],
) -> None:
    alice: RawClient = await raw_client_factory("alice")
    await alice.request(m.CreateRoom(id=alice.next_id(), room="general"))
    c: RawClient = await raw_client_factory()
    await c.hello()
    for name in USER_LOOK_ALIKES:
        err = await _error(c, m.Register(id=c.next_id(), user=name, password=PASSWORD))
        assert err.code in ("invalid_name", "name_taken"), (name, err)
        err = await _error(alice, m.CreateRoom(id=alice.next_id(), room=name))
        assert err.code in ("invalid_name", "room_exists"), (name, err)
    err = await _error(alice, m.CreateRoom(id=alice.next_id(), room="genera\u04cf"))
    assert (err.code, err.params.get("reason")) == ("invalid_name", "mixed_script")
    err = await _error(c, m.Register(id=c.next_id(), user="genera\u04cf", password=PASSWORD))
    assert (err.code, err.params.get("reason")) == ("invalid_name", "mixed_script")
    # honest names of other scripts still work
    for name in ("ñandú", "москва", "東京", "ngọc"):
        await c.request(m.Register(id=c.next_id(), user=name, password=PASSWORD))
        await alice.request(m.CreateRoom(id=alice.next_id(), room=name))


async def test_names_stored_under_older_rules_keep_working(
    tls_server: InProcessServer, raw_client_factory: Callable[..., Any]
) -> None:
    """A user and a room created before this rule (put straight into storage, as an older
    server did) still log in and are still addressed; only new ones like them are refused."""
    server = tls_server.server
    assert server is not None
    legacy = "genera\u04cf"  # Latin + Cyrillic: refused for new names now
    await server.storage.create_user(legacy, await server.passwords.hash(PASSWORD))
    await server.storage.create_room(legacy, "public", legacy, members=[legacy])
    c: RawClient = await raw_client_factory(legacy, register=False)
    reply = await c.request(m.Join(id=c.next_id(), room=legacy))
    assert isinstance(reply, m.RoomReply) and reply.room.name == legacy
    sent = await c.request(m.Send(id=c.next_id(), room=legacy, msg_id="1", text="still here"))
    assert isinstance(sent, m.Sent)
    fresh: RawClient = await raw_client_factory()
    await fresh.hello()
    err = await _error(fresh, m.Register(id=fresh.next_id(), user="bo\u0431", password=PASSWORD))
    assert (err.code, err.params.get("reason")) == ("invalid_name", "mixed_script")


async def test_private_room_names_do_not_leak_through_create_room(
    tls_server: InProcessServer, raw_client_factory: Callable[..., Any]
) -> None:
    owner: RawClient = await raw_client_factory("owner")
    for room in ("secret", "vanished", "plaza"):
        visibility = "public" if room == "plaza" else "private"
        await owner.request(m.CreateRoom(id=owner.next_id(), room=room, visibility=visibility))
    assert tls_server.server is not None
    assert await close_room(tls_server.server, "vanished")
    outsider: RawClient = await raw_client_factory("outsider")
    answers = {}
    # a private room, a look-alike of another private room (digit one for letter l), and a
    # closed private room: one and the same answer
    await owner.request(m.CreateRoom(id=owner.next_id(), room="hall", visibility="private"))
    for name in ("secret", "hal1", "vanished"):
        err = await _error(outsider, m.CreateRoom(id=outsider.next_id(), room=name))
        answers[name] = (err.code, sorted((k, v) for k, v in err.params.items() if k != "room"))
        join = await _error(outsider, m.Join(id=outsider.next_id(), room=name))
        assert join.code == "room_not_found"
    assert all(a == ("room_exists", [("reason", "unavailable")]) for a in answers.values()), answers
    # what the outsider can see anyway is said plainly
    err = await _error(outsider, m.CreateRoom(id=outsider.next_id(), room="plaza"))
    assert (err.code, err.params) == ("room_exists", {"room": "plaza"})
    err = await _error(outsider, m.CreateRoom(id=outsider.next_id(), room="p1aza"))
    assert (err.code, err.params) == ("room_exists", {"room": "p1aza", "reason": "confusable"})
    # and a member of the private room is told it exists
    err = await _error(owner, m.CreateRoom(id=owner.next_id(), room="secret"))
    assert (err.code, err.params) == ("room_exists", {"room": "secret"})
