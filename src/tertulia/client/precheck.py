"""Checks of an outgoing message against the server's announced limits, before it is sent.

The server announces its limits in ``hello_ok`` so that clients can check first
(docs/protocol.md, section 3). Checking here turns what would be a round trip -- or, for a
frame over ``max_frame``, a fatal error that closes the connection -- into an immediate,
precise refusal of that one message, recorded on its outbox entry as a
:class:`~tertulia.client.connection.RefusedLocally` with the code the server would have used.
The frame size itself is checked by ``Connection.send_request``, on the exact bytes.

Pure functions; nothing here needs a connection or an event loop.
"""

from __future__ import annotations

from tertulia.client.connection import RefusedLocally
from tertulia.proto import messages as m
from tertulia.proto.text import is_blank

__all__ = ["message_refusal", "unencodable"]


def unencodable(text: str) -> str | None:
    """Why ``text`` cannot be sent as UTF-8 (an unpaired surrogate, e.g. from undecodable
    bytes read with ``surrogateescape``), or ``None`` if it can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        ch = text[exc.start]
        return (
            f"it is not valid Unicode: unpaired surrogate U+{ord(ch):04X} at character "
            f"{exc.start + 1} (undecodable input bytes?)"
        )
    return None


def message_refusal(text: str, limits: m.Limits | None) -> RefusedLocally | None:
    """The refusal the server would answer ``send`` with ``text``, as far as it can be known
    here, or ``None``. ``limits`` from ``hello_ok``; ``None`` (not connected yet) checks only
    what does not depend on them."""
    if is_blank(text):
        return RefusedLocally(
            "invalid_argument",
            "text is empty or only white space or invisible characters",
            {"field": "text"},
        )
    if limits is not None and len(text) > limits.max_text:
        return RefusedLocally(
            "text_too_long",
            f"text of {len(text)} characters exceeds {limits.max_text}",
            {"max": limits.max_text, "length": len(text)},
        )
    return None
