"""The client library reconnects with its resume token, not the password."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tertulia.client import Client, ConnState
from tertulia.client.trust import TrustPolicy
from tertulia.server.passwords import Passwords
from tertulia_testkit import PASSWORD, SCALE, InProcessServer


async def _reconnected(stream: Any, timeout: float = 20.0) -> None:
    """Wait until the client has dropped and then come back (CONNECTED after a drop)."""
    dropped = False
    async with asyncio.timeout(timeout * SCALE):
        async for ev in stream:
            state = getattr(ev, "state", None)
            if state in (ConnState.RECONNECTING, ConnState.CONNECTING):
                dropped = True
            elif state is ConnState.CONNECTED and dropped:
                return


async def test_reconnect_uses_the_resume_token(
    tls_server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    real_verify = Passwords.verify

    async def counting_verify(self: Passwords, stored: str | None, password: str, **kw: Any) -> Any:
        checks.append(password)
        return await real_verify(self, stored, password, **kw)

    monkeypatch.setattr(Passwords, "verify", counting_verify)
    trust = TrustPolicy(fingerprint=tls_server.fingerprint)
    client = Client(
        tls_server.host, tls_server.port, "alice", PASSWORD, trust=trust, rooms=["r"],
        backoff_base=0.1, backoff_cap=0.5,
    )  # fmt: skip
    await client.register()
    await client.start()
    assert len(checks) == 1  # the first login uses the password
    stream = client.events()
    await tls_server.restart()
    await _reconnected(stream)
    await (await client.send("r", "back via resume")).acked()
    assert len(checks) == 1  # ...the reconnect did not: it resumed with the token
    # a revoked token falls back to the password, transparently
    assert tls_server.server is not None
    assert await tls_server.server.storage.revoke_tokens("alice") >= 1
    await tls_server.restart()
    await _reconnected(stream)
    await (await client.send("r", "back via password")).acked()
    assert len(checks) == 2
    stream.close()
    await client.close()
