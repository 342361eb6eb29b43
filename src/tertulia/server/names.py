"""Normalization and validation of user and room names.

Names are compared in their normalized form: NFC, then case-folded to lower case. Only letters,
digits, ``_``, ``-`` and ``.`` are allowed, starting with a letter or digit, which already rules
out control, bidi-override and zero-width characters. (Confusable-skeleton uniqueness is a
separate, stricter check added by the security hardening work.)
"""

from __future__ import annotations

import unicodedata

__all__ = ["DM_PREFIX", "InvalidName", "dm_peer", "dm_room_name", "is_dm", "normalize_name"]

DM_PREFIX = "dm:"
_EXTRA = frozenset("_-.")


class InvalidName(ValueError):
    """The name breaks the naming rules; the message says which."""


def normalize_name(raw: str, max_len: int) -> str:
    """Return the canonical form of a user or room name, or raise :class:`InvalidName`."""
    name = unicodedata.normalize("NFC", raw).lower()
    name = unicodedata.normalize("NFC", name)
    if not name:
        raise InvalidName("name is empty")
    if len(name) > max_len:
        raise InvalidName(f"name is longer than {max_len} characters")
    if not name[0].isalnum():
        raise InvalidName("name must start with a letter or digit")
    for ch in name:
        if not (ch.isalnum() or ch in _EXTRA):
            raise InvalidName(f"character {ch!r} (U+{ord(ch):04X}) is not allowed in names")
    return name


def dm_room_name(a: str, b: str) -> str:
    """The reserved room name of the direct conversation between two (normalized) users."""
    x, y = sorted((a, b))
    return f"{DM_PREFIX}{x}:{y}"


def is_dm(room: str) -> bool:
    return room.startswith(DM_PREFIX)


def dm_peer(room: str, me: str) -> str | None:
    """The other participant of a DM room, from ``me``'s point of view."""
    if not is_dm(room):
        return None
    parts = room[len(DM_PREFIX) :].split(":")
    if len(parts) != 2:
        return None
    return parts[1] if parts[0] == me else parts[0]
