"""Tests of the chaos tools themselves: FaultProxy (against echo servers) and the checker.

The proxy is only useful if its faults are exactly the ones advertised (an RST is an RST,
a stall never leaks a FIN, a fragment is really read split), so each one is observed
from the client side and, where it matters, from the upstream side too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faultproxy import FaultProxy, RefuseMode, abort_transport
from order_checker import Gap, TotalOrderChecker

SCALE = float(os.environ.get("TERTULIA_TEST_TIMEOUT_SCALE", "1"))
#: how long "nothing arrives" is watched for
SILENCE = 0.3


class EchoServer:
    """A trivial echo server on 127.0.0.1 that remembers what it saw, and closes cleanly."""

    def __init__(self, ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.ssl_ctx = ssl_ctx
        self.port = 0
        self.connections = 0
        self.received = 0
        self.read_sizes: list[int] = []
        self.errors: list[BaseException] = []
        self.eofs = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> EchoServer:
        self._server = await asyncio.start_server(self._on_accept, "127.0.0.1", 0, ssl=self.ssl_ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        task = asyncio.get_running_loop().create_task(self._echo(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.received += len(data)
                self.read_sizes.append(len(data))
                writer.write(data)
                await writer.drain()
            self.eofs += 1
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            self.errors.append(exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=3)
        await self._server.wait_closed()


async def close_client(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 2)


async def wait_until(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll ``cond()`` (bounded in time)."""
    deadline = time.monotonic() + timeout * SCALE
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def read_exactly(reader: asyncio.StreamReader, n: int, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), timeout * SCALE)


async def read_until_dead(reader: asyncio.StreamReader, timeout: float = 3.0) -> bytes:
    """Everything until EOF or reset; a reset must come within ``timeout``."""
    got = bytearray()
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(timeout * SCALE):
            while chunk := await reader.read(65536):
                got += chunk
    return bytes(got)


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    srv = await EchoServer().start()
    yield srv
    await srv.close()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(("127.0.0.1", echo.port)) as p:
        yield p


