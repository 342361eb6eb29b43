"""Issue 12, item 3: every integer field of every request has a documented range, checked before
the value reaches storage; no client value produces ``internal`` or a traceback in the log.

Before, ``history.before`` of 2^63 reached SQLite's 64-bit binding and answered ``internal``
with a full traceback (4,500 such requests wrote 7.5 MiB of log in 10 s). Here every integer
field of every client message type (found from the message structs, so a field added later is
covered too) gets -1, 2^53 (one past the documented maximum), 2^63 - 1, 2^63, 2^64, 10^30 and
-2^63 - 1, against a live server process; each must be answered ``invalid_argument`` naming the
field, and the server's log must hold no traceback. The answers are counted in
``tertulia_request_errors_total``.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi

from tertulia.proto import encode_frame
from tertulia.proto import messages as m
from tertulia_testkit import RawClient, ServerProcess

HOSTILE = [-1, 2**53, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1]
#: values that make a valid request of each type around the integer field under test
BASE: dict[str, dict[str, Any]] = {
    "history": {"room": "lobby"},
    "mark_read": {"room": "lobby", "seq": 0},
    "sync": {"cursors": {}},
    "mute": {"room": "lobby", "user": "bob"},
    "list_rooms": {},
    "members": {"room": "lobby"},
    "bans": {"room": "lobby"},
    "pong": {"nonce": 1},
    "hello": {"versions": [1]},
}


def _int_fields() -> list[tuple[str, str]]:
    """(type, field) for every client message field that holds an integer (ids aside)."""
    found = []
    for cls in m.ClientMessage.__args__:
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        for f in info.fields:
            if f.name != "id" and _has_int(f.type):
                found.append((str(cls.__struct_config__.tag), f.name))
    return found


def _has_int(t: mi.Type) -> bool:
    if isinstance(t, mi.IntType):
        return True
    if isinstance(t, mi.UnionType):
        return any(_has_int(x) for x in t.types)
    if isinstance(t, mi.ListType | mi.DictType):
        return _has_int(t.item_type if isinstance(t, mi.ListType) else t.value_type)
    return False


def _body(mtype: str, field: str, value: int, rid: int) -> bytes:
    obj: dict[str, Any] = {"type": mtype, **BASE.get(mtype, {})}
    if mtype != "pong":
        obj["id"] = rid
    if mtype == "sync":
        obj["cursors"] = {"lobby": value}
    elif mtype == "hello":
        obj["versions"] = [value]
    else:
        obj[field] = value
    return json.dumps(obj).encode()


async def test_out_of_range_integers_are_refused_before_storage(
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    fields = _int_fields()
    # the fields this test must reach (a new one is found automatically, these must be there)
    assert {("history", "before"), ("history", "after"), ("sync", "cursors")} <= set(fields)
    assert {("mark_read", "seq"), ("mute", "seconds"), ("pong", "nonce")} <= set(fields)
    srv = server_proc_factory("srv")
    bob = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await bob.login("bob", register=True)
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.login("alice", register=True)
    await c.request(m.CreateRoom(id=c.next_id(), room="lobby"))
    await bob.request(m.Join(id=bob.next_id(), room="lobby"))
    rid = 1000
    answers: list[tuple[str, str, int, Any]] = []
    for mtype, field in fields:
        for value in HOSTILE:
            rid += 1
            if mtype == "pong":  # a notice: the error answers no id
                c.write_raw(encode_frame(_body(mtype, field, value, rid)))
                c.write_raw(encode_frame(json.dumps({"type": "ping", "id": rid}).encode()))
                reply = None  # answered by an error before the ping's pong, or not at all
                while not isinstance(ev := await c.event(m.Error | m.PongReply), m.PongReply):
                    reply = ev
            else:
                fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                c._pending[rid] = fut
                c.write_raw(encode_frame(_body(mtype, field, value, rid)))
                reply = await asyncio.wait_for(fut, 10)
            answers.append((mtype, field, value, reply))
    wrong = [
        (t, f, v, getattr(r, "code", r), getattr(r, "params", None))
        for t, f, v, r in answers
        if not (isinstance(r, m.Error) and r.code == "invalid_argument" and r.params["field"] == f)
    ]
    assert not wrong, wrong[:10]
    await c.request(m.Ping(id="still-alive"))  # non-fatal: the connection goes on
    await c.close()
    await bob.close()
    log = srv.stderr_path.read_text(errors="replace")
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]
    metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{srv.http_port}/metrics")
    counted = [ln for ln in metrics.splitlines() if ln.startswith("tertulia_request_errors_total")]
    assert any('code="invalid_argument"' in ln for ln in counted), counted
    assert "tertulia_internal_errors_total 0" in metrics


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return str(r.read().decode())


def test_every_integer_range_is_in_the_decoder() -> None:
    """Unit check: the schema itself bounds each integer field (min 0, max 2^53 - 1)."""
    for mtype, field in _int_fields():
        cls = next(k for k in m.ClientMessage.__args__ if k.__struct_config__.tag == mtype)
        body = _body(mtype, field, 2**53, 1)
        try:
            msgspec.json.decode(body, type=cls)
        except msgspec.ValidationError:
            continue
        raise AssertionError(f"{mtype}.{field} accepts 2^53")
