"""Helpers for the security tests: servers with strict limits, clients from other addresses."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tertulia.proto import messages as m
from tertulia.server.app import Server
from tertulia_testkit import PASSWORD, SCALE, InProcessServer, RawClient, ServerError


@contextlib.asynccontextmanager
async def strict_server(
    data_dir: Path, *, tls: Any = None, **limits: Any
) -> AsyncIterator[InProcessServer]:
    """An in-process server with the default limits, no exempt networks, and ``limits`` set."""
    srv = InProcessServer(data_dir)
    if tls is not None:
        srv._config["tls"] = tls
    # the testkit relaxes rate limits for other tests; these tests want the real defaults
    from tertulia.server.config import LimitsConfig

    cfg_limits = LimitsConfig(exempt_networks=[])
    for key, value in limits.items():
        setattr(cfg_limits, key, value)
    srv._config["limits"] = cfg_limits
    await srv.start()
    try:
        yield srv
    finally:
        for c in _CLIENTS.pop(id(srv), []):
            await c.close()
        await srv.stop()


#: clients made by ``connect`` for each server, closed when the server stops
_CLIENTS: dict[int, list[RawClient]] = {}


def server_of(srv: InProcessServer) -> Server:
    assert srv.server is not None
    return srv.server


async def connect(srv: Any, local_ip: str | None = None) -> RawClient:
    """A raw client, optionally from another loopback address (127.0.0.x)."""
    sock = None
    if local_ip is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((local_ip, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (srv.host, srv.port))
    client = await RawClient.connect(srv.host, srv.port, sock=sock)
    _CLIENTS.setdefault(id(srv), []).append(client)
    return client


async def user(
    srv: Any, name: str, *, register: bool = True, local_ip: str | None = None
) -> RawClient:
    c = await connect(srv, local_ip)
    await c.login(name, register=register)
    return c


async def error_of(c: RawClient, msg: Any) -> m.Error:
    """Send ``msg`` and return the error it must get."""
    reply = await c.request(msg, check=False)
    assert isinstance(reply, m.Error), reply
    return reply


async def expect_code(c: RawClient, msg: Any, code: str) -> m.Error:
    err = await error_of(c, msg)
    assert err.code == code, (msg, err)
    return err


async def bye_of(c: RawClient, timeout: float = 10.0) -> m.ServerBye:
    """The ``bye`` the server sends before closing (other events are skipped)."""
    ev: m.ServerBye = await c.event(m.ServerBye, timeout=timeout)
    await asyncio.wait_for(c.closed.wait(), timeout * SCALE)
    return ev


__all__ = [
    "PASSWORD",
    "SCALE",
    "ServerError",
    "bye_of",
    "connect",
    "error_of",
    "expect_code",
    "server_of",
    "strict_server",
    "user",
]
