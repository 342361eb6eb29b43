r"""Normalization, validation and confusable skeletons of user and room names.

Three questions, three answers:

* **What is the canonical form of a name?** The PRECIS ``UsernameCaseMapped`` profile
  (RFC 8265, via the ``precis-i18n`` package): width mapping, case mapping to lower case, NFC,
  and rejection of everything PRECIS disallows -- control characters, spaces, compatibility
  characters, zero-width joiners and other default-ignorables, bidi overrides, and strings that
  break the bidi rule. On top of that Tertulia keeps its own narrower repertoire: letters,
  combining marks, digits, ``_``, ``-`` and ``.``, starting with a letter or digit (``:`` is
  reserved for ``dm:`` room names). :func:`normalize_name` answers this, and every lookup
  (login, join, send...) uses only it, so a name created under older rules keeps working.
* **May a new name be created?** Only if it also passes Unicode UTS #39's identifier rules,
  checked by ICU's ``SpoofChecker`` (:func:`check_new_name`, at ``register`` and
  ``create_room`` only): every character in the UTS #39 *recommended* identifier set, scripts
  mixed no more than the **moderately restrictive** level allows (Latin with Cyrillic or
  Greek is refused), no mixed digit systems, no repeated or hidden combining marks, no
  overlay marks, at most four marks in a row, and no name written wholly in a non-Latin
  script that looks exactly like an ASCII one (``\u0430\u04cf\u0456\u0441\u0435``, whose
  skeleton is ``aiice``).
* **When are two names the same to a human eye?** When their *confusable skeletons* are equal
  (UTS #39 section 4, ICU's ``getSkeleton``): ``\u0430lice`` (a Cyrillic ``\u0430``) has the
  skeleton of ``alice``, so it cannot be created next to it. The skeleton is stored beside the
  name with a UNIQUE index; names themselves are still compared exactly.

Why ICU (``pyicu-wheels``, a binary wheel of PyICU with ICU 77 inside) rather than the
confusables table of ``confusable-homoglyphs`` used before: ICU is the reference
implementation of UTS #39, follows each Unicode release, and has the restriction levels, the
identifier profile and the script data the table alone lacks (see docs/security.md, Names).
"""

from __future__ import annotations

import functools
import logging
import unicodedata

import icu
import precis_i18n

__all__ = [
    "DM_PREFIX",
    "InvalidName",
    "check_new_name",
    "dm_peer",
    "dm_room_name",
    "is_dm",
    "legacy_name_problem",
    "normalize_name",
    "skeleton",
]

_log = logging.getLogger("tertulia.names")

