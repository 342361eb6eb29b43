"""An attacker's wrong passwords must not lock the owner out (issue 12, item 1's last line).

Against a live ``tertulia server`` process with the default login limits and no exempt
networks, while an honest pair chats (``attack_kit``):

* one attacker address sends wrong passwords for the victim's account until it is throttled
  (then even the right password from there is refused unchecked); the victim logs in with
  the password from another address, and resumes with a token, at once;
* the guessing is then spread over more addresses than the account's overall ceiling allows:
  a fresh address is refused, but the address the victim logged in from and the victim's
  resume token still get in.

Before the fix, failures counted per account alone, so the first five wrong passwords from
anywhere locked the victim's password logins out everywhere for five minutes.
"""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path
from typing import Any

from attack_kit import honest_pair, under_attack
from security_kit import connect

from tertulia.proto import messages as m
from tertulia_testkit import PASSWORD, RawClient, ServerProcess

LIMITS = """
[limits]
exempt_networks = []
max_connections_per_ip = 64
request_rate = 200.0
request_burst = 400
registrations_per_ip_per_hour = 1000
"""

#: the defaults this test relies on (docs/security.md's Limits table)
PER_ADDRESS_AND_ACCOUNT = 5
PER_ACCOUNT_TOTAL = 50


async def _login(srv: ServerProcess, ip: str, password: str = PASSWORD) -> tuple[Any, float]:
    """One ``login`` for "victim" from ``ip`` on a fresh connection: the reply and its ms."""
    c = await connect(srv, ip)
    await c.hello()
    t0 = time.monotonic()
    reply = await c.request(m.Login(id=c.next_id(), user="victim", password=password), check=False)
    ms = (time.monotonic() - t0) * 1000
    await c.close()
    return reply, ms


async def _resume(srv: ServerProcess, ip: str, token: str) -> tuple[Any, float]:
    c = await connect(srv, ip)
    await c.hello()
    t0 = time.monotonic()
    reply = await c.request(m.Resume(id=c.next_id(), token=token), check=False)
    ms = (time.monotonic() - t0) * 1000
    await c.close()
    return reply, ms


async def _guess(c: RawClient, n: int) -> dict[str, int]:
    """``n`` wrong passwords for "victim" on connection ``c``: how each was answered."""
    answers: dict[str, int] = {}
    for i in range(n):
        reply = await c.request(
            m.Login(id=c.next_id(), user="victim", password=f"guess-{i:04d}"), check=False
        )
        assert isinstance(reply, m.Error), reply
        answers[reply.code] = answers.get(reply.code, 0) + 1
    return answers


async def test_attackers_failed_logins_do_not_lock_the_owner_out(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", LIMITS)
    srv.start()
    try:
        c = await connect(srv, "127.0.0.7")
        await c.hello()
        await c.request(m.Register(id=c.next_id(), user="victim", password=PASSWORD))
        ok = await c.request(m.Login(id=c.next_id(), user="victim", password=PASSWORD))
        assert isinstance(ok, m.LoginOk) and ok.token is not None
        token = ok.token  # the victim's phone, say
        await c.close()

        async def one_address() -> dict[str, Any]:
            async def hammer() -> dict[str, int]:
                attacker = await connect(srv, "127.0.0.66")
                await attacker.hello()
                try:
                    return await _guess(attacker, 250)
                finally:
                    await attacker.close()

            answers: collections.Counter[str] = collections.Counter()
            for counted in await asyncio.gather(*(hammer() for _ in range(4))):
                answers.update(counted)
            assert set(answers) <= {"auth_failed", "login_throttled", "busy"}, answers
            # four connections at once: a few may pass the check before the fifth failure
            # is counted, never more than the connections in flight
            assert PER_ADDRESS_AND_ACCOUNT <= answers["auth_failed"] <= PER_ADDRESS_AND_ACCOUNT + 3
            right, _ = await _login(srv, "127.0.0.66")  # throttled: not even checked
            assert isinstance(right, m.Error) and right.code == "login_throttled", right
            assert right.params["retry_after"] > 0
            victim, login_ms = await _login(srv, "127.0.0.8")
            assert isinstance(victim, m.LoginOk), f"the owner is locked out: {victim}"
            resumed, resume_ms = await _resume(srv, "127.0.0.9", token)
            assert isinstance(resumed, m.LoginOk), resumed
            print(
                f"one attacker address, {sum(answers.values())} attempts {dict(answers)}:"
                f" victim login {login_ms:.1f} ms, resume {resume_ms:.1f} ms"
            )
            return {
                "attacker_answers": dict(answers),
                "victim_login_ms": round(login_ms, 1),
                "victim_resume_ms": round(resume_ms, 1),
            }

        async def many_addresses() -> dict[str, Any]:
            # 12 x 5 more failures for the account, past the ceiling of 50
            failures, throttled = failed_so_far, 0
            for i in range(12):
                attacker = await connect(srv, f"127.0.0.{100 + i}")
                await attacker.hello()
                answers = await _guess(attacker, PER_ADDRESS_AND_ACCOUNT + 1)
                failures += answers.get("auth_failed", 0)
                throttled += answers.get("login_throttled", 0)
                await attacker.close()
            assert failures == PER_ACCOUNT_TOTAL  # the ceiling stopped the guessing there
            fresh, _ = await _login(srv, "127.0.0.120")
            assert isinstance(fresh, m.Error) and fresh.code == "login_throttled", fresh
            victim, login_ms = await _login(srv, "127.0.0.8")  # where the victim logged in
            assert isinstance(victim, m.LoginOk), f"the owner is locked out: {victim}"
            resumed, resume_ms = await _resume(srv, "127.0.0.9", token)
            assert isinstance(resumed, m.LoginOk), resumed
            print(
                f"{failures} failures from 13 addresses: victim login {login_ms:.1f} ms,"
                f" resume {resume_ms:.1f} ms; fresh address refused"
            )
            return {
                "account_failures": failures,
                "throttled_guesses": throttled,
                "victim_login_ms": round(login_ms, 1),
                "victim_resume_ms": round(resume_ms, 1),
            }

        async with honest_pair(srv) as chat:
            first = await under_attack(
                srv, "lockout: one attacker address", one_address, honest=chat
            )
            failed_so_far = first.notes["attacker_answers"]["auth_failed"]
            await under_attack(
                srv, "lockout: guessing from 13 addresses", many_addresses, honest=chat
            )
    finally:
        srv.stop()
