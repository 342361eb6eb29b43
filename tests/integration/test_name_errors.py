"""The server says *why* a name is refused (``params.reason``), without changing any code.

A compatible addition (docs/protocol.md, section 12: new params keys): the codes stay
``invalid_name``, ``room_exists`` and ``name_taken`` as before, so old clients are unaffected;
new ones can tell "too long" from "bad character", and a look-alike of an existing room from
a room that exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tertulia.proto import messages as m
from tertulia.server.moderation import close_room
from tertulia_testkit import PASSWORD, InProcessServer, RawClient


async def _error(c: RawClient, msg: Any) -> m.Error:
    reply = await c.request(msg, check=False)
    assert isinstance(reply, m.Error), reply
    return reply


@pytest.mark.parametrize(
    ("room", "params"),
    [
        ("r" * 33, {"field": "room", "reason": "too_long", "max": 32}),
        ("g" * 200, {"field": "room", "reason": "too_long", "max": 32}),
        ("", {"field": "room", "reason": "empty"}),
        ("-x", {"field": "room", "reason": "bad_start"}),
        ("a/b", {"field": "room", "reason": "bad_character", "char": "U+002F"}),
        ("a b", {"field": "room", "reason": "not_allowed", "char": "U+0020"}),
        ("dm:x", {"field": "room", "reason": "malformed_dm"}),
    ],
)
async def test_invalid_name_says_which_rule(
    raw_client_factory: Callable[..., Any], room: str, params: dict[str, Any]
) -> None:
    c: RawClient = await raw_client_factory("alice")
    err = await _error(c, m.Join(id=c.next_id(), room=room))
    assert (err.code, err.params) == ("invalid_name", params)
    if not room.startswith("dm:"):
        err = await _error(c, m.CreateRoom(id=c.next_id(), room=room))
        assert (err.code, err.params) == ("invalid_name", params)
    # every request naming a room says the same
    err = await _error(c, m.SetTopic(id=c.next_id(), room=room, topic="t"))
    assert (err.code, err.params) == ("invalid_name", params)


async def test_dm_names_cannot_be_created(raw_client_factory: Callable[..., Any]) -> None:
    c: RawClient = await raw_client_factory("alice")
    for room in ("dm:ana:bob", "dm:x"):
        err = await _error(c, m.CreateRoom(id=c.next_id(), room=room))
        assert (err.code, err.params) == ("invalid_name", {"field": "room", "reason": "reserved"})


async def test_room_exists_says_look_alike_or_closed(
    tls_server: InProcessServer, raw_client_factory: Callable[..., Any]
) -> None:
    c: RawClient = await raw_client_factory("alice")
    await c.request(m.CreateRoom(id=c.next_id(), room="general"))
    await c.request(m.CreateRoom(id=c.next_id(), room="old"))
    err = await _error(c, m.CreateRoom(id=c.next_id(), room="general"))
    assert (err.code, err.params) == ("room_exists", {"room": "general"})  # as before
    for look_alike in ("genera1", "GENERAL".replace("L", "1")):
        err = await _error(c, m.CreateRoom(id=c.next_id(), room=look_alike))
        name = look_alike.lower()
        assert (err.code, err.params) == ("room_exists", {"room": name, "reason": "confusable"})
        err = await _error(c, m.Join(id=c.next_id(), room=look_alike))
        assert err.code == "room_not_found"  # no room has that exact name
    assert tls_server.server is not None
    assert await close_room(tls_server.server, "old")
    err = await _error(c, m.CreateRoom(id=c.next_id(), room="old"))
    assert (err.code, err.params) == ("room_exists", {"room": "old", "reason": "closed"})


async def test_name_taken_says_look_alike(raw_client_factory: Callable[..., Any]) -> None:
    await raw_client_factory("alice")
    c: RawClient = await raw_client_factory()
    await c.hello()
    err = await _error(c, m.Register(id=c.next_id(), user="alice", password=PASSWORD))
    assert (err.code, err.params) == ("name_taken", {"field": "user"})
    err = await _error(c, m.Register(id=c.next_id(), user="a1ice", password=PASSWORD))
    assert (err.code, err.params) == ("name_taken", {"field": "user", "reason": "confusable"})
    err = await _error(c, m.Register(id=c.next_id(), user="x" * 40, password=PASSWORD))
    assert (err.code, err.params) == (
        "invalid_name",
        {"field": "user", "reason": "too_long", "max": 32},
    )
