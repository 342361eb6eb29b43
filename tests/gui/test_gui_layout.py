"""Layout in narrow windows and after changes: timeline rows exactly as tall as what they
paint (event rows too, at any width, after zoom, theme and language changes), the connection
banner following the connection whatever the window's visibility, and texts that wrap or elide
instead of being cut off (640 px wide windows, English and Spanish). No server needed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import (
    QAbstractButton,
    QLabel,
    QLineEdit,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from tertulia.client import (
    ConnectionStateChanged,
    ConnState,
    MemberEvent,
    Message,
    RoomInfo,
    TopicEvent,
)
from tertulia.gui import i18n, widgets
from tertulia.gui import theme as themes
from tertulia.gui.bridge import ClientBridge, SessionInfo
from tertulia.gui.dialogs import ConnectForm, ConnectWindow
from tertulia.gui.mainwindow import MainWindow
from tertulia.gui.models import MessageModel, Role
from tertulia.gui.store import ChatStore
from tertulia.gui.widgets import ConnectionBanner, ElidedLabel, MessageView

NOW = int(time.time() * 1000)
LONG_TOPIC = (
    "carmen changed the topic to “Release on Friday: bring the checklist, the changelog and "
    "https://example.org/a/very/long/link/without/any/spaces/in/it/at/all”"
)

Index = QModelIndex | QPersistentModelIndex


@pytest.fixture(autouse=True)
def _light_english(qapp: Any) -> Iterator[None]:
    """The application's own font (as ``tertulia gui`` sets it), light, English."""
    font = qapp.font()
    qapp.setFont(themes.pick_font())
    themes.apply_theme(qapp, themes.LIGHT)
    i18n.apply_language("en")
    yield
    qapp.setFont(font)
    themes.apply_theme(qapp, themes.LIGHT)
    i18n.apply_language("en")


def message(seq: int, sender: str, text: str, msg_id: str = "") -> Message:
    return Message(
        room="general", seq=seq, msg_id=msg_id or f"m{seq}", sender=sender, ts=NOW + seq, text=text
    )


def timeline() -> MessageModel:
    """Every kind of row: an event that starts the day (it came before the history, as when
    someone joins while the first page loads), messages (grouped or not), a long event, the
    unread divider, a message of ours that failed."""
    m = MessageModel("general", "carmen")
    m.add_event("bruno joined the room", ts=NOW)
    m.add_messages(
        [
            message(1, "ana", "Hi everyone! Welcome to our own chat server 👋"),
            message(2, "bruno", "¡Hola! Ya estoy dentro. Qué rápido va todo."),
            message(3, "bruno", "second line from bruno"),
        ]
    )
    m.add_event(LONG_TOPIC, ts=NOW)
    m.add_messages([message(4, "ana", "after the topic change @carmen")])
    m.set_first_unread(4)
    m.upsert_pending(
        msg_id="p1", text="written offline", kind="text", state="failed", created=0, error="nope"
    )
    return m


