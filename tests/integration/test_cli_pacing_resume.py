"""``tertulia send`` under the server's real rate limit, on a terminal, and interrupted.

The server runs with a real message bucket (small numbers keep the tests short): the command
and the library must stay inside it, so the server never refuses or disconnects them; Ctrl+C
must say how far the send got, and the resume it suggests must store every line exactly once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cli_kit import cli_env, conn_args, run, stored

from tertulia.client import Client, TrustPolicy
from tertulia.server.config import LimitsConfig
from tertulia_testkit import PASSWORD, SCALE, InProcessServer

RATE, BURST = 20.0, 10


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    """A server with a real per-user message bucket of BURST at RATE per second."""
    srv = InProcessServer(
        tmp_path / "srv", limits=LimitsConfig(message_rate=RATE, message_burst=BURST)
    )
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


def _refusals(srv: InProcessServer) -> tuple[int, int]:
    """``rate_limited`` answers for messages, and connections closed for ignoring them."""
    assert srv.server is not None
    return srv.server.guard.refusals["message_rate"], srv.server.closes.get("rate_limited", 0)


def _lines(n: int, first: int = 1) -> str:
    return "".join(f"line {i}\n" for i in range(first, first + n))


async def _texts(srv: InProcessServer, room: str) -> list[str]:
    msgs = await stored(srv, room)
    assert msgs is not None
    return [m.text for m in msgs]


async def test_send_paces_itself_so_the_server_never_slows_it_down(
    limited: InProcessServer, env: dict[str, str]
) -> None:
    alice = conn_args(limited, "alice")
    assert (await run("register", *alice, env=env)).rc == 0
    n = 120
    r = await run("send", *alice, "--room", "flood", env=env, stdin=_lines(n), timeout=60)
    assert (r.rc, r.out, r.err) == (0, "", ""), r.err  # no refusal, no reconnect, no progress
    assert _refusals(limited) == (0, 0)
    # the pace: at most RATE per second (so at least (n - 1) / RATE s), and not much slower
    assert (n - 1) / RATE <= r.elapsed < 30 * SCALE
    # at once again: the user's bucket on the server is empty now, the new process knows not
    r = await run("send", *alice, "--room", "flood", env=env, stdin=_lines(40, n + 1))
    assert (r.rc, r.err) == (0, "")
    assert _refusals(limited) == (0, 0)
    assert await _texts(limited, "flood") == [f"line {i}" for i in range(1, n + 41)]


async def test_a_bot_on_the_library_is_paced_too(limited: InProcessServer) -> None:
    trust = TrustPolicy(fingerprint=limited.fingerprint)
    bot = Client(limited.host, limited.port, "bot", PASSWORD, trust=trust, rooms=["bots"])
    await bot.register()
    await bot.start()
    try:
        started = time.monotonic()
        entries = [await bot.send("bots", f"tick {i}") for i in range(60)]
        assert await bot.flush() == []
        assert time.monotonic() - started >= 59 / RATE
        assert bot.state.value == "connected"
    finally:
        await bot.close()
    assert [e.sent.seq for e in entries if e.sent] == list(range(1, 61))
    assert _refusals(limited) == (0, 0)


async def test_progress_is_shown_on_a_terminal_only(
    limited: InProcessServer, env: dict[str, str]
) -> None:
    alice = conn_args(limited, "alice")
    assert (await run("register", *alice, env=env)).rc == 0
    master, slave = os.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the other side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        r = await run("send", *alice, "--room", "tty", env=env, stdin=_lines(40), stderr=slave)
    finally:
        os.close(slave)
        reader.join(10 * SCALE)
        os.close(master)
    assert r.rc == 0
    shown = b"".join(chunks).decode()
    assert "\r\x1b[Ktertulia: " in shown and " acknowledged, " in shown
    assert f"(paced at {RATE * 0.95:.3g}/s, the server's limit)" in shown
    assert shown.endswith("\r\x1b[K")  # erased at the end
    assert await _texts(limited, "tty") == [f"line {i}" for i in range(1, 41)]


async def _interrupt_after(
    srv: InProcessServer, args: list[str], env: dict[str, str], stdin: Path, room: str
) -> tuple[int, str]:
    """Start ``tertulia send``, Ctrl+C it once 10 lines are stored; (status, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tertulia",
        "send",
        *args,
        "--room",
        room,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin.read_bytes())  # the whole input at once, then end of file
    await proc.stdin.drain()
    proc.stdin.close()
    try:
        deadline = time.monotonic() + 30 * SCALE
        while len((await stored(srv, room)) or []) < 10:  # a positive marker: it is sending
            assert time.monotonic() < deadline, "nothing was sent"
            await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        _, err = await asyncio.wait_for(proc.communicate(), 20 * SCALE)
        assert time.monotonic() - signalled < 10 * SCALE
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_ctrl_c_says_how_far_it_got_and_the_suggested_resume_stores_each_line_once(
    limited: InProcessServer, env: dict[str, str], tmp_path: Path
) -> None:
    alice = conn_args(limited, "alice")
    assert (await run("register", *alice, env=env)).rc == 0
    n = 150
    data = tmp_path / "in.txt"
    data.write_text(_lines(n))
    rc, err = await _interrupt_after(limited, alice, env, data, "ops")
    assert rc == 130, err
    mo = re.search(r"interrupted: (\d+) of 150 lines read were acknowledged; every line up to "
                   r"line (\d+) is finished", err)  # fmt: skip
    assert mo, err
    acked, done = int(mo.group(1)), int(mo.group(2))
    hint = re.search(r"run the same command again on the same input with --id-prefix (\S+) "
                     r"--skip (\d+)\n", err)  # fmt: skip
    assert hint, err
    prefix, skip = hint.group(1), int(hint.group(2))
    assert 10 <= done == skip == acked < n
    first = await stored(limited, "ops")
    assert first is not None
    # stored so far: lines 1..S in order, S >= done (some may be stored without their ack)
    assert [m.text for m in first] == [f"line {i}" for i in range(1, len(first) + 1)]
    assert len(first) >= done
    again = ["--id-prefix", prefix, "--skip", str(skip), "--room", "ops"]
    r = await run("send", *alice, *again, env=env, stdin=data.read_bytes(), timeout=60)
    assert (r.rc, r.err) == (0, ""), r.err
    final = await stored(limited, "ops")
    assert final is not None
    assert [m.text for m in final] == [f"line {i}" for i in range(1, n + 1)]
    assert [m.msg_id for m in final] == [f"{prefix}:{i}" for i in range(1, n + 1)]
    assert _refusals(limited) == (0, 0)


