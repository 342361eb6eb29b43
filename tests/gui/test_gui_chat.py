"""Two desktop clients on one real server: rooms, messages, unread counts, mentions, DMs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guikit import WAIT, log_in
from PySide6.QtCore import Qt

from tertulia.gui.app import TertuliaApp
from tertulia.gui.models import Role
from tertulia_testkit import ServerProcess


def type_and_send(qtbot: Any, ctl: TertuliaApp, text: str) -> None:
    win = ctl.window
    assert win is not None
    win.composer.setFocus()
    qtbot.keyClicks(win.composer, text)
    qtbot.keyClick(win.composer, Qt.Key.Key_Return)


def texts(ctl: TertuliaApp, room: str) -> list[str]:
    assert ctl.store is not None
    st = ctl.store.room(room)
    assert st is not None
    return [r.text for r in st.model.rows if r.kind == "message"]


def test_two_clients_chat_with_unread_and_mentions(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    ana = gui_factory("ana")
    log_in(qtbot, ana, server, "ana", expect_trust=True)
    bruno = gui_factory("bruno")
    log_in(qtbot, bruno, server, "bruno", expect_trust=False)  # known_servers is shared
    assert ana.window is not None and bruno.window is not None
    assert ana.store is not None and bruno.store is not None

    # ana creates #general with a slash command; bruno joins it and a room of his own
    type_and_send(qtbot, ana, "/join general")
    qtbot.waitUntil(lambda: ana.store.current == "general", timeout=WAIT)
    assert ana.window.composer.toPlainText() == ""
    bruno.store.join("general")
    qtbot.waitUntil(lambda: bruno.store.current == "general", timeout=WAIT)
    bruno.store.join("random")
    qtbot.waitUntil(lambda: bruno.store.current == "random", timeout=WAIT)

    # Enter sends; Shift+Enter makes a new line inside the same message
    win = ana.window
    win.composer.setFocus()
    qtbot.keyClicks(win.composer, "first line")
    qtbot.keyClick(win.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(win.composer, "second line")
    qtbot.keyClick(win.composer, Qt.Key.Key_Return)
    type_and_send(qtbot, ana, "hey @bruno, look :tada:")

    qtbot.waitUntil(lambda: len(texts(bruno, "general")) == 2, timeout=WAIT)
    assert texts(bruno, "general") == ["first line\nsecond line", "hey @bruno, look 🎉"]
    # ana's own rows end as confirmed ("sent"), in order, each once
    qtbot.waitUntil(
        lambda: (
            [r.state for r in ana.store.room("general").model.rows if r.kind == "message"]
            == ["sent", "sent"]
        ),
        timeout=WAIT,
    )
    assert texts(ana, "general") == ["first line\nsecond line", "hey @bruno, look 🎉"]

    # bruno is looking at #random: #general shows 2 unread, one of them a mention
    item = bruno.store.room_list.item("general")
    assert item is not None
    qtbot.waitUntil(lambda: item.unread == 2 and item.mentions == 1, timeout=WAIT)
    row = bruno.store.room_list.row_of("general")
    idx = bruno.store.room_list.index(row)
    assert idx.data(Role.Unread) == 2
    assert "2 unread" in idx.data(Qt.ItemDataRole.AccessibleTextRole)
    assert bruno.store.room("general").model.rows[1].mention

    # opening the room puts the "new messages" divider on the first unread and clears counts
    bruno.store.select_room("general")
    model = bruno.store.room("general").model
    assert model.data(model.index(0), Role.UnreadDivider) is True
    assert item.unread == 0 and item.mentions == 0
    # each message is one accessible list item
    assert "first line" in model.data(model.index(0), Qt.ItemDataRole.AccessibleTextRole)

    # a DM from bruno: a loud badge and a notification for ana, who is in #general
    with qtbot.waitSignal(ana.store.notify, timeout=WAIT) as sig:
        type_and_send(qtbot, bruno, "/msg ana psst")
    assert sig.args[2] == "bruno" and sig.args[3] == "psst"
    dm = sig.args[0]
    qtbot.waitUntil(lambda: ana.store.room_list.item(dm) is not None, timeout=WAIT)
    dm_item = ana.store.room_list.item(dm)
    qtbot.waitUntil(lambda: dm_item.mentions == 1, timeout=WAIT)
    assert dm_item.label == "bruno"

    # typing notices show up under the other client's timeline (bruno is in the DM he just
    # opened: back to #general first; typing "/msg ana psst" told nobody anything)
    ana.store.select_room("general")
    bruno.store.select_room("general")
    qtbot.keyClicks(bruno.window.composer, "typing")
    qtbot.waitUntil(lambda: "bruno" in ana.window.typing_label.text(), timeout=WAIT)

    # the member list shows both with presence
    qtbot.waitUntil(lambda: ana.store.room("general").members.rowCount() == 2, timeout=WAIT)
    assert sorted(ana.store.room("general").members.users()) == ["ana", "bruno"]
