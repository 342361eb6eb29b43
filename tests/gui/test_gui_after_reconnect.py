"""After a reconnect: the sidebar's badges keep counting (they equal the tray's total), and
other people's presence is shown as unknown during the outage, then as it really is.

ana's client goes through a fault proxy, so her link can be cut while the server and the others
stay up (they keep talking, changing their presence)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guikit import WAIT, ProxyThread, as_user, log_in
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from tertulia.client import Client, ConnState
from tertulia.gui import theme as themes
from tertulia.gui.app import TertuliaApp
from tertulia.gui.delegates import paint_avatar, presence_dot
from tertulia.gui.models import Role
from tertulia.gui.store import ChatStore
from tertulia_testkit import ServerProcess


def sidebar(store: ChatStore, room: str) -> tuple[int, int]:
    """What the sidebar row shows: (unread badge, mention badge), read through the model."""
    row = store.room_list.row_of(room)
    assert row is not None
    idx = store.room_list.index(row)
    return int(idx.data(Role.Unread)), int(idx.data(Role.Mentions))


def texts(store: ChatStore, room: str) -> list[str]:
    st = store.room(room)
    assert st is not None
    return [r.text for r in st.model.rows if r.kind == "message"]


def cut_and_wait(qtbot: Any, proxy: ProxyThread, store: ChatStore) -> None:
    proxy.cut()
    qtbot.waitUntil(lambda: store.state is not ConnState.CONNECTED, timeout=WAIT)


def heal_and_resync(qtbot: Any, proxy: ProxyThread, ctl: TertuliaApp) -> None:
    """Let the link back and wait until the store has resynced (its list of rooms is what
    replaced the sidebar's items, where the badges used to freeze)."""
    store = ctl.store
    assert store is not None
    with qtbot.waitSignal(store.roomsChanged, timeout=WAIT):
        proxy.heal()
        store.retry_now()
    assert store.state is ConnState.CONNECTED


def test_sidebar_badges_equal_the_tray_after_reconnects(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
    proxy_factory: Callable[..., ProxyThread],
) -> None:
    server = server_proc_factory()
    proxy = proxy_factory(server)

    async def bob_joins(c: Client) -> None:
        await c.join("general")

    as_user(server, "bob", bob_joins, register=True)
    ana = gui_factory("ana")
    log_in(qtbot, ana, server, "ana", port=proxy.port)
    store = ana.store
    assert store is not None and ana.window is not None
    store.join("general")
    qtbot.waitUntil(lambda: store.current == "general", timeout=WAIT)
    store.join("random")  # ana looks at #random: #general's messages stay unread
    qtbot.waitUntil(lambda: store.current == "random", timeout=WAIT)

    def bob_says(*lines: str) -> None:
        async def say(c: Client) -> None:
            for line in lines:
                await c.send("general", line)

        as_user(server, "bob", say)

    def counts() -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        """(sidebar, store total, tray/window icon)"""
        return (
            sidebar(store, "general"),
            store.room_list.total_unread(),
            (ana.notifier.unread, ana.notifier.loud),
        )

    bob_says("before")
    qtbot.waitUntil(lambda: counts() == ((1, 0),) * 3, timeout=WAIT)

    for round_ in range(2):  # the second reconnect must not freeze them either
        cut_and_wait(qtbot, proxy, store)
        bob_says(f"during {round_} a", f"during {round_} @ana", f"during {round_} c")
        heal_and_resync(qtbot, proxy, ana)
        bob_says(f"after {round_} @ana", f"after {round_} b")
        unread, loud = 1 + 5 * (round_ + 1), 2 * (round_ + 1)
        qtbot.waitUntil(lambda u=unread, m=loud: counts() == ((u, m),) * 3, timeout=WAIT)

    # what the sidebar says aloud follows too, and every message is there once, in order
    idx = store.room_list.index(store.room_list.row_of("general"))
    assert "11 unread messages" in idx.data(Qt.ItemDataRole.AccessibleTextRole)
    assert "4 mentions" in idx.data(Qt.ItemDataRole.AccessibleTextRole)
    expected = ["before"]
    for r in range(2):
        expected += [f"during {r} a", f"during {r} @ana", f"during {r} c"]
        expected += [f"after {r} @ana", f"after {r} b"]
    assert texts(store, "general") == expected

    # reading the room clears the badge and the tray alike
    ana.window.activateWindow()
    store.set_window_active(True)
    store.select_room("general")
    qtbot.waitUntil(lambda: counts() == ((0, 0),) * 3, timeout=WAIT)


def dot_color(presence: str, ring: str) -> QColor:
    """The colour in the middle of the presence dot that :func:`paint_avatar` draws."""
    img = QImage(64, 64, QImage.Format.Format_ARGB32)
    img.fill(QColor(ring))
    p = QPainter(img)
    rect = QRect(0, 0, 63, 63)
    paint_avatar(p, rect, "bruno", presence=presence, ring=ring)
    p.end()
    return img.pixelColor(presence_dot(rect).center().toPoint())


def test_presence_is_unknown_while_offline_and_real_after_the_resync(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
    proxy_factory: Callable[..., ProxyThread],
) -> None:
    server = server_proc_factory()
    proxy = proxy_factory(server)
    bruno = gui_factory("bruno")
    log_in(qtbot, bruno, server, "bruno")
    ana = gui_factory("ana")
    log_in(qtbot, ana, server, "ana", port=proxy.port)
    store, win = ana.store, ana.window
    assert store is not None and win is not None and bruno.store is not None
    bruno.store.join("general")
    qtbot.waitUntil(lambda: bruno.store.current == "general", timeout=WAIT)
    store.open_dm("bruno")
    qtbot.waitUntil(lambda: bool(store.current and store.current.startswith("dm:")), timeout=WAIT)
    dm = store.current
    assert dm is not None
    store.join("random")  # only ana is there
    qtbot.waitUntil(lambda: store.current == "random", timeout=WAIT)
    store.join("general")
    qtbot.waitUntil(lambda: store.current == "general", timeout=WAIT)
    members = store.room("general").members

    def member_presence() -> str:
        if "bruno" not in members.users():
            return ""  # the list is not loaded yet
        row = members.users().index("bruno")
        return str(members.data(members.index(row), Role.Presence))

    def dm_presence() -> str:
        return str(store.room_list.index(store.room_list.row_of(dm)).data(Role.Presence))

    qtbot.waitUntil(
        lambda: (member_presence(), dm_presence()) == ("online", "online"), timeout=WAIT
    )

    cut_and_wait(qtbot, proxy, store)
    # nobody looks online while we cannot know: an "unknown" presence, said and shown as such
    assert (member_presence(), dm_presence()) == ("unknown", "unknown")
    midx = members.index(members.users().index("bruno"))
    assert midx.data(Qt.ItemDataRole.AccessibleTextRole) == "bruno, presence unknown (reconnecting)"
    assert "presence unknown" in midx.data(Qt.ItemDataRole.ToolTipRole)
    didx = store.room_list.index(store.room_list.row_of(dm))
    assert "presence unknown" in didx.data(Qt.ItemDataRole.AccessibleTextRole)
    assert "presence unknown" in didx.data(Qt.ItemDataRole.ToolTipRole)
    # the dot is drawn unlike any real presence (not a filled green, amber or grey dot)
    for theme in (themes.LIGHT, themes.DARK):
        themes.apply_theme(ana.qapp, theme)
        unknown = dot_color("unknown", theme.sidebar)
        real = {p: dot_color(p, theme.sidebar) for p in ("online", "away", "offline")}
        assert real == {
            "online": QColor(theme.online),
            "away": QColor(theme.away),
            "offline": QColor(theme.offline),
        }
        assert unknown not in real.values()
    themes.apply_theme(ana.qapp, themes.LIGHT)
    # the header of a DM says it too
    store.select_room(dm)
    assert win.room_avatar.presence == "unknown"
    assert "presence unknown" in win.room_avatar.accessibleName()

    # meanwhile bruno steps away; after the resync ana sees that, not what she saw before
    done: list[object] = []
    bruno.bridge.call(lambda c: c.set_presence("away"), done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    # ana reconnects while looking at a room bruno is not in: the sidebar's dot of the DM,
    # which is not open, must come back too, and #general's list when she opens it
    store.select_room("random")
    heal_and_resync(qtbot, proxy, ana)
    qtbot.waitUntil(lambda: dm_presence() == "away", timeout=WAIT)
    store.select_room(dm)
    assert win.room_avatar.presence == "away"
    store.select_room("general")
    qtbot.waitUntil(lambda: member_presence() == "away", timeout=WAIT)
    # and live presence events keep it true from there
    bruno.bridge.call(lambda c: c.set_presence("online"))
    qtbot.waitUntil(
        lambda: (member_presence(), dm_presence()) == ("online", "online"), timeout=WAIT
    )