async def test_resume_file_sends_the_rest_once_and_refuses_another_input(
    limited: InProcessServer, env: dict[str, str], tmp_path: Path
) -> None:
    alice = conn_args(limited, "alice")
    assert (await run("register", *alice, env=env)).rc == 0
    n = 150
    data = tmp_path / "in.txt"
    data.write_text(_lines(n))
    resume = tmp_path / "ops.resume"
    args = [*alice, "--resume-file", str(resume)]
    rc, err = await _interrupt_after(limited, args, env, data, "ops")
    assert rc == 130, err
    assert f"run the same command again on the same input: the resume file {resume}" in err
    assert stat.S_IMODE(resume.stat().st_mode) == 0o600
    before = await _texts(limited, "ops")
    # another input is refused before anything is sent
    other = _lines(n).replace("line 3\n", "line three\n")
    r = await run("send", *args, "--room", "ops", env=env, stdin=other)
    assert r.rc == 1 and "differ from those the interrupted run sent" in r.err
    assert r.elapsed < 15 * SCALE and await _texts(limited, "ops") == before
    # the same input: the rest, once
    r = await run("send", *args, "--room", "ops", env=env, stdin=data.read_bytes(), timeout=60)
    assert (r.rc, r.err) == (0, ""), r.err
    assert await _texts(limited, "ops") == [f"line {i}" for i in range(1, n + 1)]
    assert not resume.exists()  # the input is finished


async def test_a_reused_id_prefix_with_new_input_is_reported_not_silently_dropped(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    alice = conn_args(tls_server, "alice")
    assert (await run("register", *alice, env=env)).rc == 0
    same = ["send", *alice, "--room", "ids", "--id-prefix", "batch-1"]
    assert (await run(*same, env=env, stdin="alpha\nbeta\n")).rc == 0
    r = await run(*same, env=env, stdin="alpha\ngamma\ndelta\n")
    assert r.rc == 1
    assert "line 2 not sent: its id batch-1:2 was already used for a different message" in r.err
    assert "line 1" not in r.err  # alpha is the very message already stored: fine
    assert r.elapsed < 15 * SCALE
    assert await _texts(tls_server, "ids") == ["alpha", "beta", "delta"]
