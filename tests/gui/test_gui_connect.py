"""The connect window: refusals are explained (changed certificate, wrong password, no server),
and the last server and user are remembered."""

from __future__ import annotations

import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from guikit import WAIT, log_in

from tertulia.gui.app import TertuliaApp, build_parser, make_app
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


def fill(ctl: TertuliaApp, host: str, port: int, user: str, password: str) -> None:
    ctl.show_login()
    w = ctl.connect_window
    w.host.setText(host)
    w.port.setValue(port)
    w.user.setText(user)
    w.password.setText(password)
    w.submit.click()


def test_nothing_listening_is_reported_quickly(
    qtbot: Any, gui_factory: Callable[..., TertuliaApp]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = gui_factory()
    fill(ctl, "127.0.0.1", port, "ana", PASSWORD)
    w = ctl.connect_window
    qtbot.waitUntil(lambda: w.error.isVisible(), timeout=WAIT)
    assert "refused the connection" in w.error.text()
    assert w.submit.isEnabled() and ctl.window is None


def test_wrong_password_then_right_one_and_remembered(
    qtbot: Any,
    tmp_path: Path,
    server_proc_factory: Callable[..., ServerProcess],
    gui_factory: Callable[..., TertuliaApp],
) -> None:
    server = server_proc_factory()
    ctl = gui_factory("a")
    log_in(qtbot, ctl, server, "ana")  # registers
    ctl.logout()
    qtbot.waitUntil(ctl.connect_window.isVisible, timeout=WAIT)
    w = ctl.connect_window
    assert (w.host.text(), w.port.value(), w.user.text()) == (server.host, server.port, "ana")
    assert w.password.text() == ""  # no keyring here: never stored
    assert PASSWORD not in (tmp_path / "gui-a" / "gui.ini").read_text()
    fill(ctl, server.host, server.port, "ana", "not the password")
    qtbot.waitUntil(lambda: w.error.isVisible(), timeout=WAIT)
    assert w.error.text() == "Wrong user name or password."
    fill(ctl, server.host, server.port, "ana", PASSWORD)
    qtbot.waitUntil(lambda: ctl.window is not None and ctl.window.isVisible(), timeout=WAIT)


def test_known_servers_live_under_config_dir(
    qtbot: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_proc_factory: Callable[..., ServerProcess],
) -> None:
    """``tertulia gui --config-dir DIR`` keeps the trusted certificates in DIR/known_servers
    (not in the default one): a second profile asks again, the same profile does not."""
    monkeypatch.delenv("TERTULIA_KNOWN_SERVERS")
    server = server_proc_factory()
    default = tmp_path / "xdg" / "tertulia" / "known_servers"  # where it used to go
    apps: list[TertuliaApp] = []

    def start(config_dir: Path) -> TertuliaApp:
        args = build_parser().parse_args(
            ["--config-dir", str(config_dir), "--lang", "en", "--theme", "light"]
        )
        ctl = make_app(args)
        apps.append(ctl)
        return ctl

    try:
        first = start(tmp_path / "profile")
        log_in(qtbot, first, server, "ana", expect_trust=True)
        kept = tmp_path / "profile" / "known_servers"
        assert server.spki in kept.read_text()  # remembered by its public key
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert not default.exists()
        first.shutdown()

        same = start(tmp_path / "profile")
        log_in(qtbot, same, server, "ana", register=False, expect_trust=False)
        same.shutdown()

        other = start(tmp_path / "other-profile")
        log_in(qtbot, other, server, "ana", register=False, expect_trust=True)
        assert server.spki in (tmp_path / "other-profile" / "known_servers").read_text()
        assert not default.exists()
    finally:
        for ctl in apps:
            ctl.shutdown()
            ctl.connect_window.deleteLater()