DM_PREFIX = "dm:"
_EXTRA = frozenset("_-.")
_PROFILE = precis_i18n.get_profile("UsernameCaseMapped")
#: UTS #39 section 5.4: "forbid sequences of more than 4 nonspacing marks"
MAX_MARKS = 4


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

    ``skeleton = NFD(casefold(icu_skeleton(name)))``: ICU replaces each character by the
    prototype of its confusable class (Cyrillic ``\u0430`` -> ``a``, ``1`` -> ``l``, ``m`` ->
    ``rn``); case-folding the result makes ``0`` (whose prototype is ``O``) collide with ``o``
    in lower-case names too. Called from storage threads: ICU's checker is safe to share for
    these read-only calls.
    """
    mapped = _checker().getSkeleton(0, name)
    return unicodedata.normalize("NFD", mapped.casefold())


def check_new_name(name: str) -> None:
    r"""Refuse a normalized name UTS #39 says must not be *created* (:class:`InvalidName`).

    Reasons (the ``reason`` param of ``invalid_name``): ``not_allowed`` (a character outside
    the UTS #39 recommended identifier set, e.g. ``\u1d00`` small capital A; ``char`` given),
    ``mixed_script`` (more scripts than "moderately restrictive" allows, or two digit
    systems), ``combining_marks`` (a mark repeated, stacked beyond four, overlaid like
    ``a\u0338``, or hidden on a dotted letter like ``i\u0307``) and
    ``whole_script_confusable`` (written in a non-Latin script but looks exactly like an ASCII
    name). Existing names are not re-checked: lookups use :func:`normalize_name` only.
    """
    _check_marks(name)
    checker = _checker()
    result = checker.check(name)
    if result & icu.USpoofChecks.CHAR_LIMIT:
        allowed = _allowed()
        ch = next((c for c in name if not allowed.contains(c)), name[0])
        raise InvalidName(
            f"character U+{ord(ch):04X} is not allowed in new names (Unicode UTS #39)",
            "not_allowed",
            char=f"U+{ord(ch):04X}",
        )
    if result & icu.USpoofChecks.INVISIBLE:
        raise _marks("a combining mark is repeated")
    if result & (icu.USpoofChecks.RESTRICTION_LEVEL | icu.USpoofChecks.MIXED_NUMBERS):
        raise InvalidName(
            "name mixes scripts or digit systems (Unicode UTS #39, moderately restrictive)",
            "mixed_script",
        )
    if result:
        raise InvalidName("name is not allowed (Unicode UTS #39)", "not_allowed")
    if _whole_script_confusable(name):
        raise InvalidName(
            "name is written in another script but looks exactly like a Latin name",
            "whole_script_confusable",
        )


def legacy_name_problem(kind: str, name: str) -> str | None:
    """Log (once, when storage recomputes skeletons) a stored name today's rules refuse.

    Such a name was accepted by an older Tertulia; it keeps working -- logins and lookups only
    normalize -- but an operator should know it is there (e.g. to rename a look-alike).
    Returns the reason, or None when the name passes. ``kind``: ``users`` or ``rooms``.
    """
    try:
        check_new_name(name)
    except InvalidName as exc:
        _log.warning(
            "%s %r was created under older name rules and would be refused now (%s: %s);"
            " it keeps working",
            kind,
            name,
            exc.reason,
            exc,
        )
        return exc.reason
    return None


def _check_marks(name: str) -> None:
    """The optional mark checks of UTS #39 section 5.4 that ICU's checker leaves to us."""
    run = 0
    prev = ""
    for ch in unicodedata.normalize("NFD", name):
        if unicodedata.category(ch) not in ("Mn", "Me"):
            run, prev = 0, ch
            continue
        run += 1
        ccc = unicodedata.combining(ch)
        if run > MAX_MARKS:
            raise _marks(f"more than {MAX_MARKS} combining marks in a row")
        if ccc == 1:  # overlays (U+0334..U+0338...): strike a letter into another one
            raise _marks(f"overlay mark U+{ord(ch):04X} is not allowed")
        if (
            ch == "\u0307"
            and run == 1
            and (prev in "\u0131\u0237" or _soft_dotted().contains(prev))
        ):
            raise _marks("a dot above on i or j is hidden by (or looks like) its own dot")


def _marks(why: str) -> InvalidName:
    return InvalidName(f"{why} (Unicode UTS #39)", "combining_marks")


def _whole_script_confusable(name: str) -> bool:
    """No Latin letter, some letter of another script, and a skeleton that is plain ASCII:
    the name looks exactly like an ASCII name (UTS #39 section 4's whole-script confusable,
    which ICU 58 dropped from its checker; Chromium's IDN display keeps a similar rule)."""
    sets = _script_sets()
    if sets[0].containsSome(name) or sets[1].containsAll(name):
        return False
    return skeleton(name).isascii()


@functools.cache
def _script_sets() -> tuple[icu.UnicodeSet, icu.UnicodeSet]:
    return (icu.UnicodeSet("[:sc=Latin:]"), icu.UnicodeSet("[[:sc=Zyyy:][:sc=Zinh:]]"))


@functools.cache
def _soft_dotted() -> icu.UnicodeSet:
    return icu.UnicodeSet("[:Soft_Dotted:]")


@functools.cache
def _allowed() -> icu.UnicodeSet:
    """UTS #39's recommended identifier set plus its inclusions and ``_-.``."""
    base = icu.SpoofChecker()
    allowed = icu.UnicodeSet()  # a copy of ICU's frozen sets would stay frozen
    allowed.addAll(base.getRecommendedUnicodeSet())
    allowed.addAll(base.getInclusionUnicodeSet())
    allowed.addAll(icu.UnicodeSet("[_\\-.]"))
    allowed.freeze()
    return allowed


@functools.cache
def _checker() -> icu.SpoofChecker:
    """The one configured checker (configured once; only read afterwards)."""
    checker = icu.SpoofChecker()
    checker.setRestrictionLevel(icu.URestrictionLevel.MODERATELY_RESTRICTIVE)
    checker.setAllowedUnicodeSet(_allowed())
    checker.setChecks(
        icu.USpoofChecks.RESTRICTION_LEVEL
        | icu.USpoofChecks.INVISIBLE
        | icu.USpoofChecks.CHAR_LIMIT
        | icu.USpoofChecks.MIXED_NUMBERS
    )
    return checker


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
