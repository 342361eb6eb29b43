"""The composer: its hint follows the room on screen (not only in the widget's property), and
typing a slash command tells the room nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guikit import WAIT, log_in
from PySide6.QtCore import QCoreApplication, QPoint, QRect, Qt
from PySide6.QtGui import QImage

from tertulia.client import Message, TopicEvent, TypingEvent
from tertulia.gui.app import TertuliaApp
from tertulia.gui.mainwindow import MainWindow
from tertulia_testkit import ServerProcess


def on_screen(win: MainWindow) -> QImage:
    """The composer's text area as it is on screen now (the window's backing store)."""
    vp = win.composer.viewport()
    pos = vp.mapTo(win, QPoint(0, 0))
    shot = win.screen().grabWindow(win.winId(), pos.x(), pos.y(), vp.width(), vp.height())
    return shot.toImage().convertToFormat(QImage.Format.Format_RGB32)


def fresh(win: MainWindow) -> QImage:
    """The same area painted afresh (the frame behind it, the composer and its hint)."""
    vp = win.composer.viewport()
    pos = vp.mapTo(win.composer_frame, QPoint(0, 0))
    img = win.composer_frame.grab().toImage()
    part = img.copy(QRect(pos.x(), pos.y(), vp.width(), vp.height()))
    return part.convertToFormat(QImage.Format.Format_RGB32)


def enter(qtbot: Any, win: MainWindow, text: str) -> None:
    win.composer.setFocus()
    qtbot.keyClicks(win.composer, text)
    qtbot.keyClick(win.composer, Qt.Key.Key_Return)


def test_the_composer_hint_follows_the_room_on_screen(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    bob = gui_factory("bob")
    log_in(qtbot, bob, server, "bob")
    ana = gui_factory("ana")
    log_in(qtbot, ana, server, "ana")
    win, store = ana.window, ana.store
    assert win is not None and store is not None
    store.join("general")
    qtbot.waitUntil(lambda: store.current == "general", timeout=WAIT)
    qtbot.waitUntil(lambda: on_screen(win) == fresh(win), timeout=WAIT)
    assert win.composer.placeholderText() == "Message #general"

    # the composer is empty (and shows its hint) before the room changes: only a repaint of
    # the hint can show the new one
    for command, room_is, hint in (
        ("/msg bob", lambda c: c.startswith("dm:"), "Message bob"),
        ("/join big", lambda c: c == "big", "Message #big"),
        ("/join general", lambda c: c == "general", "Message #general"),
    ):
        enter(qtbot, win, command)
        assert win.composer.toPlainText() == ""
        qtbot.waitUntil(lambda r=room_is: bool(store.current and r(store.current)), timeout=WAIT)
        assert win.composer.placeholderText() == hint
        qtbot.waitUntil(lambda: on_screen(win) == fresh(win), timeout=WAIT)


def test_typing_a_slash_command_sends_no_typing_notice(
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
    store.join("general")  # ana creates it (its owner may set the topic), then bruno joins
    qtbot.waitUntil(lambda: store.current == "general", timeout=WAIT)
    bruno.store.join("general")
    qtbot.waitUntil(lambda: bruno.store.current == "general", timeout=WAIT)
    # what bruno hears of ana in #general, in the order it arrives
    heard: list[str] = []

    def listen(ev: object) -> None:
        if isinstance(ev, TypingEvent) and ev.user == "ana" and ev.room == "general":
            heard.append("typing")
        elif isinstance(ev, TopicEvent) and ev.by == "ana":
            heard.append(f"topic {ev.topic}")
        elif isinstance(ev, Message) and ev.sender == "ana":
            heard.append(f"message {ev.text}")

    bruno.bridge.eventReceived.connect(listen)

    # a slash command typed key by key (and run), then a message sent without typing: had the
    # command announced "typing", bruno would hear it first
    enter(qtbot, win, "/topic plans for friday")
    store.send_message("general", "sentinel")
    qtbot.waitUntil(lambda: heard[-1:] == ["message sentinel"], timeout=WAIT)
    # a half-typed command, "/me" without its action: nothing either
    qtbot.keyClicks(win.composer, "/jo")
    win.composer.clear()
    qtbot.keyClicks(win.composer, "/me")
    win.composer.clear()
    # plain text is "typing" at once (no earlier notice holds it back)
    qtbot.keyClicks(win.composer, "hello")
    qtbot.waitUntil(lambda: heard[-1:] == ["typing"], timeout=WAIT)
    assert heard == ["topic plans for friday", "message sentinel", "typing"]
    qtbot.waitUntil(lambda: "ana" in bruno.window.typing_label.text(), timeout=WAIT)
    QCoreApplication.processEvents()
