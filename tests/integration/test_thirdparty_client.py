"""A client written only from docs/protocol.md interoperates with the real server.

``thirdparty_client`` uses nothing but the standard library and the document; these tests run it
(synchronously) against ``tertulia server`` in a subprocess. The server is configured with
non-default limits and a 1-second heartbeat, so the client has to use what ``hello_ok``
announces (§3) and has to answer the server's pings while it works (§5 Heartbeat).

Server configuration is documented nowhere; the ``[heartbeat]``/``[limits]`` keys below were
found by trial (the server refuses unknown settings, so they are real). The bulk sends rely on
``ServerProcess`` relaxing the server's message rate limit: with the server's defaults a client
gets ``rate_limited`` after ~50 quick sends, a code protocol.md §11 calls "reserved".
"""

from __future__ import annotations

import re
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from thirdparty_client import (
    Client,
    FingerprintMismatch,
    LocalLimitError,
    ServerError,
    connect,
    encode_frame,
)

PASSWORD = "correct horse battery"
CONFIG = """
[heartbeat]
interval = 1.0
timeout = 1.0
[limits]
max_text = 100
max_frame_pre_auth = 2048
"""
ANNOUNCED = {"max_text": 100, "max_frame_pre_auth": 2048}


def _server(factory: Callable[..., Any]) -> Any:
    return factory(extra_toml=CONFIG)


def _seqs(msgs: list[dict[str, Any]]) -> list[int]:
    return [m["seq"] for m in msgs]


def test_fingerprint_pinning(server_proc_factory: Callable[..., Any]) -> None:
    srv = _server(server_proc_factory)
    fp = srv.fingerprint
    # §1: "SHA256:" + 32 colon-separated pairs of uppercase hex digits
    assert re.fullmatch(r"SHA256:[0-9A-F]{2}(:[0-9A-F]{2}){31}", fp)
    with Client(srv.host, srv.port, fingerprint=fp) as c:  # our own digest of the DER matches
        assert c.tls_version == "TLSv1.3"  # §1: TLS 1.3 by default
        ok = c.hello()
        assert ok["version"] == 1
        assert {k: ok["limits"][k] for k in ANNOUNCED} == ANNOUNCED
        assert ok["heartbeat_interval"] == 1.0
    wrong = fp[:-1] + ("0" if fp[-1] != "0" else "1")
    for bad in (wrong, fp.lower()):
        with pytest.raises(FingerprintMismatch):
            Client(srv.host, srv.port, fingerprint=bad)


