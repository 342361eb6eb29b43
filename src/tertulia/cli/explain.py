"""One clear line for each failure the chat commands can meet (the wire code in brackets).

The server's ``error.message`` is English for logs; what a user reads is chosen here by
``code`` and filled from ``params`` (docs/protocol.md, section 11), with ``params.reason``
telling the cases of one code apart: a name that is too long is not a name with a bad
character, and a look-alike of an existing room is not a missing room. Codes or reasons this
version does not know fall back to the server's message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tertulia.client import ClientOffline, ServerError, unreachable

__all__ = ["explain", "explain_server_error"]

_LOOKALIKE = "names that look alike (1 and l, 0 and o, Latin and Cyrillic a) count as the same"
_REPERTOIRE = "letters, digits, '_', '-' and '.' only, starting with a letter or digit"


def _invalid_name(p: dict[str, Any], message: str) -> str:
    field = p.get("field", "")
    what = f"invalid {field} name".replace("  ", " ")
    reason = p.get("reason")
    if reason == "too_long":
        return f"{what}: too long (at most {p.get('max', '?')} characters)"
    if reason == "empty":
        return f"{what}: it is empty"
    if reason == "bad_start":
        return f"{what}: it must start with a letter or a digit"
    if reason in ("bad_character", "not_allowed") and "char" in p:
        return f"{what}: character {p['char']} is not allowed ({_REPERTOIRE})"
    if reason == "mixed_script":
        return f"{what}: it mixes scripts (e.g. Latin with Cyrillic) or digit systems"
    if reason == "combining_marks":
        return f"{what}: it has hidden, overlaid, repeated or stacked accent marks"
    if reason == "whole_script_confusable":
        return f"{what}: it is written in another script but looks exactly like a Latin name"
    if reason == "reserved":
        return f"{what}: names starting with 'dm:' are reserved for direct messages"
    if reason == "malformed_dm":
        return f"{what}: a direct-message room is named dm:<user>:<user>"
    return f"{what}: {message}"  # an older server: its message is specific enough


def _room_exists(p: dict[str, Any], message: str) -> str:
    room = p.get("room", "")
    if p.get("reason") == "confusable":
        return (
            f"the room name {room!r} looks like the name of an existing room: use that room's "
            f"exact name, or choose a clearly different one; {_LOOKALIKE}"
        )
    if p.get("reason") == "closed":
        return f"room {room!r} was closed by an administrator; choose another name"
    if p.get("reason") == "unavailable":
        return f"the room name {room!r} is not available; choose another name"
    return f"room {room!r} exists but you cannot join it (private: ask a member to invite you)"


def _name_taken(p: dict[str, Any], message: str) -> str:
    if p.get("reason") == "confusable":
        return f"that user name looks like an existing user's name; {_LOOKALIKE}"
    return "that user name is already taken"


def _text_too_long(p: dict[str, Any], message: str) -> str:
    if "length" in p:
        return f"the message is too long ({p['length']} characters; at most {p.get('max')})"
    return f"the message is too long (at most {p.get('max', '?')} characters)"


def _frame_too_large(p: dict[str, Any], message: str) -> str:
    return (
        f"the message is too large once encoded ({p.get('size', '?')} bytes; the server "
        f"accepts at most {p.get('max', '?')}; control characters take 6 bytes each)"
    )


def _invalid_argument(p: dict[str, Any], message: str) -> str:
    if p.get("field") == "text":
        return "the message is empty or only white space"
    return message


def _rate_limited(p: dict[str, Any], message: str) -> str:
    wait = p.get("retry_after")
    after = f"; try again in {wait} s" if isinstance(wait, int | float) else ""
    if p.get("limit") == "room_creation":
        return f"you created too many rooms recently{after}"
    if p.get("limit") == "presence_rate":
        return f"presence changed too often{after}"
    return "sending too fast; slow down"


_EXPLAIN: dict[str, Callable[[dict[str, Any], str], str]] = {
    "auth_failed": lambda p, _: (
        "login failed: wrong user name or password (or the account is disabled)"
    ),
    "name_taken": _name_taken,
    "weak_password": lambda p, _: f"the password is too short (at least {p.get('min')} characters)",
    "invalid_name": _invalid_name,
    "registration_closed": lambda p, _: "this server does not allow registration; ask its operator",
    "room_not_found": lambda p, _: (
        f"no room {p.get('room', '')!r} (or it is private and you were not invited)"
    ),
    "room_exists": _room_exists,
    "not_member": lambda p, _: "you are not a member of that room",
    "text_too_long": _text_too_long,
    "frame_too_large": _frame_too_large,
    "invalid_argument": _invalid_argument,
    "rate_limited": _rate_limited,
    "busy": lambda p, _: (
        f"the server is busy checking passwords; try again in {p.get('retry_after', 1)} s"
    ),
    "storage_full": lambda p, _: (
        "the server's disk is full: nothing was stored; try again later"
        f" (in {p.get('retry_after', 'a few')} seconds; unsent messages stay in the outbox)"
    ),
    "too_many_invitations": lambda p, _: (
        f"{p.get('user', 'that user')!r} already has {p.get('max', 'the most')} pending"
        " invitations; they must accept or decline some first"
    ),
    "reply_too_large": lambda p, _: (
        "the server's answer would be too large to send; ask for a smaller page"
    ),
}


def explain_server_error(exc: ServerError) -> str:
    how = _EXPLAIN.get(exc.code)
    text = how(exc.params, exc.message) if how is not None else exc.message
    return f"{text} [{exc.code}]"


def explain(exc: BaseException) -> str:
    """What to tell the user about ``exc``, in one line (trust errors are longer by design)."""
    if isinstance(exc, ServerError):
        return explain_server_error(exc)
    if isinstance(exc, ClientOffline) and exc.error is not None:
        return explain(exc.error)
    if (why := unreachable(exc)) is not None:
        return why
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
