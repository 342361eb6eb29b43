"""Helpers for the GUI tests (a module of its own: ``conftest`` is not a unique name)."""

from __future__ import annotations

from typing import Any

from tertulia.gui.app import TertuliaApp
from tertulia_testkit import PASSWORD, SCALE, ServerProcess

#: pytest-qt waits are in milliseconds
WAIT = int(15_000 * SCALE)


def log_in(
    qtbot: Any,
    ctl: TertuliaApp,
    server: ServerProcess,
    user: str,
    *,
    register: bool = True,
    expect_trust: bool | None = None,
) -> None:
    """Fill the connect window like a person and wait for the main window."""
    ctl.show_login()
    w = ctl.connect_window
    w.host.setText(server.host)
    w.port.setValue(server.port)
    w.user.setText(user)
    w.password.setText(PASSWORD)
    if register:
        w.mode_register.click()
        w.confirm.setText(PASSWORD)
    w.submit.click()

    def trust_or_window() -> bool:
        return ctl.trust_dialog is not None or ctl.window is not None

    qtbot.waitUntil(trust_or_window, timeout=WAIT)
    if ctl.window is None:
        assert expect_trust is not False, "unexpected trust prompt"
        dlg = ctl.trust_dialog
        assert dlg is not None
        assert dlg.fingerprint == server.fingerprint
        dlg.trust_button.click()
    else:
        assert not expect_trust, "expected a trust prompt"
    qtbot.waitUntil(lambda: ctl.window is not None and ctl.window.isVisible(), timeout=WAIT)
