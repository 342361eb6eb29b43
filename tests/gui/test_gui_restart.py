"""What survives a restart of the app: the timeline's local event lines and the "✓ sent" state
of your messages (as they were before), and the text size (Ctrl++), which also applies to
the header, the composer, the room and member lists and the dialogs."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guikit import WAIT, log_in
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from tertulia.gui.app import TertuliaApp
from tertulia.gui.mainwindow import MainWindow
from tertulia_testkit import ServerProcess


def timeline(ctl: TertuliaApp, room: str) -> list[tuple[str, str, str]]:
    """(kind, text, delivery state) of every row of ``room``."""
    assert ctl.store is not None
    st = ctl.store.room(room)
    assert st is not None
    return [(r.kind, r.text, r.state) for r in st.model.rows]


def test_event_lines_and_sent_marks_come_back_after_a_restart(
    qtbot: Any,
    tmp_path: Path,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    ana = gui_factory("ana")
    log_in(qtbot, ana, server, "ana")
    bruno = gui_factory("bruno")
    log_in(qtbot, bruno, server, "bruno")
    assert ana.store is not None and bruno.store is not None
    ana.store.join("general")
    qtbot.waitUntil(lambda: ana.store.current == "general", timeout=WAIT)
    ana.store.send_message("general", "first, before anyone came")
    # stored before bruno comes (else the server may see his join first, and so show it)
    qtbot.waitUntil(
        lambda: timeline(ana, "general") == [("message", "first, before anyone came", "sent")],
        timeout=WAIT,
    )
    bruno.store.join("general")
    qtbot.waitUntil(lambda: bruno.store.current == "general", timeout=WAIT)
    qtbot.waitUntil(lambda: len(timeline(ana, "general")) == 2, timeout=WAIT)  # "bruno joined"
    ana.store.set_topic("general", "plans for friday")  # ana created the room: she may
    qtbot.waitUntil(lambda: len(timeline(bruno, "general")) == 2, timeout=WAIT)
    bruno.store.send_message("general", "hi ana")
    qtbot.waitUntil(
        lambda: [t for _, t, _ in timeline(ana, "general")][-1:] == ["hi ana"], timeout=WAIT
    )
    ana.store.send_message("general", "hello bruno")
    want = [
        ("message", "first, before anyone came", "sent"),
        ("event", "bruno joined the room", ""),
        ("event", "ana changed the topic to “plans for friday”", ""),
        ("message", "hi ana", ""),
        ("message", "hello bruno", "sent"),
    ]
    qtbot.waitUntil(lambda: timeline(ana, "general") == want, timeout=WAIT)

    # the lines are kept on disk, private
    events = tmp_path / "gui-ana" / "events"
    files = list(events.glob("*.jsonl"))
    assert len(files) == 1
    assert stat.S_IMODE(events.stat().st_mode) == 0o700
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600

    ana.shutdown()  # quit the app
    again = gui_factory("ana")  # same config dir
    log_in(qtbot, again, server, "ana", register=False, expect_trust=False)
    assert again.store is not None
    qtbot.waitUntil(lambda: again.store.current == "general", timeout=WAIT)
    qtbot.waitUntil(lambda: timeline(again, "general") == want, timeout=WAIT)
    # and they are said as such to a screen reader
    model = again.store.room("general").model
    spoken = model.data(model.index(1), Qt.ItemDataRole.AccessibleTextRole)
    assert spoken.endswith(": bruno joined the room")

    # what happens next is added after them, and kept too
    bruno.store.leave("general")
    qtbot.waitUntil(
        lambda: timeline(again, "general")[-1] == ("event", "bruno left the room", ""), timeout=WAIT
    )
    again.shutdown()
    third = gui_factory("ana")
    log_in(qtbot, third, server, "ana", register=False, expect_trust=False)
    assert third.store is not None
    qtbot.waitUntil(
        lambda: timeline(third, "general") == [*want, ("event", "bruno left the room", "")],
        timeout=WAIT,
    )


def zoomed_widgets(win: MainWindow) -> dict[str, QWidget]:
    """Everything in the window that shows text."""
    return {
        "timeline": win.view,
        "composer": win.composer,
        "room list": win.room_view,
        "member list": win.member_view,
        "room title": win.room_title,
        "topic": win.room_topic,
        "members title": win.members_title,
        "typing": win.typing_label,
        "my name": win.me_name,
        "sidebar title": win.side_title,
        "search": win.search_edit,
        "banner": win.banner.label,
        "members button": win.members_button,
    }


def sizes(win: MainWindow) -> dict[str, float]:
    return {name: w.font().pointSizeF() for name, w in zoomed_widgets(win).items()}


def test_zoom_applies_to_the_whole_window_and_persists(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    ana = gui_factory("ana")
    log_in(qtbot, ana, server, "ana")
    win, store = ana.window, ana.store
    assert win is not None and store is not None
    store.join("general")
    qtbot.waitUntil(lambda: store.current == "general", timeout=WAIT)
    normal = sizes(win)
    header = win.header.height()
    assert normal["room title"] > normal["topic"]  # the title is larger...

    win.composer.setFocus()
    for _ in range(3):
        qtbot.keyClick(win.composer, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert ana.settings.zoom == 3
    zoomed = sizes(win)
    assert zoomed == {name: size + 3 for name, size in normal.items()}  # ...and stays so

    # the header grows with its texts instead of cutting them off (62 px at least)
    def header_fits() -> bool:
        m = win.header.layout().contentsMargins()
        need = (
            m.top()
            + win.room_title.sizeHint().height()
            + win.room_topic.sizeHint().height()
            + m.bottom()
        )
        return win.header.height() >= max(62, need)

    qtbot.waitUntil(header_fits, timeout=WAIT)
    assert header >= 62
    # dialogs opened from the window follow it
    win.show_help()
    assert win.help_dialog.font().pointSizeF() == normal["timeline"] + 3
    win.help_dialog.close()
    # the largest size too (a header of fixed height would cut its texts off there)
    win.set_zoom(10)
    qtbot.waitUntil(header_fits, timeout=WAIT)
    win.set_zoom(3)
    # a theme change (Qt re-polishes every widget) keeps it
    ana.set_theme("dark")
    assert sizes(win) == zoomed
    ana.set_theme("light")

    ana.shutdown()
    again = gui_factory("ana")
    log_in(qtbot, again, server, "ana", register=False, expect_trust=False)
    assert again.window is not None
    qtbot.waitUntil(
        lambda: again.store is not None and again.store.current == "general", timeout=WAIT
    )
    assert sizes(again.window) == zoomed
    again.window.composer.setFocus()
    qtbot.keyClick(again.window.composer, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert sizes(again.window) == normal and again.settings.zoom == 0
