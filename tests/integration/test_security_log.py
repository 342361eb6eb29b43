"""Logins and disconnects in a real server's log, text and JSON, as fail2ban and people read it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tertulia.proto import messages as m
from tertulia_testkit import SCALE, RawClient, ServerProcess

INJECTED = 'evil" from 6.6.6.6: x\nlogin failed from 7.7.7.7: y'


def wait_for(srv: ServerProcess, pattern: str, count: int) -> str:
    """The server's log once ``pattern`` matches ``count`` times (bounded)."""
    deadline = time.monotonic() + 15 * SCALE
    while True:
        text = srv.stderr_path.read_text()
        if len(re.findall(pattern, text)) >= count:
            return text
        assert time.monotonic() < deadline, f"{pattern!r} x{count} not in:\n{text[-3000:]}"
        time.sleep(0.05)


async def failed_logins_then_one_that_works(srv: ServerProcess) -> None:
    """Four failed logins (wrong password, unknown user, a name built to fool a log parser,
    a bad resume token), one good one, a logout; then a connection the client just drops."""
    c = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await c.hello()
    await c.request(m.Register(id=1, user="bob", password="bob password"))
    attempts: list[Any] = [
        m.Login(id=2, user="bob", password="not it"),
        m.Login(id=3, user="nobody", password="whatever"),
        m.Login(id=4, user=INJECTED, password="x"),
        m.Resume(id=5, token="not-a-token"),
    ]
    for attempt in attempts:
        reply = await c.request(attempt, check=False)
        assert reply.code == "auth_failed"
    await c.request(m.Login(id=6, user="bob", password="bob password"))
    await c.request(m.Logout(id=7))
    await c.closed.wait()
    await c.close()
    d = await RawClient.connect(srv.host, srv.port, fingerprint=srv.fingerprint)
    await d.login("bob", "bob password")
    await d.close()


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_logins_and_disconnects_are_logged_at_info(
    server_proc_factory: Callable[..., Any], fmt: str
) -> None:
    srv = server_proc_factory(start=False)
    srv.log_args = ["--log-level", "INFO", "--log-format", fmt]
    srv.start()
    await failed_logins_then_one_that_works(srv)
    text = wait_for(srv, r"disconnected 127\.0\.0\.1:\d+: user ", 2)
    assert "Traceback" not in text
    if fmt == "text":
        lines = text.splitlines()
    else:
        lines = [json.loads(line)["msg"] for line in text.splitlines()]
    failed = [ln.split("tertulia.auth: ")[-1] for ln in lines if "login failed from" in ln]
    assert failed == [
        'login failed from 127.0.0.1: user "bob", method password: wrong user name or password',
        'login failed from 127.0.0.1: user "nobody", method password: wrong user name or password',
        "login failed from 127.0.0.1: user "
        + json.dumps(INJECTED)
        + ", method password: wrong user name or password",
        'login failed from 127.0.0.1: user "", method token: invalid or expired token',
    ]
    ok = [ln for ln in lines if "login ok from" in ln]
    assert len(ok) == 2 and all(
        ln.endswith('login ok from 127.0.0.1: user "bob", method password') for ln in ok
    )
    # the crafted name did not make a line of its own, nor put another address first
    assert not any(re.search(r"(?:^|auth: )login failed from [67]\.", ln) for ln in lines)
    gone = [ln for ln in lines if "disconnected 127.0.0.1:" in ln]
    assert re.search(r'user "bob", after \d+\.\d s: logged out$', gone[0]), gone
    assert re.search(r'user "bob", after \d+\.\d s: closed by the client$', gone[1]), gone
    if fmt == "json":
        records = [json.loads(line) for line in text.splitlines()]
        logins = [r for r in records if r.get("event") == "login"]
        assert [(r["outcome"], r["user"], r["ip"], r["method"]) for r in logins] == [
            ("failed", "bob", "127.0.0.1", "password"),
            ("failed", "nobody", "127.0.0.1", "password"),
            ("failed", INJECTED, "127.0.0.1", "password"),
            ("failed", "", "127.0.0.1", "token"),
            ("ok", "bob", "127.0.0.1", "password"),
            ("ok", "bob", "127.0.0.1", "password"),
        ]
        assert all(r["level"] == "INFO" and r["logger"] == "tertulia.auth" for r in logins)
        drops = [r for r in records if r.get("event") == "disconnect"]
        assert [r["reason"] for r in drops] == ["logged out", "closed by the client"]
    assert srv.terminate() == 0
