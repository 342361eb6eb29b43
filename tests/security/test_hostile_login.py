"""Hostile logins against a live ``tertulia server`` process, while an honest pair chats.

* The login race (issue 12, item 1): logins with the victim's old password still hashing when
  the password changes, or when an admin disables the account, must not end up connected, and
  their resume tokens must not work.
* The valid-password login flood (item 8): 30 connections logging in again and again with a
  *right* password (no failure throttle applies) must not make an honest login wait for all of
  their argon2 hashes: the hashing pool has a per-address bound and answers ``busy``.

Each attack prints the honest pair's latency and the server's RSS (``attack_kit``), plus the
attack's own figures (logins refused, honest login latency).
"""

from __future__ import annotations

import asyncio
import collections
import statistics
import time
from pathlib import Path
from typing import Any

from attack_kit import honest_pair, under_attack
from login_race import login_race
from security_kit import connect

from tertulia.proto import messages as m
from tertulia_testkit import FAST_PASSWORDS_TOML, PASSWORD, SCALE, ServerProcess

LIMITS = """
[limits]
exempt_networks = []
max_connections_per_ip = 64
request_rate = 200.0
request_burst = 400
login_failures_per_account = 1000
login_failures_per_ip = 1000
registrations_per_ip_per_hour = 1000
"""


def _server(tmp_path: Path, passwords: str) -> ServerProcess:
    """A server process with ``passwords`` as its ``[passwords]`` table (not the testkit's
    cheap hashes: the hashing pool is what is attacked)."""
    srv = ServerProcess(tmp_path / "data", LIMITS)
    text = srv.config_path.read_text()
    assert text.startswith(FAST_PASSWORDS_TOML)
    srv.config_path.write_text(passwords + text[len(FAST_PASSWORDS_TOML) :])
    return srv


#: ~30 ms per hash: logins stay in flight long enough to race, and the test stays quick
RACE_PASSWORDS = "[passwords]\ntime_cost = 2\nmemory_cost = 16384\nparallelism = 1\n"
#: the defaults (64 MiB, t=3: ~0.3 s a hash here), as the attack run had them
DEFAULT_PASSWORDS = "[passwords]\nmin_length = 8\n"


async def test_login_race_with_password_change_and_disable(tmp_path: Path) -> None:
    srv = _server(tmp_path, RACE_PASSWORDS)
    srv.start()
    try:
        assert srv.admin_password is not None
        admin = await connect(srv, "127.0.0.2")
        await admin.login("admin", srv.admin_password)
        victim = await connect(srv, "127.0.0.3")
        await victim.login("victim", register=True)
        async with honest_pair(srv) as chat:

            async def change_race() -> dict[str, Any]:
                async def change() -> None:
                    await victim.request(
                        m.ChangePassword(
                            id=victim.next_id(), old_password=PASSWORD, new_password="a new one!"
                        )
                    )

                return await login_race(srv, "victim", PASSWORD, change, bye_code="session_revoked")

            await under_attack(srv, "login race: password change", change_race, honest=chat)
            await victim.request(m.ListRooms(id=victim.next_id()))  # the changer stays

            async def disable_race() -> dict[str, Any]:
                async def disable() -> None:
                    await admin.request(m.DisableUser(id=admin.next_id(), user="victim"))

                return await login_race(
                    srv, "victim", "a new one!", disable, bye_code="account_disabled", first_ip=80
                )

            await under_attack(srv, "login race: disable", disable_race, honest=chat)
        await admin.close()
        await victim.close()
    finally:
        srv.stop()


async def _timed_login(srv: ServerProcess, ip: str, name: str) -> tuple[float, int]:
    """Seconds an honest login takes, retrying after ``busy`` as the client library does."""
    c = await connect(srv, ip)
    await c.hello()
    t0 = time.monotonic()
    busy = 0
    while True:
        reply = await c.request(
            m.Login(id=c.next_id(), user=name, password=PASSWORD), check=False, timeout=60
        )
        if isinstance(reply, m.LoginOk):
            break
        assert reply.code == "busy", reply
        busy += 1
        await asyncio.sleep(float(reply.params.get("retry_after", 0.1)))
    took = time.monotonic() - t0
    await c.close()
    return took, busy


async def test_valid_password_login_flood(tmp_path: Path) -> None:
    srv = _server(tmp_path, DEFAULT_PASSWORDS)
    srv.start()
    try:
        for name, ip in (("mallory", "127.0.0.2"), ("carol", "127.0.0.3")):
            c = await connect(srv, ip)
            await c.login(name, register=True)
            await c.close()
        at_rest = [(await _timed_login(srv, "127.0.0.3", "carol"))[0] for _ in range(3)]
        counts: collections.Counter[str] = collections.Counter()
        honest: list[float] = []

        async def flood() -> dict[str, Any]:
            stop = time.monotonic() + 8.0

            async def attacker(ip: str) -> None:
                while time.monotonic() < stop:
                    c = await connect(srv, ip)
                    await c.hello()
                    reply = await c.request(
                        m.Login(id=c.next_id(), user="mallory", password=PASSWORD),
                        check=False,
                        timeout=60,
                    )
                    counts["ok" if isinstance(reply, m.LoginOk) else reply.code] += 1
                    await c.close()

            async def honest_logins() -> None:
                await asyncio.sleep(1.0)
                while time.monotonic() < stop:
                    took, busy = await _timed_login(srv, "127.0.0.3", "carol")
                    honest.append(took)
                    counts["honest_busy"] += busy

            ips = ["127.0.0.4", "127.0.0.5"]
            await asyncio.gather(*(attacker(ips[i % 2]) for i in range(30)), honest_logins())
            return {
                "attacker_logins": dict(counts),
                "honest_login_s_at_rest": round(statistics.median(at_rest), 3),
                "honest_login_s_median": round(statistics.median(honest), 3),
                "honest_login_s_max": round(max(honest), 3),
            }

        figures = await under_attack(srv, "valid-password login flood", flood)
        notes = figures.notes
        assert counts["busy"] > 0, f"the flood was never told busy: {counts}"
        assert counts["ok"] > 0, "no attacker login succeeded: the flood did not hash at all"
        # 30 hashes queued ahead would be ~15x a login at rest on two workers; the per-address
        # bound leaves two per attacking address (four here), so a few times at most
        bound = 6 * statistics.median(at_rest) + 0.5 * SCALE
        assert notes["honest_login_s_median"] < bound, notes
    finally:
        srv.stop()


async def test_client_library_retries_busy(tmp_path: Path) -> None:
    """``busy`` means "later", not "wrong password": the library's login waits ``retry_after``
    and asks again, so six devices logging in at once from one address all get in although the
    server hashes at most two passwords per address at a time."""
    from tertulia.client.connection import Connection
    from tertulia.client.trust import TrustPolicy
    from tertulia.server.status import query_status

    srv = _server(tmp_path, RACE_PASSWORDS)  # the default bounds: 2 hashes per address
    srv.start()
    try:
        c = await connect(srv, "127.0.0.2")
        await c.login("dana", register=True)
        await c.close()

        async def device() -> str:
            conn = await Connection.open(
                srv.host, srv.port, trust=TrustPolicy(fingerprint=srv.fingerprint)
            )
            try:
                return (await conn.login("dana", PASSWORD)).user
            finally:
                await conn.close()

        assert await asyncio.gather(*(device() for _ in range(6))) == ["dana"] * 6
        status = await query_status(srv.data_dir)
        refusals = status["limits"]["refusals"]  # type: ignore[index]
        assert refusals.get("hashing_busy_address", 0) > 0, refusals  # it was told busy
    finally:
        srv.stop()
