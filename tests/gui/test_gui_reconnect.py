"""Connection honesty: a killed server shows the banner and the pending state; after the
restart the message typed while offline is delivered exactly once and the banner goes away."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guikit import WAIT, log_in
from PySide6.QtCore import Qt

from tertulia.client import ConnState
from tertulia.gui.app import TertuliaApp
from tertulia_testkit import ServerProcess


def test_server_kill_banner_pending_and_exactly_once_after_restart(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    ana = gui_factory("ana")
    log_in(qtbot, ana, server, "ana")
    bruno = gui_factory("bruno")
    log_in(qtbot, bruno, server, "bruno")
    win, store = ana.window, ana.store
    assert win is not None and store is not None and bruno.store is not None
    store.join("general")
    bruno.store.join("general")
    qtbot.waitUntil(
        lambda: store.current == "general" and bruno.store.current == "general", timeout=WAIT
    )
    assert not win.banner.isVisible()

    server.kill()
    qtbot.waitUntil(lambda: store.state is not ConnState.CONNECTED, timeout=WAIT)
    # a short outage stays invisible...
    assert not win.banner.isVisible()
    # ...a longer one shows the banner, with a countdown or "connecting" and a retry button
    qtbot.waitUntil(win.banner.isVisible, timeout=WAIT)
    assert "Reconnecting" in win.banner.label.text() or "Connecting" in win.banner.label.text()
    assert win.banner.button.text() == "Retry now" and win.banner.button.isVisible()

    # the composer still works while offline; the message waits as "sending…"
    win.composer.setFocus()
    qtbot.keyClicks(win.composer, "written while offline")
    qtbot.keyClick(win.composer, Qt.Key.Key_Return)
    model = store.room("general").model
    mine = [r for r in model.rows if r.text == "written while offline"]
    assert len(mine) == 1 and mine[0].state in ("pending", "sending") and mine[0].seq is None
    assert "sending" in model.data(
        model.index(model.rows.index(mine[0])), Qt.ItemDataRole.DisplayRole
    )

    server.start()  # same port, same data, same certificate
    win.banner.retryClicked.emit()  # "Retry now" skips the backoff wait
    qtbot.waitUntil(lambda: store.state is ConnState.CONNECTED, timeout=WAIT)
    qtbot.waitUntil(lambda: not win.banner.isVisible(), timeout=WAIT)
    qtbot.waitUntil(
        lambda: (
            [(r.state, r.seq is not None) for r in model.rows if r.text == "written while offline"]
            == [("sent", True)]
        ),
        timeout=WAIT,
    )
    # bruno, who was offline too, gets it once
    bmodel = bruno.store.room("general").model
    qtbot.waitUntil(
        lambda: [r.text for r in bmodel.rows if r.kind == "message"] == ["written while offline"],
        timeout=WAIT,
    )
    # and the server stored it once
    pages: list[Any] = []
    ana.bridge.call(lambda c: c.history("general"), pages.append)
    qtbot.waitUntil(lambda: bool(pages), timeout=WAIT)
    assert [m.text for m in pages[0].messages] == ["written while offline"]
