"""Pending invitations in the desktop client (issue 12, item 7), offscreen, on a real server:
shown in a bar with Accept and Decline, in English and Spanish; nothing joined until Accept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from guikit import WAIT, as_user, log_in

from tertulia.client import Client
from tertulia.gui import i18n
from tertulia.gui.app import TertuliaApp
from tertulia_testkit import ServerProcess


@pytest.fixture(autouse=True)
def _back_to_english(qapp: Any) -> Iterator[None]:
    yield
    i18n.apply_language("en")


def test_pending_invitations_are_shown_and_answered(
    qtbot: Any,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()

    # an invitation made before bruno logs in is listed at login
    as_user(server, "bruno", _nothing, register=True)
    as_user(server, "ana", _work(("plans",)), register=True)
    bruno = gui_factory("bruno")
    log_in(qtbot, bruno, server, "bruno", register=False, expect_trust=True)
    win, store = bruno.window, bruno.store
    assert win is not None and store is not None
    bar = win.invitation_bar
    qtbot.waitUntil(lambda: bar.isVisible(), timeout=WAIT)
    assert bar.label.text() == "ana invited you to the private room plans"
    assert "plans" not in store.rooms  # pending: not a room yet

    # one made while he is connected arrives as an event
    as_user(server, "ana", _work(("party",)))
    qtbot.waitUntil(lambda: len(win.invitations.items) == 2, timeout=WAIT)
    assert bar.label.text() == "ana invited you to the private room plans (one more pending)"
    i18n.apply_language("es")
    qtbot.waitUntil(lambda: bar.accept_button.text() == "Aceptar", timeout=WAIT)
    assert bar.label.text() == "ana te invitó a la sala privada plans (una más pendiente)"
    assert bar.decline_button.text() == "Rechazar"
    i18n.apply_language("en")

    bar.accept_button.click()  # the oldest: plans
    qtbot.waitUntil(lambda: "plans" in store.rooms, timeout=WAIT)
    assert bar.label.text() == "ana invited you to the private room party"
    bar.decline_button.click()
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=WAIT)
    assert "party" not in store.rooms
    pending = as_user(server, "bruno", lambda c: c.invitations())
    assert pending == []


def _work(rooms: tuple[str, ...]) -> Callable[[Client], Any]:
    async def work(c: Client) -> None:
        for room in rooms:
            await c.create_room(room, visibility="private")
            await c.invite(room, "bruno")

    return work


async def _nothing(c: Client) -> None:
    return None
