"""Text in and out of the chat commands: decoding input lines, escaping what reaches a terminal.

Input. ``tertulia send`` reads bytes, not text: Python's own decoding of stdin either raises on
the first bad byte (and loses every later line) or, under the C locale, smuggles the bytes in
as unpaired surrogates that can never be encoded again. :func:`decode_line` decodes one line
with the chosen encoding and either reports exactly where it is invalid (line number and byte
offset) or replaces the bad bytes, so one bad line never costs the others. Arguments reach
Python already decoded with ``surrogateescape``; :func:`decode_argument` recovers their bytes
and decodes them the same way.

Output. A message's text is whatever its sender typed, including ESC sequences that recolour,
move the cursor or retitle the reader's terminal, BEL, backspaces and carriage returns that
overwrite the line, newlines that fake another message line, and bidi controls that reorder
what is shown. :func:`escape_controls` makes every such character visible as an escape
(``\\x1b``, ``\\n``, ``\\u202e``) in the human format; JSON output keeps the exact text.

Pure functions, no I/O.
"""

from __future__ import annotations

import codecs
import os
import unicodedata
from dataclasses import dataclass

__all__ = ["DecodedLine", "decode_argument", "decode_line", "escape_controls", "strip_newline"]

#: format characters that change the order or direction in which text is displayed
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with control characters (C0, DEL, C1) and bidi controls shown as escapes."""
    if text.isprintable():  # fast path: most messages
        return text
    out = []
    for ch in text:
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class DecodedLine:
    """One input line: ``text`` (without its line ending), or ``error`` saying why not."""

    number: int
    text: str | None
    error: str | None = None


def strip_newline(raw: bytes) -> bytes:
    """``raw`` without its ``\\n`` or ``\\r\\n``."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
    return raw


def decode_line(raw: bytes, number: int, encoding: str, errors: str) -> DecodedLine:
    """Decode input line ``number`` (1-based, line ending included or not).

    ``errors`` is ``"skip"`` (an invalid line becomes an error naming the first bad byte) or
    ``"replace"`` (bad bytes become U+FFFD).
    """
    body = strip_newline(raw)
    if errors == "replace":
        return DecodedLine(number, body.decode(encoding, errors="replace"))
    try:
        return DecodedLine(number, body.decode(encoding))
    except UnicodeDecodeError as exc:
        return DecodedLine(number, None, _where(body, exc, encoding))


def decode_argument(arg: str, encoding: str, errors: str) -> tuple[str | None, str | None]:
    """A command-line argument as text in ``encoding``: ``(text, None)`` or ``(None, why)``.

    The bytes are recovered with :func:`os.fsencode` (undoing ``surrogateescape``), so an
    argument in another encoding than the locale's is decoded as the user said it is.
    """
    raw = os.fsencode(arg)
    if errors == "replace":
        return raw.decode(encoding, errors="replace"), None
    try:
        return raw.decode(encoding), None
    except UnicodeDecodeError as exc:
        return None, _where(raw, exc, encoding)


def _where(data: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    bad = data[exc.start : exc.end]
    name = codecs.lookup(encoding).name.upper().replace("_", "-")
    return f"not valid {name}: byte 0x{bad[0]:02X} at byte {exc.start + 1} ({exc.reason})"