@pytest.fixture
async def client(
    proxy: FaultProxy,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    yield reader, writer
    await close_client(writer)


# ---------------------------------------------------------------------- pass-through


async def test_passthrough_forwards_both_ways_and_counts(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    payload = random.Random(1).randbytes(300_000)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(payload)
    assert await read_exactly(reader, len(payload)) == payload
    assert proxy.connections_total == 1 and proxy.active == 1
    assert proxy.bytes_up == proxy.bytes_down == len(payload)
    # a graceful close on one side is a graceful close on the other
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 3) == b""
    await close_client(writer)
    await wait_until(lambda: proxy.active == 0 and echo.eofs == 1)
    assert echo.errors == [] and proxy.resets == 0
    stats = proxy.stats()
    assert (stats.connections_total, stats.active, stats.resets) == (1, 0, 0)


def make_cert(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A throwaway self-signed EC certificate for 127.0.0.1: (cert, key, cert PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "faultproxy-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, pem


@pytest.fixture
async def tls_echo(tmp_path: Path) -> AsyncIterator[tuple[EchoServer, ssl.SSLContext]]:
    cert, key, pem = make_cert(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cadata=pem.decode())  # verifies cert and IP
    srv = await EchoServer(server_ctx).start()
    yield srv, client_ctx
    await srv.close()


async def tls_roundtrip(port: int, ctx: ssl.SSLContext, messages: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    try:
        for msg in messages:
            writer.write(msg)
            assert await read_exactly(reader, len(msg)) == msg
    finally:
        await close_client(writer)


async def test_tls_passes_through_intact(tls_echo: tuple[EchoServer, ssl.SSLContext]) -> None:
    srv, ctx = tls_echo
    async with FaultProxy(("127.0.0.1", srv.port)) as proxy:
        await tls_roundtrip(proxy.port, ctx, [b"hello", os.urandom(100_000)])
        assert proxy.bytes_up > 100_000  # the encrypted stream went through the proxy
    assert srv.received == 100_005


async def test_tls_survives_fragmentation_and_delay(
    tls_echo: tuple[EchoServer, ssl.SSLContext],
) -> None:
    srv, ctx = tls_echo
    async with FaultProxy(("127.0.0.1", srv.port)) as proxy:
        proxy.fragment(3, gap=0.0)  # TLS records split anywhere, handshake included
        proxy.delay(0.01)
        await tls_roundtrip(proxy.port, ctx, [b"x" * 1000, b"y"])
    assert srv.received == 1001


async def test_tls_cut_mid_stream_is_a_transport_error(
    tls_echo: tuple[EchoServer, ssl.SSLContext],
) -> None:
    srv, ctx = tls_echo
    async with FaultProxy(("127.0.0.1", srv.port)) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port, ssl=ctx)
        proxy.cut_after(500, "down", scope="current")  # in the middle of a record
        writer.write(b"z" * 5000)
        with pytest.raises((ConnectionError, ssl.SSLError, asyncio.IncompleteReadError)):
            await read_exactly(reader, 5000)
        await close_client(writer)
        assert proxy.resets == 1


# ---------------------------------------------------------------------- resets and cuts


async def test_reset_all_resets_both_sides(
    proxy: FaultProxy,
    echo: EchoServer,
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    reader, writer = client
    writer.write(b"ping")
    assert await read_exactly(reader, 4) == b"ping"
    assert proxy.reset_all() == 1
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(100), 3)
    await wait_until(lambda: proxy.active == 0 and len(echo.errors) == 1)
    assert isinstance(echo.errors[0], ConnectionResetError)
    assert proxy.resets == 1
    # the proxy itself keeps working
    r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
    w2.write(b"again")
    assert await read_exactly(r2, 5) == b"again"
    await close_client(w2)


async def test_cut_after_up_forwards_exactly_n_bytes_then_resets(
    proxy: FaultProxy,
    echo: EchoServer,
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    reader, writer = client
    await proxy.wait_active(1)
    proxy.cut_after(10, "up", scope="current")
    writer.write(b"a" * 100)
    got = await read_until_dead(reader)
    assert len(got) <= 10
    await wait_until(lambda: proxy.active == 0)
    assert echo.received == 10
    assert proxy.bytes_up == 10 and proxy.resets == 1


async def test_cut_after_new_connections_counts_per_connection(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    proxy.cut_after(5, "down", count=1)  # scope="new": only the next connection
    r1, w1 = await asyncio.open_connection("127.0.0.1", proxy.port)
    w1.write(b"0123456789")
    assert await read_until_dead(r1) == b"01234"
    await close_client(w1)
    r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
    w2.write(b"0123456789")
    assert await read_exactly(r2, 10) == b"0123456789"  # the rule was used up
    await close_client(w2)
    assert proxy.resets == 1


async def test_cut_after_both_counts_the_sum(proxy: FaultProxy, echo: EchoServer) -> None:
    proxy.cut_after(12, "both")  # 8 up + 4 down
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"abcdefgh")
    assert await read_until_dead(reader) == b"abcd"
    await close_client(writer)
    assert (proxy.bytes_up, proxy.bytes_down) == (8, 4)


async def test_peer_reset_is_propagated(proxy: FaultProxy, echo: EchoServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"hi")
    assert await read_exactly(reader, 2) == b"hi"
    abort_transport(writer, rst=True)  # the client RSTs
    await wait_until(lambda: len(echo.errors) == 1)
    assert isinstance(echo.errors[0], ConnectionResetError)
    assert proxy.resets == 0  # not an injected fault


async def test_upstream_down_resets_the_client(echo: EchoServer) -> None:
    async with FaultProxy(("127.0.0.1", echo.port)) as proxy:
        await echo.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await read_until_dead(reader) == b""
        await close_client(writer)
        await echo.start()  # for the fixture's teardown


# ---------------------------------------------------------------------- stalls and latency


async def test_blackhole_stalls_without_closing(
    proxy: FaultProxy,
    echo: EchoServer,
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    reader, writer = client
    writer.write(b"before")
    assert await read_exactly(reader, 6) == b"before"
    proxy.blackhole(True)
    writer.write(b"lost")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(100), SILENCE)
    assert not reader.at_eof() and not writer.is_closing()
    assert echo.received == 6 and echo.eofs == 0 and echo.errors == []
    # new connections are accepted but dead too
    r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
    w2.write(b"new")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(r2.read(100), SILENCE)
    # closing the client is not propagated either (no FIN upstream)
    await close_client(w2)
    proxy.blackhole(False)
    r3, w3 = await asyncio.open_connection("127.0.0.1", proxy.port)
    w3.write(b"after")
    assert await read_exactly(r3, 5) == b"after"
    await close_client(w3)
    # ...but the blackholed one stays dead
    writer.write(b"still?")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(100), SILENCE)
    assert echo.eofs == 1 and echo.errors == []  # only the third connection ended
    assert proxy.active == 2 and proxy.resets == 0


async def test_delay_adds_latency_and_keeps_order(
    proxy: FaultProxy, client: tuple[asyncio.StreamReader, asyncio.StreamWriter]
) -> None:
    reader, writer = client
    proxy.delay(0.1, jitter=0.05, rng=random.Random(3))
    start = time.monotonic()
    writer.write(b"x")
    await read_exactly(reader, 1)
    rtt = time.monotonic() - start
    assert rtt >= 0.2  # delayed on the way up and on the way down
    expected = bytearray()
    for i in range(30):
        msg = f"<{i}>".encode()
        expected += msg
        writer.write(msg)
        await asyncio.sleep(0.002)  # separate chunks, each with its own jitter
    assert await read_exactly(reader, len(expected)) == expected
    proxy.delay(0)
    start = time.monotonic()
    writer.write(b"y")
    await read_exactly(reader, 1)
    assert time.monotonic() - start < 0.1


async def test_fragment_one_byte_at_a_time(
    proxy: FaultProxy, echo: EchoServer, client: tuple[asyncio.StreamReader, asyncio.StreamWriter]
) -> None:
    reader, writer = client
    proxy.fragment(1)
    payload = bytes(range(200))
    writer.write(payload)
    assert await read_exactly(reader, len(payload)) == payload
    # the upstream really read it split (not coalesced by the kernel or the loop)
    assert len(echo.read_sizes) >= len(payload) // 2
    assert max(echo.read_sizes) <= 4
    proxy.fragment(None)
    writer.write(payload)
    assert await read_exactly(reader, len(payload)) == payload


async def test_heal_clears_standing_faults(proxy: FaultProxy, echo: EchoServer) -> None:
    proxy.delay(5)
    proxy.fragment(1, gap=1)
    proxy.cut_after(1)
    proxy.refuse(True, mode="unlisten")
    proxy.heal()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"healed")
    assert await read_exactly(reader, 6, timeout=1) == b"healed"
    proxy.cut_after(0, scope="current")  # zero: at once
    assert await read_until_dead(reader) == b""
    await close_client(writer)
    assert proxy.resets == 1
    for bad in (
        {"n_bytes": -1},
        {"n_bytes": 1, "direction": "sideways"},
        {"n_bytes": 1, "count": 0},
    ):
        with pytest.raises(ValueError):
            proxy.cut_after(**bad)


# ---------------------------------------------------------------------- refusal, upstream


@pytest.mark.parametrize("mode", ["close", "reset", "unlisten"])
async def test_refuse(proxy: FaultProxy, echo: EchoServer, mode: RefuseMode) -> None:
    port = proxy.port
    proxy.refuse(True, mode=mode)
    if mode == "unlisten":
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if mode == "close":
            assert await asyncio.wait_for(reader.read(10), 3) == b""
        else:
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(10), 3)
        await close_client(writer)
        assert proxy.refused == 1
    assert echo.connections == 0
    proxy.refuse(False)
    assert proxy.port == port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"back")
    assert await read_exactly(reader, 4) == b"back"
    await close_client(writer)


