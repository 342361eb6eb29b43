"""The GUI's pure parts: timeline model, room list, slash commands, text helpers, composer,
connection banner timing. No server needed."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, Qt

from tertulia.client import ConnectionStateChanged, ConnState, Message
from tertulia.gui import commands
from tertulia.gui.models import GROUP_GAP_MS, MessageModel, Role, RoomItem, RoomListModel
from tertulia.gui.textfmt import (
    avatar_color,
    initials,
    linkify,
    mentions_user,
    render_html,
    replace_shortcodes,
)
from tertulia.gui.widgets import BANNER_DELAY_MS, Composer, ConnectionBanner

T0 = int(time.time() * 1000)


def msg(
    seq: int, sender: str = "bob", text: str = "hi", ts: int | None = None, **kw: Any
) -> Message:
    return Message(
        room="general",
        seq=seq,
        msg_id=kw.pop("msg_id", f"id-{seq}"),
        sender=sender,
        ts=T0 + seq * 1000 if ts is None else ts,
        text=text,
        **kw,
    )


def col(model: MessageModel, role: int) -> list[Any]:
    return [model.data(model.index(i), role) for i in range(model.rowCount())]


def test_this_pyside6_does_not_release_none(qapp: Any) -> None:
    """PySide6 6.12.0 drops a reference to None in every processEvents(): on Python < 3.12 the
    interpreter then aborts ("deallocating None"). pyproject.toml keeps it below 6.12 there."""
    before = sys.getrefcount(None)
    for _ in range(2000):
        QCoreApplication.processEvents()
    assert sys.getrefcount(None) >= before - 100, "this PySide6 leaks None: use PySide6 < 6.12"


def test_messages_merge_by_seq_and_never_duplicate(qapp: Any) -> None:
    m = MessageModel("general", "ana")
    m.add_messages([msg(5), msg(6)])
    m.add_messages([msg(2), msg(3), msg(4)])  # an older history page goes on top
    m.add_messages([msg(6), msg(7)])  # a live message overlapping a replay
    m.add_messages([msg(1)])
    assert col(m, Role.Seq) == [1, 2, 3, 4, 5, 6, 7]


def test_pending_rows_stay_last_and_are_replaced_by_the_confirmed_message(qapp: Any) -> None:
    m = MessageModel("general", "ana")
    m.add_messages([msg(1)])
    m.upsert_pending(msg_id="a1", text="mine", kind="text", state="pending", created=time.time())
    m.upsert_pending(
        msg_id="a2", text="mine too", kind="text", state="pending", created=time.time()
    )
    m.add_messages([msg(2, "bob", "interleaved")])
    assert col(m, Role.Text) == ["hi", "interleaved", "mine", "mine too"]
    assert col(m, Role.State) == ["", "", "pending", "pending"]
    m.upsert_pending(msg_id="a1", text="mine", kind="text", state="sending", created=0)
    assert "sending" in col(m, Qt.ItemDataRole.DisplayRole)[2]
    m.add_messages([msg(3, "ana", "mine", msg_id="a1")])
    assert col(m, Role.Text) == ["hi", "interleaved", "mine", "mine too"]
    assert col(m, Role.State) == ["", "", "sent", "pending"]
    assert col(m, Role.Seq) == [1, 2, 3, None]
    # a late outbox notification about a confirmed message does not resurrect a pending row
    m.upsert_pending(msg_id="a1", text="mine", kind="text", state="sent", created=0)
    assert col(m, Role.Text).count("mine") == 1


def test_grouping_day_separators_and_the_unread_divider(qapp: Any) -> None:
    m = MessageModel("general", "ana")
    day = 24 * 3600 * 1000
    m.add_messages(
        [
            msg(1, "bob", ts=T0 - day),
            msg(2, "bob", ts=T0),  # new day
            msg(3, "bob", ts=T0 + 1000),  # grouped
            msg(4, "bob", ts=T0 + 2000 + GROUP_GAP_MS),  # long pause: new header
            msg(5, "cy", ts=T0 + 3000 + GROUP_GAP_MS),  # other author
            msg(6, "cy", ts=T0 + 4000 + GROUP_GAP_MS),
        ]
    )
    assert col(m, Role.ShowHeader) == [True, True, False, True, True, False]
    days = col(m, Role.DayStart)
    assert bool(days[0]) and bool(days[1]) and not any(days[2:])
    m.set_first_unread(6)
    assert col(m, Role.UnreadDivider) == [False] * 5 + [True]
    assert col(m, Role.ShowHeader)[5] is True  # the divider breaks the group
    assert m.first_unread_row() == 5
    m.add_event("dan joined the room")
    assert col(m, Role.Kind)[-1] == "event"


def test_mentions_and_search(qapp: Any) -> None:
    m = MessageModel("general", "ana")
    m.add_messages([msg(1, text="hey @ana"), msg(2, text="banana"), msg(3, "ana", "ana here")])
    assert col(m, Role.Mention) == [True, False, False]
    assert m.find("ANA") == [0, 1, 2]
    assert m.find("hey") == [0]
    m.set_matches([0, 1], 1)
    assert col(m, Role.Match) == [1, 2, 0]


def test_room_list_sections_badges_and_order(qapp: Any) -> None:
    rl = RoomListModel()
    rl.upsert(RoomItem("zeta"))
    rl.upsert(RoomItem("alpha", unread=3, mentions=1))
    rl.upsert(RoomItem("dm:ana:bob", visibility="dm", peer="bob"))
    kinds = [rl.data(rl.index(i), Role.Kind) for i in range(rl.rowCount())]
    assert kinds == ["header", "room", "room", "header", "room"]
    assert rl.names() == ["alpha", "zeta", "dm:ana:bob"]
    assert not rl.flags(rl.index(0)) & Qt.ItemFlag.ItemIsSelectable
    spoken = rl.data(rl.index(1), Qt.ItemDataRole.AccessibleTextRole)
    assert spoken == "alpha, 3 unread messages, 1 mention"
    rl.set_presence("bob", "online")
    assert rl.data(rl.index(4), Role.Presence) == "online"
    assert rl.total_unread() == (3, 1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hello", commands.Command("say", text="hello")),
        ("//etc/passwd is a path", commands.Command("say", text="/etc/passwd is a path")),
        ("/join #plans", commands.Command("join", arg="plans")),
        ("/join", commands.Command("error", arg="/join ROOM")),
        ("/leave", commands.Command("leave", arg="")),
        ("/me waves", commands.Command("me", text="waves")),
        ("/msg @bob see you", commands.Command("msg", arg="bob", text="see you")),
        ("/topic Release on Friday", commands.Command("topic", text="Release on Friday")),
        ("/help", commands.Command("help")),
        ("/jion x", commands.Command("error", arg="jion")),
        ("   ", None),
    ],
)
def test_slash_commands(raw: str, expected: commands.Command | None) -> None:
    assert commands.parse(raw) == expected


@pytest.mark.parametrize(
    ("draft", "is_message"),
    [
        ("hello", True),
        ("//etc is a path", True),
        ("/me waves", True),
        ("/", False),
        ("/jo", False),
        ("/me", False),
        ("/msg bob hi", False),
        ("/join big", False),
        ("/topic Friday", False),
        ("", False),
    ],
)
def test_what_counts_as_typing_a_message(draft: str, is_message: bool) -> None:
    assert commands.is_message(draft) is is_message


def test_room_list_replaced_items_are_the_ones_shown(qapp: Any) -> None:
    """A reconnect replaces every room's item (``upsert``): later changes must reach the row
    the sidebar shows, not only the item the total counts."""
    rl = RoomListModel()
    rl.upsert(RoomItem("general", unread=1))
    rl.upsert(RoomItem("general", unread=1, topic="after the reconnect"))  # same label
    changed: list[int] = []
    rl.dataChanged.connect(lambda a, b: changed.append(a.row()))
    rl.update("general", unread=5, mentions=2)
    row = rl.row_of("general")
    assert row is not None and changed == [row]
    idx = rl.index(row)
    assert (idx.data(Role.Unread), idx.data(Role.Mentions)) == (5, 2) == rl.total_unread()
    assert idx.data(Role.Topic) == "after the reconnect"


def test_presence_unknown_while_offline(qapp: Any) -> None:
    rl = RoomListModel()
    rl.upsert(RoomItem("dm:ana:bob", visibility="dm", peer="bob", presence="online"))
    rl.upsert(RoomItem("general"))
    rl.forget_presence()
    dm = rl.index(rl.row_of("dm:ana:bob"))
    assert dm.data(Role.Presence) == "unknown"
    assert dm.data(Qt.ItemDataRole.AccessibleTextRole) == "bob, presence unknown (reconnecting)"
    rl.set_presence("bob", "away")
    assert dm.data(Role.Presence) == "away"
    assert dm.data(Qt.ItemDataRole.ToolTipRole) == "bob — away"


def keys_sorted(m: MessageModel) -> bool:
    return m._keys == sorted(m._keys) and [r.key for r in m.rows] == m._keys


def test_own_messages_are_sent_however_they_come(qapp: Any) -> None:
    m = MessageModel("general", "ana")
    m.add_messages([msg(1, "ana", "from history"), msg(2, "bob", "theirs")])
    m.upsert_pending(msg_id="p1", text="live", kind="text", state="pending", created=0)
    m.add_messages([msg(3, "ana", "live", msg_id="p1")])
    assert [(r.text, r.state) for r in m.rows] == [
        ("from history", "sent"),
        ("theirs", ""),
        ("live", "sent"),
    ]


def test_event_lines_wait_for_their_message(qapp: Any) -> None:
    """Restored event lines sit after the message they followed, once it is loaded."""
    m = MessageModel("general", "ana")
    m.add_event("first line of an empty room", anchor=0)  # nothing loaded: shown
    m.add_messages([msg(s) for s in range(41, 51)])  # the latest page
    m.add_event("bob joined the room", anchor=20)  # older than what is loaded: waits
    m.add_event("carmen joined the room", anchor=45)
    m.add_event("dan left the room", anchor=99)  # after everything loaded: at the end
    texts = [r.text for r in m.rows if r.kind == "event"]
    assert texts == ["first line of an empty room", "carmen joined the room", "dan left the room"]
    assert m.parked_events() == 1
    assert m.rows[m.row_of_seq(45) + 1].text == "carmen joined the room"
    m.add_messages([msg(s) for s in range(1, 41)])  # older history, one block
    assert m.parked_events() == 0
    assert m.rows[m.row_of_seq(20) + 1].text == "bob joined the room"
    assert keys_sorted(m)
    # the line that came before any message stays first once seq 1 is there
    assert m.rows[0].text == "first line of an empty room"
    assert [r.seq for r in m.rows if r.seq is not None] == list(range(1, 51))


def test_gaps(qapp: Any) -> None:
    m = MessageModel("general", "ana")
    m.add_messages([msg(s) for s in range(96, 101)])  # latest page
    m.add_messages([msg(s) for s in range(11, 21)])  # the jump's page: after the read marker
    m.set_gap(20, 96)
    m.add_event("bob joined the room", anchor=50)  # inside the gap: waits
    assert m.gaps() == [(20, 96)]
    row = m.row_of_gap(20)
    assert row == m.row_of_seq(20) + 1
    assert m.data(m.index(row), Role.Kind) == "gap"
    assert m.data(m.index(row), Qt.ItemDataRole.DisplayRole) == "75 more messages, loading…"
    assert m.data(m.index(row), Role.DayStart) == ""
    assert m.next_loaded_after(20) == 96
    # a page fills the start of the gap: the gap moves down
    m.add_messages([msg(s) for s in range(21, 61)])
    m.remove_gap(20)
    m.set_gap(60, m.next_loaded_after(60) or 0)
    assert m.gaps() == [(60, 96)]
    assert m.rows[m.row_of_seq(50) + 1].text == "bob joined the room"
    m.add_messages([msg(s) for s in range(61, 96)])
    m.remove_gap(60)
    assert m.gaps() == [] and all(r.kind != "gap" for r in m.rows)
    assert [r.seq for r in m.rows if r.seq is not None] == list(range(11, 101))
    assert keys_sorted(m)
    m.set_gap(5, 6)  # nothing between: no gap
    assert m.gaps() == []


def test_text_helpers() -> None:
    assert mentions_user("hey @Ana!", "ana") and mentions_user("ana: look", "ana")
    assert not mentions_user("banana", "ana") and not mentions_user("ana-maria", "ana")
    assert replace_shortcodes("ship it :rocket: :nope:") == "ship it 🚀 :nope:"
    assert linkify("see https://x.org/a.") == [
        ("see ", None),
        ("https://x.org/a", "https://x.org/a"),
        (".", None),
    ]
    html = render_html("<b>hi</b> @ana www.x.org", me="ana")
    assert "&lt;b&gt;" in html and 'href="https://www.x.org"' in html
    assert initials("juan.perez") == "JP" and initials("ana") == "A"
    assert avatar_color("ana") == avatar_color("ana") != avatar_color("bob")


def test_composer_enter_sends_and_shift_enter_adds_a_line(qtbot: Any) -> None:
    c = Composer()
    qtbot.addWidget(c)
    sent: list[str] = []
    c.submitted.connect(sent.append)
    qtbot.keyClicks(c, "one")
    qtbot.keyClick(c, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(c, "two :tada:")
    assert c.toPlainText() == "one\ntwo 🎉"
    qtbot.keyClick(c, Qt.Key.Key_Return)
    assert sent == ["one\ntwo 🎉"]


def test_banner_hides_short_blips_and_counts_down_on_longer_outages(qtbot: Any) -> None:
    b = ConnectionBanner()
    qtbot.addWidget(b)
    b.show()
    b.hide()
    b.set_state(ConnectionStateChanged(ConnState.RECONNECTING, retry_in=0.3, attempt=1))
    qtbot.wait(BANNER_DELAY_MS // 3)
    b.set_state(ConnectionStateChanged(ConnState.CONNECTED))
    qtbot.wait(BANNER_DELAY_MS)
    assert not b.isVisible()  # a blip never showed
    b.set_state(ConnectionStateChanged(ConnState.RECONNECTING, retry_in=9.0, attempt=3))
    assert not b.isVisible()
    qtbot.waitUntil(b.isVisible, timeout=BANNER_DELAY_MS * 3)
    assert b.label.text().startswith("Connection lost. Reconnecting in ")
    assert b.button.text() == "Retry now"
    with qtbot.waitSignal(b.retryClicked, timeout=1000):
        b.button.click()
    b.set_state(ConnectionStateChanged(ConnState.CONNECTED))
    assert b.label.text() == "Connected"
    qtbot.waitUntil(lambda: not b.isVisible(), timeout=5000)
