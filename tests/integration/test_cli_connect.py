"""Connecting right, or failing fast and clearly: listen never creates a room, an unknown host
or a closed port fails at once (later losses still reconnect), --tofu shows what it trusts,
look-alike and over-long room names get their own messages. Real TLS, the real command."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_kit import cli_env, conn_args, run, stored

from tertulia.client import Client, TrustPolicy
from tertulia_testkit import PASSWORD, SCALE, InProcessServer

#: a host name that fails before any lookup (a DNS label is at most 63 characters), so the
#: test sends nothing to a real resolver
BAD_HOST = "no-such-host-" + "x" * 60 + ".invalid"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_listen_does_not_create_a_room_from_a_typo(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    alice = conn_args(tls_server, "alice")
    assert (await run("register", *alice, env=env)).rc == 0
    assert (await run("send", *alice, "--room", "general", "hola", env=env)).rc == 0
    r = await run("listen", *alice, "--room", "genral", "--count", "1", env=env)
    assert (r.rc, r.out) == (1, "")
    assert r.err.startswith("tertulia: no room 'genral' on this server")
    assert "listen does not create rooms" in r.err and "--create" in r.err
    assert "tertulia send --room genral" in r.err
    assert r.elapsed < 15 * SCALE
    assert await stored(tls_server, "genral") is None  # no room was made
    assert [m.text for m in (await stored(tls_server, "general")) or []] == ["hola"]
    # asked for, it creates the room
    r = await run("listen", *alice, "--room", "fresh", "--create", "--timeout", "1", env=env)
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert await stored(tls_server, "fresh") == []


@pytest.mark.parametrize("command", ["listen", "send", "register"])
async def test_an_unknown_host_or_a_closed_port_fails_at_once(
    env: dict[str, str], command: str
) -> None:
    fp = "SHA256:" + ":".join(["AB"] * 32)
    extra = {"listen": ["--room", "r"], "send": ["--room", "r", "hi"], "register": []}[command]
    for server, reason in (
        (f"{BAD_HOST}:7443", "the host name could not be resolved (not a valid host name)"),
        (f"127.0.0.1:{_free_port()}", "the connection was refused: no server is listening"),
    ):
        args = ["--server", server, "--fingerprint", fp, "--user", "alice", *extra]
        r = await run(command, *args, env=env)  # the default --connect-timeout is 30 s
        assert (r.rc, r.out) == (1, "")
        assert r.err.startswith(f"tertulia: cannot connect to {server}: {reason}"), r.err
        assert "reconnecting" not in r.err and "Traceback" not in r.err
        assert r.elapsed < 10 * SCALE


async def test_after_a_successful_connection_losses_are_still_reconnected(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    alice = conn_args(tls_server, "alice")
    assert (await run("register", *alice, env=env)).rc == 0
    follow = ["--room", "live", "--create", "--json", "--count", "2", "--timeout", "60"]
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tertulia", "listen", *alice, *follow),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        trust = TrustPolicy(fingerprint=tls_server.fingerprint)
        bob = Client(tls_server.host, tls_server.port, "bob", PASSWORD, trust=trust)
        await bob.register()
        await bob.start()
        try:
            deadline = time.monotonic() + 20 * SCALE
            while "live" not in [r.name for r in await bob.list_rooms()]:  # the listener is in
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            await bob.join("live", create=False)
            await (await bob.send("live", "before the restart")).acked()
        finally:
            await bob.close()
        await tls_server.restart()  # refused connections while it is down: retried
        bob = Client(tls_server.host, tls_server.port, "bob", PASSWORD, trust=trust)
        await bob.start()
        try:
            await (await bob.send("live", "after the restart")).acked()
        finally:
            await bob.close()
        out, err = await asyncio.wait_for(proc.communicate(), 60 * SCALE)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert [json.loads(line)["text"] for line in out.decode().splitlines()] == [
        "before the restart",
        "after the restart",
    ]
    assert "reconnecting" in err.decode()


async def test_tofu_prints_the_fingerprint_it_trusts_and_where_it_keeps_it(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    server = ["--server", f"{tls_server.host}:{tls_server.port}", "--tofu", "--user", "alice"]
    known = env["TERTULIA_KNOWN_SERVERS"]
    r = await run("register", *server, env=env)
    assert r.rc == 0 and r.elapsed < 15 * SCALE
    assert r.err == (
        f"tertulia: first connection to {tls_server.host}:{tls_server.port}: trusting its "
        f"certificate\n  {tls_server.fingerprint}\ntertulia: remembering it in {known}; a "
        "different certificate from this server will be refused from now on\n"
    )
    assert tls_server.spki in Path(known).read_text()  # remembered by its public key
    r = await run("send", *server, "--room", "r", "hola", env=env)  # known now: nothing said
    assert (r.rc, r.err) == (0, "")
    assert [m.text for m in (await stored(tls_server, "r")) or []] == ["hola"]


async def test_look_alike_and_over_long_room_names_get_their_own_message(
    tls_server: InProcessServer, env: dict[str, str]
) -> None:
    alice = conn_args(tls_server, "alice")
    assert (await run("register", *alice, env=env)).rc == 0
    assert (await run("send", *alice, "--room", "general", "hola", env=env)).rc == 0
    for room in ("genera1", "GENERA1"):  # digit one
        r = await run("send", *alice, "--room", room, "x", env=env)
        assert r.rc == 1 and r.elapsed < 15 * SCALE
        assert f"the room name {room.lower()!r} looks like the name of an existing room" in r.err
        assert r.err.rstrip().endswith("[room_exists]") and "room_not_found" not in r.err
    r = await run("send", *alice, "--room", "gener\u0430l", "x", env=env)  # Cyrillic a
    assert r.rc == 1 and "it mixes scripts" in r.err and r.err.rstrip().endswith("[invalid_name]")
    r = await run("send", *alice, "--room", "g" * 200, "x", env=env)
    assert r.rc == 1 and r.elapsed < 15 * SCALE
    assert r.err == "tertulia: invalid room name: too long (at most 32 characters) [invalid_name]\n"
    r = await run("send", *alice, "--room", "a b", "x", env=env)
    assert r.rc == 1 and "character U+0020 is not allowed" in r.err
    assert [m.text for m in (await stored(tls_server, "general")) or []] == ["hola"]
    r = await run("register", *conn_args(tls_server, "a1ice"), env=env)
    assert r.rc == 1 and "looks like an existing user's name" in r.err