async def test_set_upstream_affects_new_connections_only(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    other = await EchoServer().start()
    try:
        r1, w1 = await asyncio.open_connection("127.0.0.1", proxy.port)
        await proxy.wait_active(1)
        await wait_until(lambda: echo.connections == 1)
        proxy.set_upstream("127.0.0.1", other.port)
        r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
        for r, w in ((r1, w1), (r2, w2)):
            w.write(b"which")
            assert await read_exactly(r, 5) == b"which"
            await close_client(w)
        assert (echo.connections, other.connections) == (1, 1)
        assert (echo.received, other.received) == (5, 5)
    finally:
        await other.close()


# ---------------------------------------------------------------------- random resets


async def test_random_resets_stop_by_count(proxy: FaultProxy) -> None:
    clients = [await asyncio.open_connection("127.0.0.1", proxy.port) for _ in range(6)]
    await proxy.wait_active(6)
    start = time.monotonic()
    task = proxy.chaos_task(50.0, random.Random(7), max_resets=3, duration=5.0)
    assert await asyncio.wait_for(task, 5) == 3
    assert time.monotonic() - start < 2
    await wait_until(lambda: proxy.active == 3)
    assert proxy.resets == 3
    for _, w in clients:
        await close_client(w)


async def test_random_resets_stop_by_time(proxy: FaultProxy) -> None:
    clients = [await asyncio.open_connection("127.0.0.1", proxy.port) for _ in range(2)]
    await proxy.wait_active(2)
    start = time.monotonic()
    done = await proxy.random_resets(20.0, random.Random(8), max_resets=1000, duration=0.3)
    assert 0.25 <= time.monotonic() - start < 1.0
    assert done <= 2  # nothing left to reset after the second
    for _, w in clients:
        await close_client(w)


async def test_close_stops_everything(echo: EchoServer) -> None:
    proxy = FaultProxy(("127.0.0.1", echo.port))
    await proxy.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    _, w_stalled = await asyncio.open_connection("127.0.0.1", proxy.port)
    await proxy.wait_active(2)
    proxy.blackhole(True)
    task = proxy.chaos_task(0.1, random.Random(9), duration=60)
    await proxy.close()
    await proxy.close()  # idempotent
    assert task.cancelled()
    assert proxy.active == 0
    with contextlib.suppress(ConnectionError):
        assert await asyncio.wait_for(reader.read(10), 3) == b""
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", proxy.port)
    await close_client(writer)
    await close_client(w_stalled)


def test_loopback_only() -> None:
    for bad in ("10.0.0.1", "192.168.1.1", "0.0.0.0", "::", "localhost", "example.org"):
        with pytest.raises(ValueError):
            FaultProxy((bad, 80))
        with pytest.raises(ValueError):
            FaultProxy(("127.0.0.1", 80), host=bad)
    for bad_port in (0, -1, 70000):
        with pytest.raises(ValueError):
            FaultProxy(("127.0.0.1", bad_port))
    proxy = FaultProxy(("127.0.0.2", 80), host="::1")
    proxy.set_upstream("::1", 81)
    with pytest.raises(ValueError):
        proxy.set_upstream("8.8.8.8", 53)
    assert proxy.upstream == ("::1", 81)


async def test_upstream_cannot_be_the_proxy_itself(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError):
        proxy.set_upstream("127.0.0.1", proxy.port)


# ---------------------------------------------------------------------- the checker


def perfect_run() -> tuple[TotalOrderChecker, dict[str, tuple[str, int]]]:
    checker = TotalOrderChecker()
    acked = {}
    for room in ("a", "b"):
        for seq in range(1, 6):
            acked[f"{room}{seq}"] = (room, seq)
            for receiver in ("alice", "bob"):
                checker.record(receiver, room, seq, f"{room}{seq}")
    return checker, acked


def test_checker_perfect_run() -> None:
    checker, acked = perfect_run()
    report = checker.assert_perfect(acked, attempted=[*acked, "never-acked"])
    assert report.ok and set(report.receivers) == {"alice", "bob"}
    assert all(v == 0 for v in report.counts.values())
    assert report.receivers["bob"].delivered == 10
    assert "OK" in report.summary()


def test_checker_lost() -> None:
    checker, acked = perfect_run()
    acked["a6"] = ("a", 6)  # acked, delivered to nobody
    rep = checker.report(acked)
    assert rep.counts["lost"] == 2
    assert [tuple(x) for x in rep.receivers["alice"].lost] == [("a", 6, "a6")]
    with pytest.raises(AssertionError, match=r"lost=2.*\n.*alice.*\n.*lost: a#6=a6"):
        checker.assert_perfect(acked)


def test_checker_duplicates_by_seq_and_by_msg_id() -> None:
    checker, acked = perfect_run()
    checker.record("alice", "a", 3, "a3")  # replayed after a reconnect
    checker.record("bob", "b", 6, "b5")  # stored twice (idempotency broken)
    rep = checker.report(acked)
    assert rep.receivers["alice"].counts["duplicated"] == 1
    assert rep.receivers["bob"].counts["duplicated"] == 1
    assert rep.counts["out_of_order"] == 0  # a duplicate is not also counted as reordered


def test_checker_out_of_order() -> None:
    checker = TotalOrderChecker()
    for seq in (1, 3, 2, 4):
        checker.record("alice", "r", seq, f"m{seq}")
    rep = checker.report({f"m{s}": ("r", s) for s in range(1, 5)})
    assert [(x.seq, x.after_seq) for x in rep.receivers["alice"].out_of_order] == [(2, 3)]
    assert rep.counts == {**rep.counts, "out_of_order": 1, "lost": 0, "gaps": 0}


def test_checker_gaps_even_without_acks() -> None:
    checker = TotalOrderChecker()
    for seq in (1, 2, 5, 6, 8):
        checker.record("alice", "r", seq, f"m{seq}")
    rep = checker.report()
    assert rep.receivers["alice"].gaps == [Gap("r", 3, 4), Gap("r", 7, 7)]
    assert rep.counts["gaps"] == 3
    assert "gaps: r#3..4, r#7" in rep.summary()


def test_checker_mismatches() -> None:
    checker, acked = perfect_run()
    checker.record("alice", "a", 5, "other")  # the same seq, another msg_id
    checker.record("alice", "b", 6, "x")
    checker.record("bob", "b", 6, "y")  # receivers disagree on unacked b#6
    checker.record("bob", "a", 7, "z")
    acked["z"] = ("a", 8)  # disagrees with the ack
    rep = checker.report(acked)
    alice, bob = rep.receivers["alice"], rep.receivers["bob"]
    assert [(m.seq, m.msg_id, m.expected_msg_id) for m in alice.mismatched] == [(5, "other", "a5")]
    assert {
        (m.room, m.seq, m.msg_id, m.expected_msg_id, m.expected_seq) for m in bob.mismatched
    } == {
        ("b", 6, "y", "x", None),
        ("a", 7, "z", None, 8),
    }


def test_checker_unexpected_and_ack_conflicts() -> None:
    checker, acked = perfect_run()
    checker.record("alice", "a", 6, "phantom")
    checker.ack("a1", "a", 9)  # contradicts acked["a1"]
    rep = checker.report(acked, attempted=acked)
    assert [d.msg_id for d in rep.receivers["alice"].unexpected] == ["phantom"]
    assert rep.ack_conflicts and rep.counts["ack_conflicts"] == 1
    assert rep.as_dict()["ok"] is False


def test_checker_expectations() -> None:
    checker = TotalOrderChecker()
    acked = {f"m{s}": ("r", s) for s in range(1, 6)}
    checker.expect("late", ["r"], after={"r": 3})  # joined after seq 3
    checker.record("late", "r", 4, "m4")
    checker.record("late", "r", 5, "m5")
    checker.expect("absent", ["r"])  # got nothing: everything is lost
    checker.expect("elsewhere", ["other"])  # not in room r: nothing expected there
    rep = checker.report(acked)
    assert rep.receivers["late"].ok
    assert rep.receivers["absent"].counts["lost"] == 5
    assert rep.receivers["elsewhere"].ok
    # a declared receiver must start at seq 1 (an unacked hole at the head is a gap)
    checker2 = TotalOrderChecker()
    checker2.expect("bob", ["r"])
    checker2.record("bob", "r", 3, "m3")
    assert checker2.report().receivers["bob"].gaps == [Gap("r", 1, 2)]


def test_checker_record_message() -> None:
    class Msg:
        room, seq, msg_id = "r", 1, "m1"

    checker = TotalOrderChecker()
    checker.record_message("alice", Msg())
    checker.ack("m1", "r", 1)
    checker.assert_perfect()
    assert checker.deliveries("alice", "r") == [(1, "m1")]
