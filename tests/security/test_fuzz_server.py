"""Property test of the server's message handling: any sequence of well-typed requests with
hostile values gets exactly one response per request, never an internal error, and leaves the
connection usable (unless the sequence itself ends it).

Hypothesis drives a blocking TLS client against a real server running on its own event loop in
a thread (so each example is a fresh connection to a server whose state accumulates, as a live
server's does). Values are drawn from a small vocabulary of real names mixed with arbitrary
text, so requests reach the deep paths (membership, roles, storage) and not only validation.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tertulia.proto import ClientConnection, RemoteProtocolError
from tertulia.proto import messages as m
from tertulia.server.app import Server
from tertulia_testkit import PASSWORD, SCALE
from tertulia_testkit import test_config as make_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proto"))
from proto_strategies import _for_type

ROOMS = st.sampled_from(["lobby", "priv", "dm:alice:bob", "nope", "LOBBY", "l\u043ebby", ""])
USERS = st.sampled_from(["alice", "bob", "carol", "ghost", "ALICE", "\u0430lice", "b\u200bob"])
BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "room": ROOMS | st.text(max_size=40),
    "user": USERS | st.text(max_size=40),
    "text": st.text(max_size=60),
    "msg_id": st.text(min_size=1, max_size=8),
    "token": st.text(max_size=50),
    "seq": st.integers(-3, 50) | st.integers(),
    "limit": st.integers(-3, 300),
    "before": st.none() | st.integers(-3, 50),
    "after": st.none() | st.integers(-3, 50),
    "seconds": st.none() | st.integers(-5, 10**9),
    "cursors": st.dictionaries(ROOMS, st.integers(-3, 50), max_size=4),
}
#: requests that end the connection by design, and those that would change the fuzzing user
ENDING = (m.Logout,)
SKIPPED = (m.ChangePassword, m.DisableUser, m.Hello)
KINDS = [k for k in m.ClientMessage.__args__ if not issubclass(k, SKIPPED)]


def _request(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    fields = {f.name: BY_NAME.get(f.name, _for_type(f.type)) for f in info.fields if f.name != "id"}
    return st.fixed_dictionaries(fields).map(lambda kw: (cls, kw))


REQUESTS = st.lists(st.one_of([_request(k) for k in KINDS]), min_size=1, max_size=12)


class ServerThread:
    """A real server on its own loop in a thread; ``port`` once started."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = Server(make_config(self.data_dir))
        await server.start()
        pw = await server.passwords.hash(PASSWORD)
        for name in ("alice", "bob", "carol"):
            await server.storage.create_user(name, pw)
        await server.storage.create_room("lobby", "public", "alice", members=["alice", "bob"])
        await server.storage.create_room("priv", "private", "bob", members=["bob", "carol"])
        await server.storage.create_room("dm:alice:bob", "dm", "alice", members=["alice", "bob"])
        self.port = server.port
        self._ready.set()
        await self._stop.wait()
        await server.stop()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(30 * SCALE), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30 * SCALE)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("fuzz")) as srv:
        yield srv


class BlockingClient:
    def __init__(self, port: int) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10 * SCALE)
        self.sock = ctx.wrap_socket(raw)
        self.conn = ClientConnection(max_frame_pre_auth=1 << 24, max_frame=1 << 24)
        self.ids = itertools.count(1)
        self.backlog: list[Any] = []

    def send(self, msg: Any) -> None:
        self.sock.sendall(self.conn.send(msg))

    def read(self) -> list[Any]:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        out = []
        for ev in self.conn.receive_data(data):
            assert not isinstance(ev, RemoteProtocolError), ev  # the server sends valid frames
            out.append(ev)
        return out

    def until(self, request_id: Any) -> list[Any]:
        """Everything received up to and including the response to ``request_id``."""
        got: list[Any] = []
        while not any(getattr(ev, "id", None) == request_id for ev in got):
            got += self.read()
        return got

    def close(self) -> None:
        self.sock.close()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(requests=REQUESTS)
def test_any_request_sequence_gets_one_answer_each(
    fuzz_server: ServerThread, requests: list[tuple[type, dict[str, Any]]]
) -> None:
    c = BlockingClient(fuzz_server.port)
    try:
        c.send(m.Hello(id="h", versions=[1]))
        c.until("h")
        c.send(m.Login(id="l", user="alice", password=PASSWORD))
        assert isinstance(next(e for e in c.until("l") if getattr(e, "id", None) == "l"), m.LoginOk)
        ids: list[int] = []
        ended = False
        for cls, fields in requests:
            rid = next(c.ids)
            msg = cls(id=rid, **fields) if "id" in cls.__struct_fields__ else cls(**fields)
            if "id" in cls.__struct_fields__:
                ids.append(rid)
            c.send(msg)
            if isinstance(msg, ENDING):
                ended = True
                break
        events: list[Any] = []
        try:
            if not ended:
                c.send(m.Ping(id="end"))
                events = c.until("end")
            else:
                while True:
                    events += c.read()
        except (ConnectionError, OSError):
            assert ended, "the server closed a connection that did nothing fatal"
        answers = [e for e in events if isinstance(getattr(e, "id", None), int)]
        assert sorted(e.id for e in answers) == sorted(ids[: len(answers)])  # one each, in order
        if not ended:
            assert len(answers) == len(ids)
        codes = {e.code for e in events if isinstance(e, m.Error)}
        assert "internal" not in codes, events
    finally:
        c.close()
