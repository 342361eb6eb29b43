"""Shared fixtures: real Tertulia servers over real TLS on 127.0.0.1, random ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tertulia_testkit import InProcessServer, RawClient, ServerProcess


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[InProcessServer]:
    """A server in the test's event loop: ``.host``, ``.port``, ``.fingerprint``, ``restart()``."""
    srv = InProcessServer(tmp_path / "server")
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def raw_client_factory(
    tls_server: InProcessServer,
) -> AsyncIterator[Callable[..., object]]:
    """``await factory(user, register=True)``: a logged-in RawClient (closed after the test)."""
    clients: list[RawClient] = []

    async def make(user: str | None = None, *, register: bool = True) -> RawClient:
        client = await RawClient.connect(
            tls_server.host, tls_server.port, fingerprint=tls_server.fingerprint
        )
        clients.append(client)
        if user is not None:
            await client.login(user, register=register)
        return client

    yield make
    for c in clients:
        await c.close()


@pytest.fixture
def server_proc_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``factory(name="srv", extra_toml="")`` -> a started ServerProcess; all are killed after."""
    procs: list[ServerProcess] = []

    def make(
        name: str = "srv", extra_toml: str = "", start: bool = True, *, tls: bool = True
    ) -> ServerProcess:
        proc = ServerProcess(tmp_path / name, extra_toml, tls=tls)
        procs.append(proc)
        if start:
            proc.start()
        return proc

    yield make
    for p in procs:
        p.stop()