def test_two_clients_chat_duplicate_history_and_sync(
    server_proc_factory: Callable[..., Any],
) -> None:
    srv = _server(server_proc_factory)
    host, port, fp = srv.host, srv.port, srv.fingerprint
    ana = connect(host, port, fp, user="Ana", password=PASSWORD, register=True)
    bob = connect(host, port, fp, user="bob", password=PASSWORD, register=True)
    try:
        assert ana.user == "ana"  # §6 login_ok: the normalized name
        info = ana.create_room("General", topic="anything goes")
        assert (info["name"], info["visibility"], info["member_count"]) == ("general", "public", 1)
        assert bob.join("general")["member_count"] == 2
        assert ana.wait_for("member", room="general", user="bob")["action"] == "joined"

        # --- chat: alternate senders; both see every message once, in seq order
        sent: list[dict[str, Any]] = []
        for i in range(6):
            who = ana if i % 2 == 0 else bob
            ack = who.send("general", f"line {i}", kind="me" if i == 5 else "text")
            # §4 Ordering: `sent` is written before the message's `message` on that connection
            assert not [e for e in who.events if e.get("msg_id") == ack["msg_id"]]
            assert ack["duplicate"] is False
            sent.append(ack)
        assert _seqs(sent) == [1, 2, 3, 4, 5, 6]
        for c in (ana, bob):
            got = c.messages("general", 6)
            assert _seqs(got) == [1, 2, 3, 4, 5, 6]
            assert [m["text"] for m in got] == [f"line {i}" for i in range(6)]
            assert [m["sender"] for m in got] == ["ana", "bob"] * 3
            assert [m["kind"] for m in got] == ["text"] * 5 + ["me"]
            assert [(m["msg_id"], m["ts"]) for m in got] == [(s["msg_id"], s["ts"]) for s in sent]

        # --- idempotent send (§10): same msg_id -> same seq and ts, duplicate, nothing stored
        again = ana.send("general", "line 0", msg_id=sent[0]["msg_id"])
        assert again["duplicate"] is True
        assert (again["seq"], again["ts"]) == (sent[0]["seq"], sent[0]["ts"])
        ana.create_room("side")
        with pytest.raises(ServerError) as ei:  # §10: a msg_id of another room
            ana.send("side", "x", msg_id=sent[0]["msg_id"])
        assert ei.value.code == "msg_id_conflict"
        nxt = bob.send("general", "after the duplicate")
        assert nxt["seq"] == 7  # the duplicate took no seq
        for c in (ana, bob):
            assert _seqs(c.messages("general", 1)) == [7]
            assert not c.dropped_duplicates

        # --- history paging (§6 history) over 60 messages, beyond the default limit of 50
        for i in range(53):
            ana.send("general", f"bulk {i}")
        total = 60
        assert _seqs(bob.messages("general", 53)) == list(range(8, total + 1))
        page = bob.history("general")  # neither before nor after: the latest `limit` (50)
        assert _seqs(page["messages"]) == list(range(total - 49, total + 1))
        assert page["more"] is True
        assert all(m["type"] == "message" and m["room"] == "general" for m in page["messages"])

        backwards: list[dict[str, Any]] = []
        page = bob.history("general", limit=7)
        while True:
            assert 0 < len(page["messages"]) <= 7
            backwards[:0] = page["messages"]
            if not page["more"]:
                break
            page = bob.history("general", before=page["messages"][0]["seq"], limit=7)
        assert _seqs(backwards) == list(range(1, total + 1))

        forwards: list[dict[str, Any]] = []
        cursor = 0
        while True:
            page = bob.history("general", after=cursor, limit=7)
            forwards += page["messages"]
            if not page["more"]:
                break
            cursor = page["messages"][-1]["seq"]
        assert forwards == backwards
        assert forwards[5]["kind"] == "me" and forwards[0]["text"] == "line 0"

        # exact boundaries of `more`
        first = bob.history("general", before=4, limit=3)
        assert (_seqs(first["messages"]), first["more"]) == ([1, 2, 3], False)
        last = bob.history("general", after=total - 3, limit=3)
        assert (_seqs(last["messages"]), last["more"]) == ([58, 59, 60], False)
        empty = bob.history("general", after=total)
        assert (empty["messages"], empty["more"]) == ([], False)
        cap = ana.limits["max_history_page"]
        assert len(bob.history("general", limit=cap)["messages"]) == total
        with pytest.raises(ServerError):  # §3: limit is 1 to max_history_page
            bob.history("general", limit=cap + 1)

        # --- disconnect, miss messages, reconnect and sync (§10)
        bob.join("side")
        bob.leave("side")  # a room bob is no longer in is left out of `synced`
        cursors = dict(bob.cursors)
        assert cursors == {"general": total}
        bob.close()
        missed = [ana.send("general", f"missed {i}") for i in range(5)]
        assert _seqs(missed) == list(range(total + 1, total + 6))

        bob = connect(host, port, fp, user="bob", password=PASSWORD)
        bob.cursors = cursors
        replayed, synced = bob.sync({**cursors, "side": 0, "no-such-room": 3})
        assert _seqs(replayed) == list(range(total + 1, total + 6))
        assert [m["text"] for m in replayed] == [f"missed {i}" for i in range(5)]
        assert synced == {"general": total + 5}
        assert not bob.dropped_duplicates

        # --- sync while live messages arrive: every seq once, in order (§6 sync)
        stop_at = total + 5
        ana_sends: list[dict[str, Any]] = []

        def chatter() -> None:
            for i in range(20):
                ana_sends.append(ana.send("general", f"live {i}"))

        t = threading.Thread(target=chatter)
        t.start()
        try:
            replayed, synced = bob.sync({"general": stop_at - 3})
        finally:
            t.join()
        assert len(ana_sends) == 20
        # the three already-seen messages are replayed but are not above bob's cursor
        raw_replay = _seqs(bob.dropped_duplicates)
        assert raw_replay == [stop_at - 2, stop_at - 1, stop_at]
        bob.dropped_duplicates.clear()
        live = bob.messages("general", 20 - len(replayed))
        assert _seqs(replayed + live) == list(range(stop_at + 1, stop_at + 21))
        assert synced["general"] >= stop_at
        assert not bob.dropped_duplicates  # the server sent no seq twice

        # --- resend from the outbox after a lost acknowledgement (§10 "After a reconnect")
        lost = {"type": "send", "id": 999, "room": "general", "msg_id": "lost-ack", "text": "?"}
        bob.outbox["lost-ack"] = lost
        bob.send_frame(lost)
        stored = ana.wait_for("message", room="general", msg_id="lost-ack")
        bob.close()  # the `sent` is never read
        bob = connect(host, port, fp, user="bob", password=PASSWORD)
        bob.outbox = {"lost-ack": lost}
        (ack,) = bob.resend_outbox()
        assert ack["duplicate"] is True and ack["seq"] == stored["seq"]
        assert bob.outbox == {}
    finally:
        ana.close()
        bob.close()


