"""Escaping what reaches a terminal, and decoding input lines and arguments with line numbers."""

from __future__ import annotations

import os

import pytest

from tertulia.cli.textio import decode_argument, decode_line, escape_controls, strip_newline


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("hola, ¿qué tal? 😀", "hola, ¿qué tal? 😀"),
        ("bell\x07 esc\x1b[31m red", "bell\\x07 esc\\x1b[31m red"),
        ("fake\n[12:00] bob: hi", "fake\\n[12:00] bob: hi"),
        ("over\rwrite\tand\x08back", "over\\rwrite\\tand\\x08back"),
        ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),
        ("isolate\u2066x\u2069", "isolate\\u2066x\\u2069"),
        ("nbsp\u00a0and thin\u2009space", "nbsp\u00a0and thin\u2009space"),  # visible: kept
        ("zwj 👩\u200d💻", "zwj 👩\u200d💻"),  # emoji joiners are not controls
    ],
)
def test_escape_controls(text: str, shown: str) -> None:
    assert escape_controls(text) == shown
    assert all(ch.isprintable() or ch in "\u00a0\u2009\u200d" for ch in escape_controls(text))


def test_strip_newline() -> None:
    assert strip_newline(b"a\r\n") == b"a"
    assert strip_newline(b"a\n") == b"a"
    assert strip_newline(b"a") == b"a"
    assert strip_newline(b"a\r") == b"a\r"  # a lone CR is text


def test_decode_line_reports_where_it_is_invalid() -> None:
    ok = decode_line("héllo\n".encode(), 1, "utf-8", "skip")
    assert (ok.number, ok.text, ok.error) == (1, "héllo", None)
    bad = decode_line(b"ab\xff\xfebad\n", 7, "utf-8", "skip")
    assert bad.text is None and bad.number == 7
    assert bad.error == "not valid UTF-8: byte 0xFF at byte 3 (invalid start byte)"
    cut = decode_line(b"caf\xc3", 2, "utf-8", "skip")
    assert cut.error is not None and "0xC3 at byte 4" in cut.error
    replaced = decode_line(b"\xff\xfebad\r\n", 2, "utf-8", "replace")
    assert (replaced.text, replaced.error) == ("\ufffd\ufffdbad", None)
    latin = decode_line(b"\xff\xfebad\n", 2, "latin-1", "skip")
    assert latin.text == "ÿþbad"


def test_decode_argument_recovers_the_bytes_of_the_command_line() -> None:
    arg = os.fsdecode(b"a\xffb")  # what Python makes of an undecodable argv entry
    assert decode_argument(arg, "utf-8", "skip") == (
        None,
        "not valid UTF-8: byte 0xFF at byte 2 (invalid start byte)",
    )
    assert decode_argument(arg, "utf-8", "replace") == ("a\ufffdb", None)
    assert decode_argument(arg, "latin-1", "skip") == ("aÿb", None)
    assert decode_argument("olá", "utf-8", "skip") == ("olá", None)
