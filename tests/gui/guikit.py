"""Helpers for the GUI tests (a module of its own: ``conftest`` is not a unique name)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from tertulia.client import Client, TrustPolicy
from tertulia.gui.app import TertuliaApp
from tertulia_testkit import PASSWORD, SCALE, ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "chaos"))
from faultproxy import FaultProxy

#: pytest-qt waits are in milliseconds
WAIT = int(15_000 * SCALE)

T = TypeVar("T")


def log_in(
    qtbot: Any,
    ctl: TertuliaApp,
    server: ServerProcess,
    user: str,
    *,
    register: bool = True,
    expect_trust: bool | None = None,
    port: int | None = None,
) -> None:
    """Fill the connect window like a person and wait for the main window. ``port``: connect
    there instead of the server's own port (a fault proxy in front of it)."""
    ctl.show_login()
    w = ctl.connect_window
    w.host.setText(server.host)
    w.port.setValue(port if port is not None else server.port)
    w.user.setText(user)
    w.password.setText(PASSWORD)
    if register:
        w.mode_register.click()
        w.confirm.setText(PASSWORD)
    w.submit.click()

    def trust_or_window() -> bool:
        return ctl.trust_dialog is not None or ctl.window is not None

    qtbot.waitUntil(trust_or_window, timeout=WAIT)
    if ctl.window is None:
        assert expect_trust is not False, "unexpected trust prompt"
        dlg = ctl.trust_dialog
        assert dlg is not None
        assert dlg.fingerprint == server.fingerprint
        dlg.trust_button.click()
    else:
        assert not expect_trust, "expected a trust prompt"
    qtbot.waitUntil(lambda: ctl.window is not None and ctl.window.isVisible(), timeout=WAIT)


def as_user(
    server: ServerProcess,
    user: str,
    work: Callable[[Client], Awaitable[T]],
    *,
    register: bool = False,
) -> T:
    """Run ``work(client)`` as ``user`` with the client library (a person on another
    machine), then disconnect. Blocks the GUI thread meanwhile: keep it short."""

    async def main() -> T:
        client = Client(
            server.host,
            server.port,
            user,
            PASSWORD,
            trust=TrustPolicy(fingerprint=server.fingerprint),
        )
        if register:
            await client.register()
        async with client:
            result = await work(client)
            await client.flush()
            return result

    return asyncio.run(main())


class ProxyThread:
    """A :class:`FaultProxy` in front of ``server``, on an asyncio loop of its own thread (the
    GUI thread belongs to Qt). Its fault methods are called on that loop."""

    def __init__(self, server: ServerProcess) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.proxy = self._run(FaultProxy((server.host, server.port)).start())

    def _run(self, coro: Awaitable[T]) -> T:
        async def wrap() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self._loop).result(10 * SCALE)

    @property
    def port(self) -> int:
        return int(self.proxy.port)

    def cut(self) -> None:
        """Reset every link and refuse new ones: the client is offline, the server up."""

        async def do() -> None:
            self.proxy.refuse(True, mode="reset")
            self.proxy.reset_all()

        self._run(do())

    def heal(self) -> None:
        async def do() -> None:
            self.proxy.heal()

        self._run(do())

    def close(self) -> None:
        self._run(self.proxy.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
