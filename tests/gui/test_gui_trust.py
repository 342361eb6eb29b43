"""Certificates: a changed one is refused loudly, and nothing is sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from guikit import WAIT

from tertulia.gui.app import TertuliaApp
from tertulia_testkit import PASSWORD, ServerProcess

OTHER = "SHA256:" + ":".join(["AB"] * 32)


def test_changed_certificate_is_refused_with_an_explanation(
    qtbot: Any,
    tmp_path: Path,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    known = tmp_path / "known_servers"  # the conftest points TERTULIA_KNOWN_SERVERS here
    known.write_text(f"{server.host}:{server.port} {OTHER}\n")
    ctl = gui_factory()
    ctl.show_login()
    w = ctl.connect_window
    w.host.setText(server.host)
    w.port.setValue(server.port)
    w.user.setText("ana")
    w.password.setText(PASSWORD)
    w.submit.click()
    qtbot.waitUntil(lambda: ctl.error_dialog is not None, timeout=WAIT)
    assert ctl.window is None and ctl.trust_dialog is None
    assert "CHANGED" in w.error.text() and server.fingerprint in w.error.text()
    assert OTHER in w.error.text() and w.error.isVisible()
    assert ctl.error_dialog.isVisible()
    assert w.submit.isEnabled()  # the user can fix it and try again
    assert known.read_text().split()[1] == OTHER  # never silently replaced
