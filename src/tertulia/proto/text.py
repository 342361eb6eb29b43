"""What counts as an empty message: the protocol's rule, shared by the server and the clients.

``str.strip`` removes white space only, so a text of zero-width spaces (U+200B), joiners, the
byte-order mark, bidirectional marks or the Hangul filler passed it and showed up as an empty
line in every client (issue 12, item 14). A text is *blank* when it has no character that
renders as something on its own: every character is white space, a format character (``Cf``:
U+200B..U+200F, U+2060..U+2064, U+FEFF, the tag characters), a lone combining
mark or variation selector (``Mn``, ``Me``: nothing to combine with), or one of the few letters
and symbols that render as fillers (U+115F, U+1160, U+3164, U+FFA0, U+2800). Unassigned and
private-use code points are not blank (a font may draw them), nor are control characters
other than white space: the clients show them escaped (``\x01``).
"""

from __future__ import annotations

import unicodedata

__all__ = ["is_blank"]

_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Mn", "Me"})
#: letters and symbols that render as nothing (Hangul fillers, the blank Braille pattern)
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def is_blank(text: str) -> bool:
    """True if ``text`` has no visible character (see the module docstring for the rule)."""
    for ch in text:
        if ch.isspace() or ch in _FILLERS:
            continue
        if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES:
            return False
    return True
