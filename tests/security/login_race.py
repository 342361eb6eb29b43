"""The login race of issue 12: logins with the old password in flight while it changes.

Shared by the hostile-login test (a server process, figures printed) and the authorization
matrix (in-process). ``racers`` connections, each from its own loopback address, send
``login`` with the victim's old password one after another over ``spread`` seconds, and
``revoke()`` (a password change, a disable) runs a quarter of the way in, so some logins are
checked before it and some finish hashing after it committed.

What must hold, and is checked here: every login that got ``login_ok`` is closed by the
server with a ``bye`` (``bye_code``) -- a positive marker, waited for -- and its resume token
is refused; every other login was refused (``auth_failed``, or ``busy`` / ``login_throttled``).
On the code before the credential generation, logins that finished after the revocation stayed
connected and their tokens resumed.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from typing import Any

from security_kit import connect

from tertulia.proto import messages as m
from tertulia_testkit import SCALE, RawClient

__all__ = ["login_race"]

REFUSED = {"auth_failed", "busy", "login_throttled"}


async def _survives(c: RawClient, bye_code: str) -> str | None:
    """None if the server closed ``c`` with ``bye_code``; else what ``c`` could still do."""
    try:
        bye = await c.event(m.ServerBye, timeout=5.0)
    except TimeoutError:
        reply = await c.request(m.ListRooms(id=c.next_id()), check=False)
        return f"still logged in 5 s after the revocation (list_rooms -> {type(reply).__name__})"
    if bye.code != bye_code:
        return f"closed with {bye.code}, not {bye_code}"
    await asyncio.wait_for(c.closed.wait(), 5 * SCALE)
    return None


async def login_race(
    srv: Any,
    victim: str,
    old_password: str,
    revoke: Callable[[], Awaitable[Any]],
    *,
    bye_code: str,
    racers: int = 24,
    spread: float = 0.3,
    first_ip: int = 40,
) -> dict[str, Any]:
    """Race ``racers`` old-password logins of ``victim`` against ``revoke()``; check the
    outcome (module docstring) and return what happened, for the figures."""
    conns = [await connect(srv, f"127.0.0.{first_ip + i}") for i in range(racers)]
    for c in conns:
        await c.hello()
    results: list[Any] = [None] * racers
    answered_at = [0.0] * racers

    async def one(i: int) -> None:
        await asyncio.sleep(i * spread / racers)
        c = conns[i]
        results[i] = await c.request(
            m.Login(id=c.next_id(), user=victim, password=old_password), check=False, timeout=60
        )
        answered_at[i] = time.monotonic()

    tasks = [asyncio.create_task(one(i)) for i in range(racers)]
    await asyncio.sleep(spread / 4)
    await revoke()
    revoked_at = time.monotonic()
    await asyncio.gather(*tasks)

    logged_in = [i for i, r in enumerate(results) if isinstance(r, m.LoginOk)]
    codes = collections.Counter(r.code for r in results if isinstance(r, m.Error))
    assert set(codes) <= REFUSED, codes
    late = [i for i in logged_in if answered_at[i] > revoked_at]
    outcomes = await asyncio.gather(*(_survives(conns[i], bye_code) for i in logged_in))
    survivors = {i: why for i, why in zip(logged_in, outcomes, strict=True) if why is not None}
    resumed = []
    for i in logged_in:
        token = results[i].token
        r = await connect(srv, f"127.0.0.{first_ip + racers}")
        await r.hello()
        reply = await r.request(m.Resume(id=r.next_id(), token=token or ""), check=False)
        if not isinstance(reply, m.Error):
            resumed.append(i)
        await r.close()
    for c in conns:
        await c.close()
    report = {
        "racers": racers,
        "logged_in_then_closed": len(logged_in) - len(survivors),
        "login_ok_after_revocation": len(late),
        "refused": dict(codes),
        "survivors": len(survivors),
        "tokens_resumed": len(resumed),
    }
    print(f"login race against {bye_code}: {report}")
    assert not survivors, f"{len(survivors)} logins survived the revocation: {survivors}"
    assert not resumed, f"{len(resumed)} tokens from racing logins still resume"
    return report
