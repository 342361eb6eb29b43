"""The real ``tertulia`` client commands (and the example bot) as subprocesses, over real TLS."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tertulia.cli.client_cmds import parse_server
from tertulia.client import Client, MemberEvent, Message, TrustPolicy
from tertulia_testkit import PASSWORD, SCALE, InProcessServer, ServerProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["TERTULIA_PASSWORD"] = PASSWORD
    e["TERTULIA_KNOWN_SERVERS"] = str(tmp_path / "known_servers")
    e["PYTHONUNBUFFERED"] = "1"
    return e


def conn_args(srv: Any, user: str) -> list[str]:
    return ["--server", f"{srv.host}:{srv.port}", "--fingerprint", srv.fingerprint, "--user", user]


async def cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 30.0
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tertulia",
        *args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else b""), timeout * SCALE
        )
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def parse_server_cases() -> list[tuple[str, tuple[str, int]]]:
    return [
        ("localhost", ("localhost", 7443)),
        ("chat.example.org:8000", ("chat.example.org", 8000)),
        ("[::1]:7443", ("::1", 7443)),
        ("[::1]", ("::1", 7443)),
        ("::1", ("::1", 7443)),
        ("127.0.0.1:1", ("127.0.0.1", 1)),
    ]


@pytest.mark.parametrize(("text", "expected"), parse_server_cases())
def test_parse_server(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text) == expected


async def test_register_send_listen(tls_server: InProcessServer, env: dict[str, str]) -> None:
    alice = conn_args(tls_server, "alice")
    rc, out, err = await cli("register", *alice, env=env)
    assert (rc, err) == (0, "") and "registered alice" in out
    rc, out, err = await cli("register", *alice, env=env)
    assert rc == 1 and "already taken" in err
    rc, out, err = await cli(
        "send", *alice, "--room", "Lobby", env=env, stdin="one\ntwo\n\nthree\n"
    )
    assert (rc, out, err) == (0, "", "")
    rc, _, err = await cli("send", *alice, "--room", "lobby", "--me", "waves", "hello", env=env)
    assert (rc, err) == (0, "")
    rc, out, err = await cli(
        "listen", *alice, "--room", "lobby", "--json", "--since", "0", "--count", "4", env=env
    )
    assert (rc, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["room"], r["seq"], r["sender"], r["text"], r["kind"]) for r in rows] == [
        ("lobby", 1, "alice", "one", "text"),
        ("lobby", 2, "alice", "two", "text"),
        ("lobby", 3, "alice", "three", "text"),
        ("lobby", 4, "alice", "waves hello", "me"),
    ]
    # line N of a run is sent as PREFIX:N, the prefix random per run (16 hex digits)
    assert [r["msg_id"].split(":")[1] for r in rows] == ["1", "2", "4", "1"]
    assert all(re.fullmatch(r"[0-9a-f]{16}:\d+", r["msg_id"]) for r in rows)
    assert rows[0]["msg_id"].split(":")[0] == rows[2]["msg_id"].split(":")[0]
    assert rows[0]["msg_id"].split(":")[0] != rows[3]["msg_id"].split(":")[0]
    assert all(r["ts"] > 1_600_000_000_000 for r in rows)
    rc, out, _ = await cli(
        "listen", *alice, "--room", "lobby", "--since", "2", "--count", "2", env=env
    )
    assert rc == 0
    lines = out.splitlines()
    assert re.fullmatch(r"\[\d\d:\d\d\] alice: three", lines[0])
    assert re.fullmatch(r"\[\d\d:\d\d\] \* alice waves hello", lines[1])
    # without --since only new messages: none arrive, so --timeout ends it (1: --count unmet)
    rc, out, err = await cli(
        "listen", *alice, "--room", "lobby", "--count", "1", "--timeout", "1", env=env
    )
    assert (rc, out) == (1, "") and "timed out" in err
    rc, out, _ = await cli("listen", *alice, "--room", "lobby", "--timeout", "0.5", env=env)
    assert (rc, out) == (0, "")


async def test_refusals_and_trust_errors(tls_server: InProcessServer, env: dict[str, str]) -> None:
    alice = conn_args(tls_server, "alice")
    assert (await cli("register", *alice, env=env))[0] == 0
    rc, _, err = await cli("send", *alice, "--room", "r", env=env, stdin="ok\n" + "x" * 5000)
    assert rc == 1 and "too long" in err and "text_too_long" in err
    bad_pw = dict(env, TERTULIA_PASSWORD="wrong password!")
    rc, _, err = await cli("send", *alice, "--room", "r", "hi", env=bad_pw)
    assert rc == 1 and "auth_failed" in err
    no_pw = {k: v for k, v in env.items() if k != "TERTULIA_PASSWORD"}
    rc, _, err = await cli("send", *alice, "--room", "r", "hi", env=no_pw)
    assert rc == 1 and "TERTULIA_PASSWORD" in err
    server = ["--server", f"{tls_server.host}:{tls_server.port}", "--user", "alice"]
    wrong = "SHA256:" + ":".join(["00"] * 32)
    rc, _, err = await cli("send", *server, "--fingerprint", wrong, "--room", "r", "x", env=env)
    assert rc == 1 and "does not match the pinned fingerprint" in err
    rc, _, err = await cli("send", *server, "--room", "r", "x", env=env)  # system CAs: no
    assert rc == 1 and "--fingerprint" in err and tls_server.fingerprint in err
    rc, _, err = await cli("send", *server, "--tofu", "--room", "r", "tofu", env=env)
    assert rc == 0 and tls_server.fingerprint in err  # what is trusted, shown like ssh does
    assert tls_server.spki in Path(env["TERTULIA_KNOWN_SERVERS"]).read_text()  # its key
    rc, _, err = await cli(
        "send", *server, "--tofu", "--fingerprint", wrong, "--room", "r", env=env
    )
    assert rc == 1 and "choose one" in err


async def test_three_users_chatting(tls_server: InProcessServer, env: dict[str, str]) -> None:
    users = ("ana", "bea", "cris")
    for u in users:
        assert (await cli("register", *conn_args(tls_server, u), env=env))[0] == 0
    listen = [
        cli(
            "listen",
            *conn_args(tls_server, u),
            "--room",
            "tertulia",
            "--create",  # they race the senders to a room nobody made yet
            "--json",
            "--since",
            "0",
            "--count",
            "6",
            "--timeout",
            "25",
            env=env,
        )
        for u in users
    ]
    sends = [
        cli(
            "send",
            *conn_args(tls_server, u),
            "--room",
            "tertulia",
            env=env,
            stdin=f"hola, soy {u}\nadiós de {u}\n",
        )
        for u in users
    ]
    results = await asyncio.gather(*listen, *sends)
    assert [r[0] for r in results] == [0] * 6, results
    seen = [[json.loads(line) for line in r[1].splitlines()] for r in results[:3]]
    assert seen[0] == seen[1] == seen[2]
    assert [r["seq"] for r in seen[0]] == [1, 2, 3, 4, 5, 6]
    for u in users:  # each user's own two lines in the order sent
        texts = [r["text"] for r in seen[0] if r["sender"] == u]
        assert texts == [f"hola, soy {u}", f"adiós de {u}"]


def test_send_and_listen_survive_a_server_kill(
    server_proc_factory: Callable[..., ServerProcess], env: dict[str, str]
) -> None:
    srv = server_proc_factory()
    alice = conn_args(srv, "alice")
    base = [sys.executable, "-m", "tertulia"]
    run = subprocess.run([*base, "register", *alice], env=env, capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr
    n = 40
    popen: dict[str, Any] = dict(env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    follow = ["--room", "ops", "--create", "--json", "--since", "0", "--count", str(3 * n)]
    listener = subprocess.Popen([*base, "listen", *alice, *follow], **popen)
    seen: list[str] = []
    assert listener.stdout is not None
    reader = threading.Thread(target=lambda: seen.extend(listener.stdout or ()), daemon=True)
    reader.start()
    sender = subprocess.Popen(
        [*base, "send", *alice, "--room", "ops"], stdin=subprocess.PIPE, **popen
    )
    try:
        assert sender.stdin is not None
        for i in range(n):
            sender.stdin.write(f"line {i}\n")
        sender.stdin.flush()
        # both are connected, and these are stored, once the listener has printed them (a
        # server gone before the sender's first connection is a different test: fail fast)
        deadline = time.monotonic() + 30 * SCALE
        while len(seen) < n:
            assert time.monotonic() < deadline, f"only {len(seen)} of {n} lines arrived"
            time.sleep(0.05)
        for i in range(n, 2 * n):
            sender.stdin.write(f"line {i}\n")
        sender.stdin.flush()
        time.sleep(0.02)
        srv.kill()  # SIGKILL with messages in flight: some stored without their ack reaching us
        for i in range(2 * n, 3 * n):  # typed while the server is down
            sender.stdin.write(f"line {i}\n")
        sender.stdin.flush()
        time.sleep(0.3)
        srv.start()
        _, err = sender.communicate(timeout=40 * SCALE)  # closes stdin: EOF ends the input
        assert sender.returncode == 0, err
        listener.wait(timeout=40 * SCALE)
        reader.join(10 * SCALE)
        assert listener.stderr is not None
        assert listener.returncode == 0, listener.stderr.read()
        out = "".join(seen)
    finally:
        for p in (sender, listener):
            if p.poll() is None:
                p.kill()
                p.wait()
            for pipe in (p.stdin, p.stdout, p.stderr):
                if pipe is not None:
                    pipe.close()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, 3 * n + 1))
    assert [r["text"] for r in rows] == [f"line {i}" for i in range(3 * n)]


async def test_echo_bot_answers(tls_server: InProcessServer, env: dict[str, str]) -> None:
    trust = TrustPolicy(fingerprint=tls_server.fingerprint)
    alice = Client(tls_server.host, tls_server.port, "alice", PASSWORD, trust=trust, rooms=["bots"])
    await alice.register()
    await alice.start()
    events = alice.events()
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "echo_bot.py"),
        "--server",
        f"{tls_server.host}:{tls_server.port}",
        "--fingerprint",
        tls_server.fingerprint,
        "--user",
        "echobot",
        "--room",
        "bots",
        "--register",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        while True:  # the bot is in the room once its join is announced
            ev = await events.get(20 * SCALE)
            if isinstance(ev, MemberEvent) and ev.user == "echobot" and ev.action == "joined":
                break
        await alice.send("bots", "!ping")
        await alice.send("bots", "!echo eco eco")
        answers: list[str] = []
        while len(answers) < 2:
            ev = await events.get(10 * SCALE)
            if isinstance(ev, Message) and ev.sender == "echobot":
                answers.append(ev.text)
        assert answers == ["pong", "eco eco"]
    finally:
        events.close()
        await alice.close()
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(bot.communicate(), 15 * SCALE)
    assert bot.returncode == 0, err.decode()
