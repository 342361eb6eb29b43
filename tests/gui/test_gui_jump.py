""" "↑ 5000 new messages — jump": one click shows the first unread message, with one history
request whatever the distance; the messages between it and the loaded ones are then filled in
as they come into view, each once and in order."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from guikit import WAIT, as_user, log_in
from PySide6.QtCore import Qt

from tertulia.client import Client
from tertulia.gui.app import TertuliaApp
from tertulia.gui.models import Role
from tertulia_testkit import SCALE, ServerProcess

READ = 10  # messages ana has read
UNREAD = 5000


def test_one_click_jumps_to_the_first_of_5000_unread_messages(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()

    async def ana_reads(c: Client) -> None:
        await c.join("big")

    async def bob_writes(c: Client) -> None:
        await c.join("big")
        for i in range(1, READ + 1):
            await c.send("big", f"old {i}")

    async def ana_marks(c: Client) -> None:
        await c.mark_read("big", READ)

    async def bob_floods(c: Client) -> None:
        for i in range(1, UNREAD + 1):
            await c.send("big", f"new {i}")

    as_user(server, "ana", ana_reads, register=True)
    as_user(server, "bob", bob_writes, register=True)
    as_user(server, "ana", ana_marks)
    as_user(server, "bob", bob_floods)

    ctl = gui_factory("ana")
    log_in(qtbot, ctl, server, "ana", register=False)
    win, store = ctl.window, ctl.store
    assert win is not None and store is not None
    qtbot.waitUntil(lambda: store.current == "big", timeout=WAIT)
    st = store.room("big")
    assert st is not None
    model = st.model
    first = READ + 1
    assert model.first_unread == first
    assert (model.min_seq or 0) > first  # only the latest page is loaded
    qtbot.waitUntil(win.jump_unread.isVisible, timeout=WAIT)
    assert win.jump_unread.text() == "↑ 5000 new messages — jump"

    requests: list[str] = []
    real_call = ctl.bridge.call

    def counting_call(fn: Any, *args: Any, **kwargs: Any) -> None:
        requests.append(getattr(fn, "__qualname__", repr(fn)))
        real_call(fn, *args, **kwargs)

    ctl.bridge.call = counting_call  # type: ignore[method-assign]
    t0 = time.monotonic()
    qtbot.mouseClick(win.jump_unread, Qt.MouseButton.LeftButton)  # one click

    def first_unread_on_screen() -> bool:
        row = model.row_of_seq(first)
        if row is None:
            return False
        rect = win.view.visualRect(model.index(row))
        return rect.isValid() and 0 <= rect.top() < win.view.viewport().height()

    qtbot.waitUntil(first_unread_on_screen, timeout=WAIT)
    elapsed = time.monotonic() - t0
    assert elapsed < 5 * SCALE, f"the jump took {elapsed:.1f} s"
    assert not win.jump_unread.isVisible()
    row = model.row_of_seq(first)
    assert row is not None
    idx = model.index(row)
    assert idx.data(Role.Text) == "new 1"
    assert idx.data(Role.UnreadDivider) is True  # "New messages" above it
    # one history request got there (paging back would have taken 50)
    history_requests = [r for r in requests if "jump_to_first_unread" in r]
    assert len(history_requests) == 1, requests

    # what is between is a gap, shown as one row and filled as it scrolls into view
    assert model.gaps(), "expected a gap between the jump's page and the latest page"
    gap_row = model.row_of_gap(model.gaps()[0][0])
    assert gap_row is not None
    assert "more messages" in model.index(gap_row).data(Qt.ItemDataRole.DisplayRole)

    def walk_down() -> bool:
        gaps = model.gaps()
        if gaps:
            r = model.row_of_gap(gaps[-1][0])
            if r is not None:
                win.view.scroll_to_row(r)
        return not gaps

    qtbot.waitUntil(walk_down, timeout=WAIT * 4)
    seqs = [r.seq for r in model.rows if r.seq is not None]
    assert seqs == sorted(set(seqs)), "a message shown twice or out of order"
    assert seqs[-UNREAD:] == list(range(first, first + UNREAD))
    texts = [r.text for r in model.rows if r.seq is not None and r.seq >= first]
    assert texts == [f"new {i}" for i in range(1, UNREAD + 1)]
    assert all(r.kind != "gap" for r in model.rows)
