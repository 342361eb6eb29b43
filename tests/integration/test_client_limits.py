"""The client library against a real server's limits: what the server would refuse is refused
before sending, and a request the server refused as fatal is never sent again."""

from __future__ import annotations

from pathlib import Path

from tertulia.client import (
    Client,
    ConnectionStateChanged,
    ConnState,
    EntryState,
    RefusedLocally,
    ServerError,
    TrustPolicy,
)
from tertulia.server.config import LimitsConfig
from tertulia_testkit import PASSWORD, RELAXED_LIMITS, InProcessServer


def _client(srv: InProcessServer, user: str = "alice") -> Client:
    trust = TrustPolicy(fingerprint=srv.fingerprint)
    return Client(srv.host, srv.port, user, PASSWORD, trust=trust, rooms=["r"])


async def test_too_long_text_fails_at_once_and_the_connection_stays(
    tls_server: InProcessServer,
) -> None:
    client = _client(tls_server)
    await client.register()
    await client.start()
    states: list[ConnState] = []
    client.on_event(
        lambda ev: states.append(ev.state) if isinstance(ev, ConnectionStateChanged) else None
    )
    try:
        big = await client.send("r", "x" * 102_400)
        assert big.state is EntryState.FAILED  # before any round trip
        assert isinstance(big.error, RefusedLocally)
        assert (big.error.code, big.error.params) == (
            "text_too_long",
            {"max": 4000, "length": 102_400},
        )
        blank = await client.send("r", "  \n ")
        assert blank.error is not None and blank.error.code == "invalid_argument"
        sent = await (await client.send("r", "fine")).acked()
        assert (sent.seq, sent.duplicate) == (1, False)  # nothing else was ever stored
        assert [e.msg_id for e in await client.flush()] == [big.msg_id, blank.msg_id]
        assert ConnState.RECONNECTING not in states and client.state is ConnState.CONNECTED
    finally:
        await client.close()


async def test_a_frame_the_server_refused_as_fatal_is_not_resent(tmp_path: Path) -> None:
    """Defence in depth: should the server ever refuse a frame as too large although the
    announced limit allowed it (here: the client's copy of hello_ok is tampered with), the
    refused message is marked failed -- the server named its size -- and is not sent again
    after the reconnect, which used to loop forever; the messages behind it are delivered."""
    limits = LimitsConfig(max_text=4000, max_frame=17024, **RELAXED_LIMITS)
    srv = InProcessServer(tmp_path / "srv", limits=limits)
    await srv.start()
    client = _client(srv)
    reconnects: list[ConnectionStateChanged] = []
    client.on_event(
        lambda ev: (
            reconnects.append(ev)
            if isinstance(ev, ConnectionStateChanged) and ev.state is ConnState.RECONNECTING
            else None
        )
    )
    try:
        await client.register()
        await client.start()
        await (await client.send("r", "before")).acked()
        conn = client._conn
        assert conn is not None and conn.hello_ok is not None
        conn.hello_ok.limits.max_frame = 10**6  # this connection now believes anything fits
        big = await client.send("r", "\x01" * 3500)  # 21 KB of JSON
        after = await client.send("r", "after")
        sent = await after.acked()
        assert big.state is EntryState.FAILED and not isinstance(big.error, RefusedLocally)
        assert isinstance(big.error, ServerError) and big.error.code == "frame_too_large"
        assert big.error.params["max"] == 17024
        assert sent.seq == 2 and len(reconnects) == 1
        failed = await client.flush()
        assert [e.msg_id for e in failed] == [big.msg_id]
        page = await client.history("r", after=0)
        assert [m.text for m in page.messages] == ["before", "after"]
        assert len(reconnects) == 1 and client.state is ConnState.CONNECTED
    finally:
        await client.close()
        await srv.stop()
