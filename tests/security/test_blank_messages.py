"""Issue 12, item 14: a message of only zero-width or other invisible characters is empty.

``str.strip`` does not see U+200B and its kind, so such a message was stored and shown as an
empty line in every client. The server refuses it like white space, over real TLS.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from security_kit import expect_code, strict_server, user

from tertulia.proto import messages as m

INVISIBLE = [
    "\u200b\u200b\u200b",  # zero-width spaces
    " \u200c\u200d\u2060 ",  # joiners, word joiner, spaces
    "\ufeff",  # byte-order mark
    "\u200e\u200f\u202a",  # bidirectional marks
    "\u3164\u115f",  # Hangul fillers
    "\u2800",  # blank Braille pattern
    "\u0301\u0301",  # lone combining marks
    "\U000e0041\U000e007f",  # tag characters
]


@pytest.mark.parametrize("text", INVISIBLE)
async def test_invisible_only_text_is_refused(tmp_path: Path, text: str) -> None:
    async with strict_server(tmp_path / "s") as srv:
        a = await user(srv, "alice")
        await a.request(m.CreateRoom(id=a.next_id(), room="r"))
        err = await expect_code(
            a, m.Send(id=a.next_id(), room="r", msg_id="z", text=text), "invalid_argument"
        )
        assert err.params == {"field": "text"}
        # visible text around the same characters still goes through
        ok = await a.request(m.Send(id=a.next_id(), room="r", msg_id="v", text=f"a{text}b"))
        assert isinstance(ok, m.Sent)