def test_errors_by_code(server_proc_factory: Callable[..., Any]) -> None:
    srv = _server(server_proc_factory)
    host, port, fp = srv.host, srv.port, srv.fingerprint

    def raw_body(c: Client, body: bytes) -> None:
        c.send_raw(struct.pack(">I", len(body)) + body)

    ana = connect(host, port, fp, user="ana", password=PASSWORD, register=True)
    bob = connect(host, port, fp, user="bob", password=PASSWORD, register=True)
    try:
        ana.create_room("general")
        ana.create_room("secret", visibility="private")

        # unknown type: non-fatal, params.type, the request id is copied
        with pytest.raises(ServerError) as ei:
            bob.request({"type": "frobnicate", "id": "x1"})
        assert (ei.value.code, ei.value.id, ei.value.params) == (
            "unknown_type",
            "x1",
            {"type": "frobnicate"},
        )
        # bad JSON: non-fatal, no id can be read -> id null
        raw_body(bob, b'{"type": "ping", "id": ')
        err = bob.expect_error()
        assert (err.code, err.id) == ("bad_json", None)
        raw_body(bob, b'{"type":"ping","id":"\xff"}')  # not UTF-8
        assert bob.expect_error().code == "bad_json"
        # bad message: a readable id is reported; a malformed id gives id null (§4)
        raw_body(bob, b'{"type":"send","id":41,"room":"general"}')
        with pytest.raises(ServerError) as ei:
            bob.wait_response(41)
        assert (ei.value.code, ei.value.params.get("type")) == ("bad_message", "send")
        raw_body(bob, b'{"type":"ping","id":1.5}')
        err = bob.expect_error()
        assert (err.code, err.id) == ("bad_message", None)
        assert bob.ping("still-alive")["id"] == "still-alive"  # the connection continued

        # not a member (public room): send, history, members; typing notice -> id null
        for req in (
            {"type": "send", "room": "general", "msg_id": "nm", "text": "hi"},
            {"type": "history", "room": "general"},
            {"type": "members", "room": "general"},
        ):
            with pytest.raises(ServerError) as ei:
                bob.request(req)
            assert ei.value.code == "not_member", req
        bob.send_frame({"type": "typing", "room": "general"})
        err = bob.expect_error()
        assert (err.code, err.id) == ("not_member", None)
        # private rooms are not revealed
        for req in ({"type": "join", "room": "secret"}, {"type": "history", "room": "secret"}):
            with pytest.raises(ServerError) as ei:
                bob.request(req)
            assert ei.value.code == "room_not_found"

        # text too long, by the announced limit (100 here, not the default 4000)
        max_text = bob.limits["max_text"]
        assert max_text == 100
        bob.join("general")
        with pytest.raises(LocalLimitError):  # the client checks before sending (§3)
            bob.send("general", "x" * (max_text + 1))
        with pytest.raises(ServerError) as ei:
            bob.send("general", "x" * (max_text + 1), check_length=False)
        assert (ei.value.code, ei.value.params) == ("text_too_long", {"max": max_text})
        # characters, not bytes: max_text 4-byte characters are fine
        assert bob.send("general", "\U0001f600" * max_text)["seq"] == 1
        with pytest.raises(ServerError) as ei:
            bob.send("general", "")
        assert ei.value.code == "invalid_argument"

        # a few more documented codes
        with pytest.raises(ServerError) as ei:
            bob.request({"type": "login", "user": "bob", "password": PASSWORD})
        assert ei.value.code == "already_authenticated"
        with pytest.raises(ServerError) as ei:
            bob.request({"type": "hello", "versions": [1]})
        assert ei.value.code == "invalid_argument"
        with pytest.raises(ServerError) as ei:
            ana.create_room("dm:ana:bob")
        assert (ei.value.code, ei.value.params.get("field")) == ("invalid_name", "room")
        with pytest.raises(ServerError) as ei:
            ana.create_room("t", topic="x" * 513)
        assert (ei.value.code, ei.value.params) == (
            "invalid_argument",
            {"field": "topic", "max": 512},
        )
    finally:
        ana.close()
        bob.close()

    # before hello / before login
    with Client(host, port, fingerprint=fp) as c:
        with pytest.raises(ServerError) as ei:
            c.ping()
        assert ei.value.code == "hello_required"
        c.hello()
        with pytest.raises(ServerError) as ei:
            c.request({"type": "join", "room": "general"})
        assert ei.value.code == "not_authenticated"
        assert c.ping()["type"] == "pong"  # allowed before login
        with pytest.raises(ServerError) as ei:
            c.register("carla", "short")
        assert (ei.value.code, ei.value.params.get("min")) == ("weak_password", 8)
        with pytest.raises(ServerError) as ei:
            c.register("c" * (c.limits["max_name"] + 1), PASSWORD)
        max_name = c.limits["max_name"]
        assert (ei.value.code, ei.value.params) == (
            "invalid_name",
            {"field": "user", "reason": "too_long", "max": max_name},
        )
        with pytest.raises(ServerError) as ei:
            c.register("ana", PASSWORD)
        assert ei.value.code == "name_taken"
        with pytest.raises(ServerError) as ei:
            c.login("ana", "wrong password")
        assert ei.value.code == "auth_failed"

    # unsupported version is fatal
    with Client(host, port, fingerprint=fp) as c:
        with pytest.raises(ServerError) as ei:
            c.hello(versions=[7])
        assert (ei.value.code, ei.value.params) == ("unsupported_version", {"supported": [1]})
        assert ei.value.fatal
        c.read_until_closed()


