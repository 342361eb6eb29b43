r"""Normalization, validation and confusable skeletons of user and room names.

Two questions, two answers:

* **What is the canonical form of a name?** The PRECIS ``UsernameCaseMapped`` profile
  (RFC 8265, via the ``precis-i18n`` package): width mapping, case mapping to lower case, NFC,
  and rejection of everything PRECIS disallows -- control characters, spaces, compatibility
  characters, zero-width joiners and other default-ignorables, bidi overrides, and strings that
  break the bidi rule. On top of that Tertulia keeps its own narrower repertoire: letters,
  combining marks, digits, ``_``, ``-`` and ``.``, starting with a letter or digit (``:`` is
  reserved for ``dm:`` room names).
* **When are two names the same to a human eye?** When their *confusable skeletons* are equal
  (Unicode UTS #39, section 4): ``\u0430lice`` (a Cyrillic ``\u0430``) has the skeleton of
  ``alice``, so it cannot be registered next to it. The skeleton is stored beside the name
  with a UNIQUE index; names themselves are still compared exactly.

The confusables data comes from the ``confusable-homoglyphs`` package, which ships Unicode's
``confusables.txt`` as a symmetric table (each source linked to its prototype and back). The
prototype of each class is recovered here: it is the node every other member links to, or, in
a class of two, the member that also occurs inside a longer prototype (UTS #39 targets are
idempotent, so a source never does). Nothing here is a hand-written Unicode table.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import unicodedata

import precis_i18n

__all__ = [
    "DM_PREFIX",
    "InvalidName",
    "dm_peer",
    "dm_room_name",
    "is_dm",
    "normalize_name",
    "skeleton",
]

DM_PREFIX = "dm:"
_EXTRA = frozenset("_-.")
_PROFILE = precis_i18n.get_profile("UsernameCaseMapped")
#: directional marks the confusables generator copied around right-to-left characters
_MARKS = str.maketrans("", "", "\u200e\u200f")


class InvalidName(ValueError):
    """The name breaks the naming rules; the message says which.

    ``reason`` names the rule for clients (the ``reason`` param of ``invalid_name``):
    ``empty``, ``too_long`` (``params["max"]``), ``bad_start``, ``bad_character`` and
    ``not_allowed`` (PRECIS; both with ``params["char"]`` as ``U+XXXX`` when known). A client
    shows "too long" for a 200-character name, not the repertoire.
    """

    def __init__(self, message: str, reason: str, **params: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.params = params


@functools.lru_cache(maxsize=4096)
def normalize_name(raw: str, max_len: int) -> str:
    """Return the canonical form of a user or room name, or raise :class:`InvalidName`.

    Every ``send`` names its room, and PRECIS enforcement is the costliest step of a send, so
    results are cached (bounded: hostile unique names only evict; failures are not cached).
    """
    if not raw:
        raise InvalidName("name is empty", "empty")
    if len(raw) > 4 * max_len:  # cheap bound before any Unicode work on hostile input
        raise _too_long(max_len)
    try:
        name = _PROFILE.enforce(raw)
    except UnicodeError as exc:
        raise _precis_refusal(raw, exc) from None
    assert isinstance(name, str)
    if len(name) > max_len:
        raise _too_long(max_len)
    if not name[0].isalnum():
        raise InvalidName("name must start with a letter or digit", "bad_start")
    for ch in name:
        if not (ch.isalnum() or ch in _EXTRA or unicodedata.category(ch) in ("Mn", "Mc")):
            raise InvalidName(
                f"character {ch!r} (U+{ord(ch):04X}) is not allowed in names",
                "bad_character",
                char=f"U+{ord(ch):04X}",
            )
    return name


def _too_long(max_len: int) -> InvalidName:
    return InvalidName(f"name is longer than {max_len} characters", "too_long", max=max_len)


def _precis_refusal(raw: str, exc: UnicodeError) -> InvalidName:
    start = getattr(exc, "start", None)
    reason = str(getattr(exc, "reason", exc))
    if isinstance(start, int) and 0 <= start < len(raw):
        ch = raw[start]
        return InvalidName(
            f"character U+{ord(ch):04X} is not allowed in names ({reason})",
            "not_allowed",
            char=f"U+{ord(ch):04X}",
        )
    return InvalidName(f"name is not allowed ({reason})", "not_allowed")


def skeleton(name: str) -> str:
    r"""The UTS #39 skeleton of a normalized name, case-folded: equal skeletons look alike.

    ``skeleton = NFD(casefold(map(NFD(name))))``: each character is replaced by the prototype
    of its confusable class (Cyrillic ``\u0430`` -> ``a``, ``1`` -> ``l``, ``m`` -> ``rn``);
    case-folding the result makes ``0`` (whose prototype is ``O``) collide with ``o`` in
    lower-case names too.
    """
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", name)
    mapped = "".join(table.get(ch, ch) for ch in decomposed)
    return unicodedata.normalize("NFD", mapped.casefold())


@functools.cache
def _prototypes() -> dict[str, str]:
    """Character -> prototype string, recovered from the symmetric confusables table."""
    res = importlib.resources.files("confusable_homoglyphs") / "confusables.json"
    raw: dict[str, list[dict[str, str]]] = json.loads(res.read_text(encoding="utf-8"))
    links: dict[str, set[str]] = {}
    for key, entries in raw.items():
        a = key.translate(_MARKS)
        for entry in entries:
            b = entry["c"].translate(_MARKS)
            if a and b and a != b:
                links.setdefault(a, set()).add(b)
                links.setdefault(b, set()).add(a)
    in_longer = {ch for node in links if len(node) > 1 for ch in node}
    table: dict[str, str] = {}
    for node, peers in links.items():
        if len(node) != 1:
            continue  # multi-character strings are prototypes only
        if len(peers) == 1:
            (peer,) = peers
            if len(links.get(peer, ())) > 1 or len(peer) > 1:
                table[node] = peer  # peer is the hub of a larger class: the prototype
            elif node not in in_longer and (peer in in_longer or peer < node):
                table[node] = peer  # class of two: pick the prototype deterministically
    return table


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
