"""``tertulia send`` with hostile input: oversized lines and frames, invalid UTF-8, empty text;
``tertulia listen`` with hostile output (control characters). Real TLS, real server, the real
command: each case checks the message, the exit code, the time and what was stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_kit import cli_env, conn_args, run, stored

from tertulia.client import Client, TrustPolicy
from tertulia.server.config import LimitsConfig
from tertulia_testkit import PASSWORD, RELAXED_LIMITS, SCALE, InProcessServer

BIG = "a" * 102_400


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


async def _registered(srv: InProcessServer, env: dict[str, str], user: str = "alice") -> list[str]:
    args = conn_args(srv, user)
    assert (await run("register", *args, env=env)).rc == 0
    return args


def _texts(msgs: list[object] | None) -> list[str]:
    assert msgs is not None, "the room does not exist"
    return [m.text for m in msgs]  # type: ignore[attr-defined]


async def test_a_100kb_line_is_refused_alone_and_the_others_are_sent(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    alice = await _registered(tls_server, env)
    r = await run("send", *alice, "--room", "big", env=env, stdin=f"before\n{BIG}\nafter\n")
    assert r.rc == 1, r.err
    assert "line 2 not sent: the message is too long (102400 bytes; at most 4000 characters)" in (
        r.err
    )
    assert "[text_too_long]" in r.err and "1 of 3 lines not sent (line 2)" in r.err
    assert "reconnecting" not in r.err and "goodbye" not in r.err
    assert r.elapsed < 15 * SCALE
    assert _texts(await stored(tls_server, "big")) == ["before", "after"]
    # the same text as an argument: refused before sending, nothing stored, no retry loop
    r = await run("send", *alice, "--room", "big", BIG, env=env)
    assert r.rc == 1 and "message not sent: the message is too long (102400 characters" in r.err
    assert "reconnecting" not in r.err and r.elapsed < 15 * SCALE
    assert _texts(await stored(tls_server, "big")) == ["before", "after"]


async def test_a_frame_over_max_frame_is_refused_before_sending(tmp_path: Path) -> None:
    """4000 characters fit max_text, but control characters are 6 bytes each in JSON: the frame
    would exceed max_frame, which the server answers by closing the connection -- the loop the
    client used to fall into, resending it after every reconnect."""
    limits = LimitsConfig(max_text=4000, max_frame=17024, **RELAXED_LIMITS)
    srv = InProcessServer(tmp_path / "srv", limits=limits)
    await srv.start()
    try:
        env = cli_env(tmp_path)
        alice = await _registered(srv, env)
        ctl = "\x01" * 3500
        r = await run("send", *alice, "--room", "ctl", env=env, stdin=f"one\n{ctl}\ntwo\n")
        assert r.rc == 1, r.err
        assert "line 2 not sent: the message is too large once encoded" in r.err
        assert "the server accepts at most 17024" in r.err and "[frame_too_large]" in r.err
        assert "reconnecting" not in r.err and r.elapsed < 15 * SCALE
        assert _texts(await stored(srv, "ctl")) == ["one", "two"]
    finally:
        await srv.stop()


async def test_invalid_utf8_lines_are_reported_by_number_and_the_rest_is_sent(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    alice = await _registered(tls_server, env)
    data = b"good1\n\xff\xfebad\ngood3\ncaf\xc3\ngood5\n"
    r = await run("send", *alice, "--room", "u8", env=env, stdin=data)
    assert r.rc == 1, r.err
    assert "line 2 not sent: not valid UTF-8: byte 0xFF at byte 1 (invalid start byte)" in r.err
    assert "line 4 not sent: not valid UTF-8: byte 0xC3 at byte 4" in r.err
    assert "--errors replace" in r.err and "2 of 5 lines not sent (lines 2, 4)" in r.err
    assert r.elapsed < 15 * SCALE
    assert _texts(await stored(tls_server, "u8")) == ["good1", "good3", "good5"]
    r = await run("send", *alice, "--room", "u8", "--errors", "replace", env=env, stdin=data)
    assert (r.rc, r.err) == (0, "") and r.elapsed < 15 * SCALE
    r = await run("send", *alice, "--room", "u8", "--encoding", "latin-1", env=env,
                  stdin=b"\xff\xfebad\n")  # fmt: skip
    assert (r.rc, r.err) == (0, "")
    assert _texts(await stored(tls_server, "u8")) == [
        *("good1", "good3", "good5"),
        *("good1", "\ufffd\ufffdbad", "good3", "caf\ufffd", "good5"),
        "ÿþbad",
    ]


async def test_an_invalid_utf8_argument_is_refused_clearly(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    alice = await _registered(tls_server, env)
    bad = b"a\xffb"  # as a shell passes it: bytes, not text
    r = await run("send", *alice, "--room", "arg", bad, env=env)
    assert r.rc == 1 and r.out == ""
    assert r.err == (
        "tertulia: message not sent: TEXT is not valid UTF-8: byte 0xFF at byte 2 (invalid "
        "start byte); use --encoding, or --errors replace\n"
    )
    assert r.elapsed < 15 * SCALE
    assert await stored(tls_server, "arg") is None  # it did not even connect
    r = await run("send", *alice, "--room", "arg", "--errors", "replace", bad, env=env)
    assert (r.rc, r.err) == (0, "")
    assert _texts(await stored(tls_server, "arg")) == ["a\ufffdb"]


@pytest.mark.parametrize("text", ["", "   ", "\t"])
async def test_an_empty_message_is_a_usage_error(
    tls_server: InProcessServer, env: dict[str, str], text: str
) -> None:
    alice = await _registered(tls_server, env)
    r = await run("send", *alice, "--room", "empty", text, env=env)
    assert (r.rc, r.out) == (2, "")
    assert r.err == (
        "tertulia send: error: the message is empty: give some TEXT, or none to send the lines "
        "of stdin\n"
    )
    assert "Traceback" not in r.err and r.elapsed < 15 * SCALE
    assert (await run("send", *alice, "--room", "empty", "sentinel", env=env)).rc == 0
    assert _texts(await stored(tls_server, "empty")) == ["sentinel"]


async def test_listen_escapes_control_characters_and_json_keeps_them(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    alice = await _registered(tls_server, env)
    texts = ["bell\x07 esc\x1b[31m red", "two\nlines\r!", "rtl\u202etxt.exe", "plain ñ 😀"]
    client = Client(
        tls_server.host,
        tls_server.port,
        "alice",
        PASSWORD,
        trust=TrustPolicy(fingerprint=tls_server.fingerprint),
        rooms=["ctl"],
    )
    await client.start()
    try:
        for t in texts:
            await client.send("ctl", t)
        assert await client.flush() == []
    finally:
        await client.close()
    follow = ["--room", "ctl", "--since", "0", "--count", "4"]
    r = await run("listen", *alice, *follow, env=env)
    assert (r.rc, r.err) == (0, "") and r.elapsed < 15 * SCALE
    shown = [line.split("] ", 1)[1] for line in r.out.splitlines()]
    assert shown == [
        "alice: bell\\x07 esc\\x1b[31m red",
        "alice: two\\nlines\\r!",
        "alice: rtl\\u202etxt.exe",
        "alice: plain ñ 😀",
    ]
    assert "\x1b" not in r.out and "\x07" not in r.out and "\u202e" not in r.out
    r = await run("listen", *alice, *follow, "--json", env=env)
    assert r.rc == 0
    assert [json.loads(line)["text"] for line in r.out.splitlines()] == texts