def painted_outside(view: MessageView, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paint the view; repaint every row exactly as the view painted it (same option) into an
    image and report any ink outside the row's rectangle (below it: drawn over the next row;
    right of the viewport: cut off)."""
    real = view.delegate.paint
    calls: list[tuple[QPersistentModelIndex, QStyleOptionViewItem]] = []

    def spy(p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        calls.append((QPersistentModelIndex(index), QStyleOptionViewItem(option)))
        real(p, option, index)

    monkeypatch.setattr(view.delegate, "paint", spy)
    view.grab()
    monkeypatch.setattr(view.delegate, "paint", real)
    assert calls, "nothing was painted"
    margin = 200
    width = view.viewport().width()
    problems = []
    for index, option in calls:
        r = option.rect
        img = QImage(width + margin, r.height() + 2 * margin, QImage.Format.Format_ARGB32)
        img.fill(0)
        p = QPainter(img)
        p.translate(0, margin - r.top())
        real(p, option, index)
        p.end()
        what = f"row {index.row()} ({index.data(Role.Kind)}: {index.data(Role.Text)!r})"
        for name, area in (
            ("above", QRect(0, 0, img.width(), margin)),
            ("below", QRect(0, margin + r.height(), img.width(), margin)),
            ("right of the viewport", QRect(width, 0, margin, img.height())),
        ):
            part = img.copy(area)
            blank = QImage(part.size(), part.format())
            blank.fill(0)
            if part != blank:
                problems.append(f"{what} paints {name} its {r.width()}x{r.height()} row")
    return problems


def settle(qtbot: Any, view: MessageView) -> None:
    view.executeDelayedItemsLayout()
    qtbot.wait(10)


@pytest.mark.parametrize("width", [250, 380, 640, 1000])
def test_every_row_is_as_tall_as_what_it_paints(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    view = MessageView()
    qtbot.addWidget(view)
    view.resize(width, 2000)
    view.set_room_model(timeline())
    view.show()
    qtbot.waitExposed(view)
    settle(qtbot, view)
    assert painted_outside(view, monkeypatch) == []
    # a long event line wraps (it used to be cut off at the row's right edge, time and all)
    model = view.model()
    assert isinstance(model, MessageModel)
    row = next(i for i, r in enumerate(model.rows) if r.text == LONG_TOPIC)
    lines = view.visualRect(model.index(row)).height() // QFontMetrics(view.font()).height()
    assert lines >= (3 if width <= 400 else 2 if width <= 640 else 1)


def test_row_heights_follow_width_zoom_theme_language_and_row_changes(
    qtbot: Any, qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = MessageView()
    qtbot.addWidget(view)
    view.resize(380, 2000)
    model = timeline()
    view.set_room_model(model)
    view.show()
    qtbot.waitExposed(view)
    settle(qtbot, view)

    def heights() -> list[int]:
        return [view.visualRect(model.index(i)).height() for i in range(model.rowCount())]

    def check(what: str) -> list[int]:
        settle(qtbot, view)
        assert painted_outside(view, monkeypatch) == [], what
        return heights()

    narrow = check("380 px")
    view.resize(900, 2000)
    wide = check("900 px")
    assert sum(wide) < sum(narrow)  # text wraps less
    view.resize(380, 2000)
    assert check("380 px again") == narrow

    big = QFont(view.font())
    big.setPointSizeF(big.pointSizeF() + 6)
    view.setFont(big)  # zoom (Ctrl++): no explicit refresh, the view notices
    zoomed = check("zoomed in")
    assert all(z > n for z, n in zip(zoomed, narrow, strict=True))

    themes.apply_theme(qapp, themes.DARK)
    check("dark theme")
    i18n.apply_language("es")
    check("Spanish")

    # a row whose kind of content changes: the divider moves, a message fails, a pending one
    # is replaced by the confirmed message
    model.set_first_unread(2)
    model.upsert_pending(msg_id="p2", text="another", kind="text", state="pending", created=0)
    check("row changes")
    model.upsert_pending(msg_id="p2", text="", kind="text", state="failed", created=0, error="x")
    check("failed")
    model.add_messages([message(5, "carmen", "written offline", msg_id="p1")])
    assert [r.state for r in model.rows if r.own] == ["sent", "failed"]
    check("confirmed")


# --------------------------------------------------------------------------- texts


def cut_off(window: QWidget) -> list[str]:
    """Visible labels and buttons that do not get the room their text needs: squeezed below
    their size, wrapped text taller than the label, outside their parent or the window, or
    elided without the whole text as tooltip."""
    problems = []
    for w in window.findChildren(QWidget):
        if not w.isVisible() or not isinstance(w, QLabel | QAbstractButton):
            continue
        if isinstance(w.parentWidget(), QLineEdit):
            continue  # the line edit's own clear button
        what = f"{type(w).__name__} {w.objectName()!r} {w.text()!r}"
        parent = w.parentWidget()
        if parent is not None and not parent.rect().contains(w.geometry()):
            problems.append(f"{what} is outside its parent")
        if not window.rect().contains(QRect(w.mapTo(window, QPoint(0, 0)), w.size())):
            problems.append(f"{what} is outside the window")
        if isinstance(w, ElidedLabel):
            if w.is_elided() and w.toolTip() != w.text():
                problems.append(f"{what} is elided without a tooltip")
        elif isinstance(w, QLabel) and w.wordWrap():
            if w.heightForWidth(w.width()) > w.height():
                problems.append(f"{what} is cut off ({w.height()} px high)")
        elif w.width() < w.sizeHint().width() or w.height() < w.sizeHint().height():
            problems.append(f"{what} is squeezed to {w.width()}x{w.height()}")
    return problems


def assert_elided_iff_too_wide(label: ElidedLabel) -> None:
    """The label elides its text exactly when the text is wider than the label's room, and then
    shows the whole text as its tooltip: true whichever fonts the machine has."""
    room = label.contentsRect().width()
    too_wide = label.fontMetrics().horizontalAdvance(label.text()) > room
    assert label.is_elided() is too_wide, (label.text(), room)
    if too_wide:
        assert label.toolTip() == label.text()


def banner_window(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, width: int
) -> tuple[QWidget, ConnectionBanner]:
    """A banner at the top of a window ``width`` px wide (the timeline column of the main
    window), shown without the usual delay."""
    monkeypatch.setattr(widgets, "BANNER_DELAY_MS", 0)
    window = QWidget()
    qtbot.addWidget(window)
    lay = QVBoxLayout(window)
    lay.setContentsMargins(0, 0, 0, 0)
    banner = ConnectionBanner(window)
    lay.addWidget(banner)
    lay.addStretch(1)
    window.resize(width, 300)
    window.show()
    qtbot.waitExposed(window)
    return window, banner


def test_banner_follows_the_connection_while_the_window_is_hidden(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, banner = banner_window(qtbot, monkeypatch, 600)
    banner.set_state(ConnectionStateChanged(ConnState.RECONNECTING, retry_in=1.0, attempt=2))
    qtbot.waitUntil(banner.isVisible, timeout=2000)
    assert banner.label.text().startswith("Connection lost. Reconnecting in 1")
    window.hide()  # in the tray, on another desktop...: nothing of it is "visible"
    banner.set_state(ConnectionStateChanged(ConnState.CONNECTED))
    assert banner.label.text() == "Connected"
    qtbot.waitUntil(banner.isHidden, timeout=5000)
    window.show()
    qtbot.waitExposed(window)
    assert not banner.isVisible()  # no stale "Reconnecting in 1 s…"

    # the same for a language change while hidden (an "offline" banner has no countdown
    # that would render it again)
    banner.set_state(ConnectionStateChanged(ConnState.OFFLINE, error=None))
    assert banner.isVisible() and banner.label.text() == "Disconnected."
    window.hide()
    i18n.apply_language("es")
    qtbot.waitUntil(lambda: banner.label.text() == "Desconectado.", timeout=2000)


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("width", [380, 240])
@pytest.mark.parametrize("state", [ConnState.RECONNECTING, ConnState.OFFLINE])
def test_banner_wraps_and_keeps_its_button_in_narrow_windows(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, lang: str, width: int, state: ConnState
) -> None:
    """380 px: the timeline column of a 640 px window."""
    i18n.apply_language(lang)
    window, banner = banner_window(qtbot, monkeypatch, width)
    error = ConnectionRefusedError() if state is ConnState.OFFLINE else None
    banner.set_state(ConnectionStateChanged(state, retry_in=12.0, error=error, attempt=3))
    qtbot.waitUntil(banner.isVisible, timeout=2000)
    qtbot.wait(20)
    assert banner.button.isVisible()
    assert cut_off(window) == []
    if state is ConnState.RECONNECTING:
        assert "12\u00a0s" in banner.label.text()  # the number never ends a line


def offline_main_window(qtbot: Any, lang: str) -> MainWindow:
    """The main window of a session (no server: the events are fed to the store as the client
    would), 640x720 as a tiling window manager may make it (below its minimum size)."""
    i18n.apply_language(lang)
    store = ChatStore(ClientBridge())
    store.me = "carmen"
    store.start(
        SessionInfo(
            user="carmen",
            admin=False,
            limits=None,
            rooms=[RoomInfo(name="general", visibility="public", member_count=3)],
            pages={},
            outbox=[],
        )
    )
    win = MainWindow(store, server="127.0.0.1:47475")
    qtbot.addWidget(win)
    win.setMinimumSize(200, 200)
    win.resize(640, 720)
    feed = store.bridge.eventReceived.emit
    feed(MemberEvent(room="general", user="bruno", action="joined"))
    feed(message(1, "ana", "Hi everyone! Welcome to our own chat server 👋"))
    feed(message(2, "bruno", "¡Hola! Ya estoy dentro. Qué rápido va todo."))
    feed(MemberEvent(room="general", user="dan", action="joined"))
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("members", [True, False])
def test_nothing_is_cut_off_in_a_640_px_window(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, lang: str, members: bool
) -> None:
    monkeypatch.setattr(widgets, "BANNER_DELAY_MS", 0)
    win = offline_main_window(qtbot, lang)
    if not members:  # closed with the members button in a wide window
        win.resize(1180, 720)
        win.members_button.setChecked(False)
        win.resize(640, 720)
    # the member list folds away by itself when the window has no room for it
    assert not win.members_panel.isVisible() and not win.members_button.isChecked()
    win.store.bridge.eventReceived.emit(
        ConnectionStateChanged(ConnState.RECONNECTING, retry_in=2.0, attempt=1)
    )
    qtbot.waitUntil(win.banner.isVisible, timeout=2000)
    win.open_search()
    win.search_edit.setText("hola")
    win.search_older.show()  # as when more history can be searched
    win.typing_label.set_users(["bartolomé_fernández", "maximiliano_gutiérrez"])
    qtbot.wait(50)
    assert cut_off(win) == []
    # the topic hint is elided exactly when this machine's font makes it wider than its room
    # (which fonts are installed decides that), with the whole text as its tooltip then
    hint = {"en": "No topic yet — click to set one", "es": "Sin tema todavía — haz clic"}[lang]
    assert win.room_topic.text().startswith(hint)
    assert_elided_iff_too_wide(win.room_topic)
    # a topic no font fits into 640 px is elided, whatever the fonts
    topic = "Planning the spring release, the translations and the next meetup " * 4
    win.store.bridge.eventReceived.emit(TopicEvent(room="general", topic=topic, by="ana"))
    qtbot.waitUntil(lambda: win.room_topic.text() == topic, timeout=2000)
    assert win.room_topic.is_elided() and win.room_topic.toolTip() == topic
    assert_elided_iff_too_wide(win.room_topic)
    assert cut_off(win) == []
    assert painted_outside(win.view, monkeypatch) == []

    # wide again: the member list comes back (unless it was closed with the button)
    win.resize(1180, 720)
    qtbot.wait(20)
    assert win.members_panel.isVisible() is members
    assert_elided_iff_too_wide(win.room_topic)
    assert cut_off(win) == []


def test_search_closes_when_the_room_changes_while_the_window_is_hidden(qtbot: Any) -> None:
    win = offline_main_window(qtbot, "en")
    win.open_search()
    win.search_edit.setText("hola")
    assert win.view.delegate.needle == "hola"
    win.hide()
    win.close_search()  # e.g. the room changed (a notification was clicked) while hidden
    assert win.search_bar.isHidden() and win.search_edit.text() == ""
    assert win.view.delegate.needle == ""


def test_login_form_remembers_the_password_even_if_submitted_while_hidden(qtbot: Any) -> None:
    w = ConnectWindow(keyring_available=True)
    qtbot.addWidget(w)
    w.fill("chat.example.org", 7443, "ana", "secret", True)
    assert not w.isVisible()
    with qtbot.waitSignal(w.submitted, timeout=1000) as sig:
        w.submit.click()
    form = sig.args[0]
    assert isinstance(form, ConnectForm) and form.remember