def test_frame_limits(server_proc_factory: Callable[..., Any]) -> None:
    srv = _server(server_proc_factory)
    host, port, fp = srv.host, srv.port, srv.fingerprint

    def padded_ping(size: int) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "ping", "id": "pad", "pad": ""}  # unknown field: ignored
        msg["pad"] = "x" * (size - (len(encode_frame(msg)) - 4))
        assert len(encode_frame(msg)) - 4 == size
        return msg

    with Client(host, port, fingerprint=fp) as c:
        c.hello()
        limit = c.limits["max_frame_pre_auth"]
        assert limit == 2048
        assert c.request(padded_ping(limit))["type"] == "pong"  # exactly the limit is fine
        with pytest.raises(LocalLimitError):  # §3: a client MUST NOT send it
            c.send_frame(padded_ping(limit + 1))
        # Only the header: the server decides from the 4 bytes alone and never waits for a body.
        c.send_raw(struct.pack(">I", limit + 1))
        frames = c.read_until_closed(timeout=5)
        errors = [f for f in frames if f["type"] == "error"]
        assert errors, frames
        assert errors[0]["code"] == "frame_too_large"
        assert errors[0]["params"] == {"size": limit + 1, "max": limit}
        assert c.closed

    # after login_ok the limit is max_frame
    with connect(host, port, fp, user="dora", password=PASSWORD, register=True) as c:
        big = c.limits["max_frame_pre_auth"] * 3
        assert big < c.limits["max_frame"]
        assert c.request(padded_ping(big))["type"] == "pong"
        c.send_raw(struct.pack(">I", c.limits["max_frame"] + 1))
        frames = c.read_until_closed(timeout=5)
        codes = [f.get("code") for f in frames if f["type"] in ("error", "bye")]
        assert "frame_too_large" in codes

    # a zero-length frame is fatal bad_frame
    with Client(host, port, fingerprint=fp) as c:
        c.hello()
        c.send_raw(struct.pack(">I", 0))
        frames = c.read_until_closed(timeout=5)
        assert [f["code"] for f in frames if f["type"] == "error"] == ["bad_frame"]


def test_heartbeat(server_proc_factory: Callable[..., Any]) -> None:
    srv = _server(server_proc_factory)
    with connect(
        srv.host, srv.port, srv.fingerprint, user="eve", password=PASSWORD, register=True
    ) as c:
        interval = c.heartbeat_interval
        assert interval == 1.0
        # Idle past several intervals and timeouts: each ping is answered, the link stays up.
        # (Observed: the first ping comes ~2 intervals after the last request, then one per
        # interval; see the report on §5 Heartbeat.)
        for _ in range(3):
            c.wait_for("ping", timeout=interval * 2 + 1.5)
        assert len(c.pings_answered) == 3
        assert c.ping("alive")["type"] == "pong"

    # a client that does not answer is told `bye timeout` and disconnected
    with Client(srv.host, srv.port, fingerprint=srv.fingerprint) as mute:
        mute.hello()
        mute.send_frame = lambda msg: None  # type: ignore[method-assign]  # never pong
        started = time.monotonic()
        frames = mute.read_until_closed(timeout=10)
        assert [f["type"] for f in frames] == ["ping", "bye"]
        assert frames[1]["code"] == "timeout"
        assert time.monotonic() - started < 5
