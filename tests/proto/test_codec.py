"""Tests of tertulia.proto.codec and messages: round trips, strict types, lenient extra fields."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from proto_strategies import CLIENT_STRUCTS, SERVER_STRUCTS, json_values, struct_strategy

from tertulia.proto import (
    ErrorCode,
    RemoteProtocolError,
    decode_client,
    decode_server,
    encode,
    encode_body,
    encode_frame,
)
from tertulia.proto import messages as m
from tertulia.proto.messages import CLIENT_TYPES, SERVER_TYPES

FAST = settings(max_examples=40, deadline=None)

Decoder = Any  # decode_client | decode_server

#: well-formed ids (the ones echoed back): |int| < 2**53, or 1..64 characters
request_ids = st.integers(-(2**53) + 1, 2**53 - 1) | st.text(min_size=1, max_size=16)


def tag(cls: type[msgspec.Struct]) -> str:
    return str(cls.__struct_config__.tag)


def err(body: bytes, decode: Decoder = decode_client) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        decode(body)
    exc = info.value
    assert not exc.fatal, "decoding errors concern one frame and are never fatal"
    return exc


# ----------------------------------------------------------------------------- round trips


def test_every_type_is_covered() -> None:
    assert {tag(c) for c in CLIENT_STRUCTS} == CLIENT_TYPES
    assert {tag(c) for c in SERVER_STRUCTS} == SERVER_TYPES
    assert len(CLIENT_TYPES) == len(CLIENT_STRUCTS), "duplicate client tag"
    assert len(SERVER_TYPES) == len(SERVER_STRUCTS), "duplicate server tag"


@pytest.mark.parametrize("cls", CLIENT_STRUCTS, ids=tag)
@FAST
@given(data=st.data())
def test_client_message_round_trip(cls: type[msgspec.Struct], data: st.DataObject) -> None:
    msg = data.draw(struct_strategy(cls))
    body = encode_body(msg)
    assert json.loads(body)["type"] == tag(cls)
    assert decode_client(body) == msg
    assert encode(msg) == encode_frame(body)


@pytest.mark.parametrize("cls", SERVER_STRUCTS, ids=tag)
@FAST
@given(data=st.data())
def test_server_message_round_trip(cls: type[msgspec.Struct], data: st.DataObject) -> None:
    msg = data.draw(struct_strategy(cls))
    body = encode_body(msg)
    assert json.loads(body)["type"] == tag(cls)
    assert decode_server(body) == msg
    assert encode(msg) == encode_frame(body)


LIMITS = m.Limits(
    max_frame_pre_auth=4096, max_frame=65536, max_text=4000, max_history_page=200, max_name=32
)
ROOM = m.RoomInfo(name="general", visibility="public", topic="hi", last_seq=3, read_seq=1)
MESSAGE = m.Message(room="general", seq=3, msg_id="a1", sender="ana", ts=1700000000000, text="x")

#: One explicit instance per struct, readable in a failure report.
EXPLICIT_CLIENT: list[msgspec.Struct] = [
    m.Hello(id=1, versions=[1], client="tertulia-cli/0.1"),
    m.Register(id=2, user="ana", password="correct horse"),
    m.Login(id="l", user="ana", password="correct horse"),
    m.Logout(id=3),
    m.CreateRoom(id=4, room="general", visibility="private", topic="t"),
    m.Join(id=5, room="general"),
    m.Leave(id=6, room="general"),
    m.ListRooms(id=7),
    m.Invite(id=8, room="general", user="bob"),
    m.ListInvitations(id=8),
    m.AcceptInvitation(id=8, room="plans"),
    m.DeclineInvitation(id=8, room="plans"),
    m.SetTopic(id=9, room="general", topic="new"),
    m.OpenDm(id=10, user="bob"),
    m.Send(id=11, room="general", msg_id="m-1", text="hello", kind="me"),
    m.History(id=12, room="general", before=10, limit=20),
    m.Members(id=13, room="general"),
    m.MarkRead(id=14, room="general", seq=3),
    m.Presence(id=15, status="away"),
    m.Sync(id=16, cursors={"general": 3, "dm:ana:bob": 0}),
    m.Ping(id=17),
    m.Typing(room="general"),
    m.Pong(nonce=42),
    m.Resume(id=18, token="dG9rZW4"),
    m.ChangePassword(id=19, old_password="correct horse", new_password="battery staple"),
    m.Kick(id=20, room="general", user="bob", reason="off topic"),
    m.Ban(id=21, room="general", user="bob"),
    m.Unban(id=22, room="general", user="bob"),
    m.Bans(id=23, room="general"),
    m.Mute(id=24, room="general", user="bob", seconds=600),
    m.Unmute(id=25, room="general", user="bob"),
    m.SetRole(id=26, room="general", user="bob", role="moderator"),
    m.DisableUser(id=27, user="bob"),
    m.CloseRoom(id=28, room="general"),
]
EXPLICIT_SERVER: list[msgspec.Struct] = [
    m.HelloOk(id=1, version=1, server="tertulia/0.1.0", limits=LIMITS, heartbeat_interval=20.0),
    m.Ok(id=2),
    m.LoginOk(id="l", user="ana", admin=True),
    m.RoomReply(id=4, room=ROOM),
    m.RoomList(id=7, rooms=[ROOM, m.RoomInfo(name="dm:ana:bob", visibility="dm", peer="bob")]),
    m.Sent(id=11, room="general", msg_id="m-1", seq=4, ts=1700000000001, duplicate=True),
    MESSAGE,
    m.HistoryPage(id=12, room="general", messages=[MESSAGE], more=True),
    m.MemberList(id=13, room="general", members=[m.Member(user="bob", presence="offline")]),
    m.Synced(id=16, cursors={"general": 3}),
    m.PongReply(id=17),
    m.Error(id=None, code="not_member", message="not a member", params={"room": "x"}),
    m.PresenceEvent(user="bob", status="online"),
    m.TypingEvent(room="general", user="bob"),
    m.MemberEvent(room="general", user="bob", action="invited"),
    m.TopicEvent(room="general", topic="new", by="ana"),
    m.ReadEvent(room="general", seq=3),
    m.RoomAdded(room=ROOM),
    m.ServerPing(nonce=42),
    m.ServerBye(code="shutting_down", message="bye"),
    m.RoomRemoved(room="general", reason="banned", by="ana"),
    m.RoleEvent(room="general", user="bob", role="moderator", by="ana"),
    m.MutedEvent(room="general", user="bob", by="ana", until=1700000600000),
    m.UnmutedEvent(room="general", user="bob", by="ana"),
    m.BanList(id=23, room="general", bans=[m.BanEntry(user="bob", by="ana", ts=1)]),
    m.InvitationList(
        id=24, invitations=[m.Invitation(room="plans", by="ana", visibility="private", ts=1)]
    ),
    m.InvitationEvent(invitation=m.Invitation(room="plans", by="ana", visibility="public")),
    m.InvitationRemoved(room="plans", reason="declined"),
]


def test_explicit_lists_cover_every_type() -> None:
    assert [type(x) for x in EXPLICIT_CLIENT] == list(CLIENT_STRUCTS)
    assert [type(x) for x in EXPLICIT_SERVER] == list(SERVER_STRUCTS)


@pytest.mark.parametrize("msg", EXPLICIT_CLIENT, ids=lambda x: type(x).__name__)
def test_explicit_client_round_trip(msg: msgspec.Struct) -> None:
    assert decode_client(encode_body(msg)) == msg


@pytest.mark.parametrize("msg", EXPLICIT_SERVER, ids=lambda x: type(x).__name__)
def test_explicit_server_round_trip(msg: msgspec.Struct) -> None:
    assert decode_server(encode_body(msg)) == msg


def test_same_tag_means_different_structs_per_direction() -> None:
    assert decode_client(b'{"type":"ping","id":1}') == m.Ping(id=1)
    assert decode_server(b'{"type":"ping","nonce":1}') == m.ServerPing(nonce=1)
    assert decode_client(b'{"type":"pong","nonce":1}') == m.Pong(nonce=1)
    assert decode_server(b'{"type":"pong","id":1}') == m.PongReply(id=1)
    assert decode_client(b'{"type":"typing","room":"r"}') == m.Typing(room="r")
    assert decode_server(b'{"type":"typing","room":"r","user":"u"}') == m.TypingEvent(
        room="r", user="u"
    )


def test_defaults_apply_when_fields_are_absent() -> None:
    assert decode_client(b'{"type":"hello","id":1,"versions":[1]}') == m.Hello(
        id=1, versions=[1], client=""
    )
    assert decode_client(b'{"type":"history","id":1,"room":"r"}') == m.History(
        id=1, room="r", before=None, after=None, limit=50
    )
    assert decode_client(b'{"type":"create_room","id":1,"room":"r"}').visibility == "public"  # type: ignore[union-attr]
    error = decode_server(b'{"type":"error","code":"x","message":"y"}')
    assert error == m.Error(id=None, code="x", message="y", params={})
    assert (
        decode_server(b'{"type":"error","id":null,"code":"x","message":"y","params":{}}') == error
    )


# ----------------------------------------------------------------------------- leniency


@FAST
@given(
    msg=st.sampled_from(EXPLICIT_CLIENT),
    extra=st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=4),
)
def test_unknown_fields_are_ignored(msg: msgspec.Struct, extra: dict[str, Any]) -> None:
    known = set(msg.__struct_fields__) | {"type"}
    obj = json.loads(encode_body(msg))
    obj.update({k: v for k, v in extra.items() if k not in known})
    assert decode_client(json.dumps(obj).encode()) == msg


def test_whitespace_around_the_object_is_accepted() -> None:
    assert decode_client(b' \n{"type":"ping","id":1}\t ') == m.Ping(id=1)


# ----------------------------------------------------------------------------- error codes


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b'{"type":"ping","id":1}x', b'{"type":"ping",}', b"\xff\xfe", b""],
)
def test_invalid_json_is_bad_json(body: bytes) -> None:
    exc = err(body)
    assert exc.code is ErrorCode.BAD_JSON
    assert exc.request_id is None


@pytest.mark.parametrize("body", [b"[]", b"1", b'"ping"', b"null", b"true", b'[{"type":"ping"}]'])
def test_non_object_is_bad_message(body: bytes) -> None:
    exc = err(body)
    assert exc.code is ErrorCode.BAD_MESSAGE
    assert exc.request_id is None


@FAST
@given(rid=request_ids, mtype=st.text(max_size=20).filter(lambda t: t not in CLIENT_TYPES))
def test_unknown_type_recovers_id(rid: int | str, mtype: str) -> None:
    exc = err(json.dumps({"type": mtype, "id": rid}).encode())
    assert exc.code is ErrorCode.UNKNOWN_TYPE
    assert exc.request_id == rid


def test_server_only_type_sent_to_server_is_unknown() -> None:
    exc = err(b'{"type":"hello_ok","id":"x"}')
    assert exc.code is ErrorCode.UNKNOWN_TYPE
    assert exc.request_id == "x"
    exc = err(b'{"type":"join","id":"x","room":"r"}', decode_server)
    assert exc.code is ErrorCode.UNKNOWN_TYPE


def test_unknown_type_params_are_bounded() -> None:
    exc = err(json.dumps({"type": "x" * 10_000}).encode())
    assert exc.code is ErrorCode.UNKNOWN_TYPE
    assert len(exc.params["type"]) <= 64


#: A value of the wrong JSON type for every field of every client message (an object whose
#: member is an array: not a string, number, boolean, list, or dict of integers).
WRONG = {"bad": [None]}


def _required_fields(cls: type[msgspec.Struct]) -> list[str]:
    defaults = len(cls.__struct_defaults__)
    fields = cls.__struct_fields__
    return list(fields[: len(fields) - defaults]) if defaults else list(fields)


CASES = [
    (msg, field) for msg in EXPLICIT_CLIENT for field in msg.__struct_fields__ if field != "id"
]


@pytest.mark.parametrize(
    ("msg", "field"), CASES, ids=[f"{type(m_).__name__}.{f}" for m_, f in CASES]
)
@settings(max_examples=10, deadline=None)
@given(rid=request_ids)
def test_wrong_field_type_is_bad_message_with_id(
    msg: msgspec.Struct, field: str, rid: int | str
) -> None:
    obj = json.loads(encode_body(msg))
    obj[field] = WRONG
    if "id" in msg.__struct_fields__:
        obj["id"] = rid
    exc = err(json.dumps(obj).encode())
    assert exc.code is ErrorCode.BAD_MESSAGE
    assert exc.request_id == (rid if "id" in msg.__struct_fields__ else None)


@pytest.mark.parametrize("msg", EXPLICIT_CLIENT, ids=lambda x: type(x).__name__)
def test_missing_required_field_is_bad_message(msg: msgspec.Struct) -> None:
    for field in _required_fields(type(msg)):
        if field == "id":
            continue
        obj = json.loads(encode_body(msg))
        del obj[field]
        exc = err(json.dumps(obj).encode())
        assert exc.code is ErrorCode.BAD_MESSAGE, field
        assert exc.request_id == getattr(msg, "id", None)


@pytest.mark.parametrize("msg", [x for x in EXPLICIT_CLIENT if hasattr(x, "id")], ids=repr)
def test_request_without_id_is_bad_message(msg: msgspec.Struct) -> None:
    obj = json.loads(encode_body(msg))
    del obj["id"]
    exc = err(json.dumps(obj).encode())
    assert exc.code is ErrorCode.BAD_MESSAGE
    assert exc.request_id is None


@pytest.mark.parametrize("bad_id", [True, False, 1.5, None, [], {}])
def test_id_of_wrong_type_is_bad_message_without_id(bad_id: Any) -> None:
    exc = err(json.dumps({"type": "ping", "id": bad_id}).encode())
    assert exc.code is ErrorCode.BAD_MESSAGE
    assert exc.request_id is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"type":"hello","id":1,"versions":"1"}',
        b'{"type":"send","id":1,"room":"r","msg_id":"m","text":"t","kind":"shout"}',
        b'{"type":"set_presence","id":1,"status":"offline"}',
        b'{"type":"create_room","id":1,"room":"r","visibility":"dm"}',
        b'{"type":"sync","id":1,"cursors":{"r":"3"}}',
        b'{"type":"mark_read","id":1,"room":"r","seq":1.5}',
        b'{"type":"history","id":1,"room":"r","limit":true}',
    ],
)
def test_value_outside_the_declared_type_is_bad_message(body: bytes) -> None:
    exc = err(body)
    assert exc.code is ErrorCode.BAD_MESSAGE
    assert exc.request_id == 1


def test_invalid_utf8_inside_a_string_is_bad_json() -> None:
    """Semantics: a frame body is UTF-8 JSON; anything else is bad_json (non-fatal)."""
    exc = err(b'{"type":"ping","id":"\xff"}')
    assert exc.code is ErrorCode.BAD_JSON


def test_lone_surrogate_escape_is_rejected() -> None:
    exc = err(b'{"type":"typing","room":"\\ud800"}')
    assert exc.code in {ErrorCode.BAD_JSON, ErrorCode.BAD_MESSAGE}


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 2000 + b"]" * 2000,
        b'{"type":"ping","id":' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'{"type":"nope","x":' + b"[" * 2000 + b"]" * 2000 + b"}",
    ],
    ids=["array", "field", "unknown-type"],
)
def test_deeply_nested_json_is_an_error_frame_not_a_crash(body: bytes) -> None:
    """These bodies fit in the 4096-byte pre-auth limit, so any peer can send them."""
    assert len(body) <= 4096
    exc = err(body)
    assert exc.code in {ErrorCode.BAD_JSON, ErrorCode.BAD_MESSAGE, ErrorCode.UNKNOWN_TYPE}


_FRAGMENTS = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b":", b",", b'"type"', b'"id"', b'"ping"', b'"send"', b"1",
     b"-", b".5", b"e9", b"null", b"true", b"\\", b"\\u", b"d800", b"\xff", b"\xc3", b"\xa9",
     b" ", b"\x00"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_FRAGMENTS | st.binary(max_size=4), max_size=40).map(b"".join)
    | st.binary(min_size=1, max_size=8).map(lambda hole: b'{"type":"ping","id":"' + hole + b'"}'),
    st.sampled_from([decode_client, decode_server]),
)
def test_decoders_raise_only_remote_protocol_error(body: bytes, decode: Decoder) -> None:
    try:
        decode(body)
    except RemoteProtocolError as exc:
        assert not exc.fatal
        assert exc.code in {ErrorCode.BAD_JSON, ErrorCode.BAD_MESSAGE, ErrorCode.UNKNOWN_TYPE}


@pytest.mark.parametrize("rid", [2**53, -(2**53), "", "x" * 65, True, 1.5, None, [1]])
def test_malformed_ids_are_not_echoed(rid: object) -> None:
    exc = err(json.dumps({"type": "nope", "id": rid}).encode())
    assert exc.code is ErrorCode.UNKNOWN_TYPE and exc.request_id is None


def test_missing_type_is_bad_message() -> None:
    exc = err(b'{"id": 3}')
    assert exc.code is ErrorCode.BAD_MESSAGE and exc.request_id == 3
