"""What the chat commands say for each refusal: one clear line per code and reason."""

from __future__ import annotations

import socket

import pytest

from tertulia.cli.explain import explain
from tertulia.client import ClientOffline, RefusedLocally, ServerError


@pytest.mark.parametrize(
    ("code", "params", "expected"),
    [
        ("invalid_name", {"field": "room", "reason": "too_long", "max": 32},
         "invalid room name: too long (at most 32 characters) [invalid_name]"),
        ("invalid_name", {"field": "room", "reason": "bad_character", "char": "U+0020"},
         "invalid room name: character U+0020 is not allowed (letters, digits, '_', '-' and '.' "
         "only, starting with a letter or digit) [invalid_name]"),
        ("invalid_name", {"field": "user", "reason": "bad_start"},
         "invalid user name: it must start with a letter or a digit [invalid_name]"),
        ("invalid_name", {"field": "user", "reason": "mixed_script"},
         "invalid user name: it mixes scripts (e.g. Latin with Cyrillic) or digit systems "
         "[invalid_name]"),
        ("invalid_name", {"field": "room", "reason": "combining_marks"},
         "invalid room name: it has hidden, overlaid, repeated or stacked accent marks "
         "[invalid_name]"),
        ("invalid_name", {"field": "user", "reason": "whole_script_confusable"},
         "invalid user name: it is written in another script but looks exactly like a Latin "
         "name [invalid_name]"),
        ("room_exists", {"room": "secret", "reason": "unavailable"},
         "the room name 'secret' is not available; choose another name [room_exists]"),
        ("too_many_invitations", {"user": "bob", "max": 50},
         "'bob' already has 50 pending invitations; they must accept or decline some first "
         "[too_many_invitations]"),
        ("invalid_name", {"field": "room", "reason": "reserved"},
         "invalid room name: names starting with 'dm:' are reserved for direct messages "
         "[invalid_name]"),
        ("invalid_name", {"field": "room"},  # an older server: its own message
         "invalid room name: name is longer than 32 characters [invalid_name]"),
        ("room_exists", {"room": "genera1", "reason": "confusable"},
         "the room name 'genera1' looks like the name of an existing room: use that room's "
         "exact name, or choose a clearly different one; names that look alike (1 and l, 0 and "
         "o, Latin and Cyrillic a) count as the same [room_exists]"),
        ("room_exists", {"room": "old", "reason": "closed"},
         "room 'old' was closed by an administrator; choose another name [room_exists]"),
        ("room_exists", {"room": "club"},
         "room 'club' exists but you cannot join it (private: ask a member to invite you) "
         "[room_exists]"),
        ("storage_full", {"retry_after": 5},
         "the server's disk is full: nothing was stored; try again later (in 5 seconds; unsent "
         "messages stay in the outbox) [storage_full]"),
        ("room_not_found", {"room": "genral"},
         "no room 'genral' (or it is private and you were not invited) [room_not_found]"),
        ("name_taken", {"field": "user", "reason": "confusable"},
         "that user name looks like an existing user's name; names that look alike (1 and l, 0 "
         "and o, Latin and Cyrillic a) count as the same [name_taken]"),
        ("text_too_long", {"max": 4000, "length": 102400},
         "the message is too long (102400 characters; at most 4000) [text_too_long]"),
        ("frame_too_large", {"size": 18042, "max": 17024},
         "the message is too large once encoded (18042 bytes; the server accepts at most 17024; "
         "control characters take 6 bytes each) [frame_too_large]"),
        ("some_new_code", {}, "what the server said [some_new_code]"),
    ],
)  # fmt: skip
def test_server_errors(code: str, params: dict[str, object], expected: str) -> None:
    message = (
        "name is longer than 32 characters" if code == "invalid_name" else "what the server said"
    )
    assert explain(ServerError(code, message, params)) == expected
    assert explain(RefusedLocally(code, message, params)) == expected
    assert explain(ClientOffline("gave up", ServerError(code, message, params))) == expected


def test_unreachable_servers() -> None:
    dns = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert explain(dns) == "the host name could not be resolved (Name or service not known)"
    refused = ConnectionRefusedError(111, "Connection refused")
    assert explain(refused) == "the connection was refused: no server is listening on that port"
    assert explain(TimeoutError()) == "TimeoutError"
