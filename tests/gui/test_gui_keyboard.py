"""Keyboard-only use, search, zoom, selectable text and links, failed messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from guikit import WAIT, log_in
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from tertulia.client import Client, TrustPolicy
from tertulia.gui.app import TertuliaApp
from tertulia.gui.delegates import SelectableText
from tertulia.gui.models import Role
from tertulia_testkit import PASSWORD, ServerProcess


def test_keyboard_navigation_search_zoom_and_selection(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    ctl = gui_factory()
    log_in(qtbot, ctl, server, "ana")
    win, store = ctl.window, ctl.store
    assert win is not None and store is not None
    for room in ("alpha", "beta", "gamma"):
        store.join(room)
        qtbot.waitUntil(lambda r=room: store.current == r, timeout=WAIT)
    for i in range(12):
        store.send_message("gamma", f"note {i} https://example.org/{i}")
    model = store.room("gamma").model
    qtbot.waitUntil(
        lambda: [r.state for r in model.rows if r.kind == "message"].count("sent") == 12,
        timeout=WAIT,
    )
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=WAIT)
    win.composer.setFocus()

    # Alt+Up / Alt+Down walk the room list
    qtbot.keyClick(win.composer, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert store.current == "beta"
    qtbot.keyClick(win.composer, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert store.current == "gamma"
    assert win.room_view.currentIndex().data(Role.RoomName) == "gamma"

    # Ctrl+K: type a few letters, Enter
    qtbot.keyClick(win.composer, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: getattr(win, "switcher", None) is not None, timeout=WAIT)
    qtbot.keyClicks(win.switcher.filter, "alp")
    qtbot.keyClick(win.switcher.filter, Qt.Key.Key_Return)
    assert store.current == "alpha"
    qtbot.keyClick(win.composer, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(win.composer, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert store.current == "gamma"

    # Ctrl+F searches the room; Escape closes the search
    qtbot.keyClick(win.composer, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert win.search_bar.isVisible()
    qtbot.keyClicks(win.search_edit, "note 1")  # matches "note 1", "note 10", "note 11"
    assert win.search_count.text() == "3 of 3"
    qtbot.keyClick(win.search_edit, Qt.Key.Key_Return)  # towards older matches
    assert win.search_count.text() == "2 of 3"
    assert [r.match for r in model.rows].count(2) == 1
    qtbot.keyClick(win.search_edit, Qt.Key.Key_Escape)
    assert not win.search_bar.isVisible()
    assert all(r.match == 0 for r in model.rows)

    # Ctrl++ / Ctrl+- / Ctrl+0 zoom the text
    size = win.view.font().pointSizeF()
    qtbot.keyClick(win.composer, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert win.view.font().pointSizeF() == size + 1
    qtbot.keyClick(win.composer, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(win.composer, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert win.view.font().pointSizeF() == size - 1
    qtbot.keyClick(win.composer, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert win.view.font().pointSizeF() == size
    assert ctl.settings.zoom == 0

    # a press on a message's text opens the selectable overlay over it; links are links
    win.view.scroll_to_end()
    qtbot.wait(50)
    last = model.index(model.rowCount() - 1)
    opt = win.view._option_for(last)
    rect = win.view.delegate.text_rect(opt, last)
    assert win.view.delegate.anchor_at(opt, last, rect.topLeft() + QPoint(3, 3)) == ""
    link_x = rect.left() + win.view.fontMetrics().horizontalAdvance("note 11 https://ex")
    link = win.view.delegate.anchor_at(opt, last, QPoint(link_x, rect.center().y()))
    assert link == "https://example.org/11"
    qtbot.mouseClick(
        win.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.topLeft() + QPoint(2, 2)
    )
    overlay = win.view.indexWidget(last)
    assert isinstance(overlay, SelectableText)
    assert overlay.toPlainText() == "note 11 https://example.org/11"
    overlay.selectAll()
    win.view.setFocus()
    qtbot.keyClick(win.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "note 11 https://example.org/11"


def test_a_refused_message_shows_failed_with_retry_and_discard(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    ctl = gui_factory()
    log_in(qtbot, ctl, server, "ana")
    win, store = ctl.window, ctl.store
    assert win is not None and store is not None
    store.join("alpha")
    qtbot.waitUntil(lambda: store.current == "alpha", timeout=WAIT)
    # leave on the server behind the GUI's back, then send: the server refuses (not_member)
    done: list[object] = []
    ctl.bridge.call(lambda c: c.leave("alpha"), done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    msg_id = store.send_message("alpha", "into the void")
    model = store.room("alpha").model
    qtbot.waitUntil(lambda: model.rows[-1].state == "failed", timeout=WAIT)
    row = model.rows[-1]
    assert row.msg_id == msg_id and "not a member" in row.error
    idx = model.index(model.rowCount() - 1)
    assert "failed" in idx.data(Qt.ItemDataRole.DisplayRole)
    opt = win.view._option_for(idx)
    retry, discard = win.view.delegate.action_rects(opt, idx)
    assert win.view.delegate.action_at(opt, idx, retry.center()) == "retry"
    with qtbot.waitSignal(win.view.actionClicked, timeout=WAIT) as sig:
        qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton, pos=discard.center())
    assert sig.args == [msg_id, "discard"]
    assert all(r.msg_id != msg_id for r in model.rows)


def test_join_create_and_dm_dialogs(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()

    async def other_people() -> None:
        bob = Client(
            server.host,
            server.port,
            "bob",
            PASSWORD,
            trust=TrustPolicy(fingerprint=server.fingerprint),
        )
        await bob.register()
        async with bob:
            await bob.create_room("lobby", topic="say hi")

    asyncio.run(other_people())
    ctl = gui_factory()
    log_in(qtbot, ctl, server, "ana")
    win, store = ctl.window, ctl.store
    assert win is not None and store is not None
    assert win.empty.isVisible() and not win.view.isVisible()  # no rooms yet: say what to do

    win.open_join_dialog()
    dlg = win.join_dialog
    qtbot.waitUntil(lambda: dlg.list.count() == 1, timeout=WAIT)
    assert dlg.list.item(0).text().startswith("#lobby")
    assert "say hi" in dlg.list.item(0).text()
    dlg.list.setCurrentRow(0)
    dlg.go.click()
    qtbot.waitUntil(lambda: store.current == "lobby", timeout=WAIT)
    assert win.room_topic.text() == "say hi"

    win.open_join_dialog()
    dlg = win.join_dialog
    dlg.name.setText("secret-plans")
    dlg.private.setChecked(True)
    dlg.topic.setText("shh")
    dlg.go.click()
    qtbot.waitUntil(lambda: store.current == "secret-plans", timeout=WAIT)
    assert store.room("secret-plans").visibility == "private"

    win.open_dm_dialog()
    win.dm_dialog.user.setText("bob")
    qtbot.keyClick(win.dm_dialog.user, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: store.current.startswith("dm:"), timeout=WAIT)
    assert store.room(store.current).label == "bob"
    assert win.room_title.text() == "bob"
    assert store.room_list.names()[-1] == store.current  # DMs are listed after the rooms
