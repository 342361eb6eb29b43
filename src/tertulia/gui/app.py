"""``tertulia gui`` / ``tertulia-gui``: the application controller and ``main()``.

:class:`TertuliaApp` wires the pieces: settings, language, theme, the bridge and the store, the
connect window and the main window, notifications. Tests create it directly with a temporary
config directory (``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from tertulia import __version__
from tertulia.client import DEFAULT_PORT, normalize_name
from tertulia.client.trust import CertificateChangedError, CertificateMismatchError
from tertulia.gui import theme as themes
from tertulia.gui.bridge import ClientBridge, LoginParams, SessionInfo
from tertulia.gui.dialogs import (
    ConnectForm,
    ConnectWindow,
    ErrorDialog,
    SettingsDialog,
    TrustDialog,
)
from tertulia.gui.display import display_problem
from tertulia.gui.eventlog import EventLog
from tertulia.gui.i18n import apply_language, describe_error, resolve_language
from tertulia.gui.mainwindow import MainWindow
from tertulia.gui.notify import Notifier, app_icon
from tertulia.gui.options import add_arguments
from tertulia.gui.settings import Keyring, Settings
from tertulia.gui.store import ChatStore

__all__ = ["TertuliaApp", "build_parser", "main", "make_app"]

log = logging.getLogger("tertulia.gui")


class TertuliaApp(QObject):
    """One running desktop client: a connect window, then a main window per session."""

    def __init__(
        self,
        *,
        config_dir: Path | None = None,
        language: str | None = None,
        theme: str | None = None,
        backoff_cap: float = 30.0,
        backoff_base: float = 0.5,
    ) -> None:
        super().__init__()
        app = QApplication.instance()
        assert isinstance(app, QApplication), "create a QApplication first"
        self.qapp = app
        self.settings = Settings(config_dir)
        if language is not None:
            self.settings.language = language
        if theme is not None:
            self.settings.theme = theme
        self.keyring = Keyring()
        self.backoff_cap = backoff_cap
        self.backoff_base = backoff_base
        self.language = ""
        self.window: MainWindow | None = None
        self.apply_language(self.settings.language)
        self.apply_theme(self.settings.theme)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_scheme_changed)
        self.bridge = ClientBridge(self)
        self.bridge.trustRequested.connect(self._ask_trust)
        self.store: ChatStore | None = None
        self.trust_dialog: TrustDialog | None = None
        self.error_dialog: ErrorDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.notifier = Notifier(self)
        self.notifier.enabled = self.settings.notifications
        self.notifier.sound = self.settings.sound
        self.notifier.activated.connect(self._notification_clicked)
        self.connect_window = ConnectWindow(keyring_available=self.keyring.available)
        self.connect_window.submitted.connect(self._login)
        self.connect_window.languageChosen.connect(self.set_language)
        self.connect_window.set_language_choice(self.settings.language)
        self._pending_form: ConnectForm | None = None
        app.setWindowIcon(app_icon())

    # ------------------------------------------------------------------ look

    def apply_language(self, choice: str) -> None:
        self.language = resolve_language(choice)
        apply_language(self.language)

    def set_language(self, choice: str) -> None:
        self.settings.language = choice
        self.apply_language(choice)

    def apply_theme(self, choice: str) -> None:
        themes.apply_theme(self.qapp, themes.resolve_theme(choice))
        if self.window is not None:
            self.window.refresh_theme()

    def _system_scheme_changed(self, _scheme: object) -> None:
        if self.settings.theme == "system":
            self.apply_theme("system")

    def set_theme(self, choice: str) -> None:
        self.settings.theme = choice
        self.apply_theme(choice)

    # ------------------------------------------------------------------ login

    def show_login(self) -> None:
        s = self.settings
        password = ""
        if s.remember_password and s.user:
            password = self.keyring.load(s.host, s.port, s.user) or ""
        self.connect_window.fill(s.host, s.port, s.user, password, s.remember_password)
        self.connect_window.set_busy(False)
        self.connect_window.show()
        self.connect_window.raise_()

    def _login(self, form: ConnectForm) -> None:
        self._pending_form = form
        self.connect_window.set_busy(True)
        self.connect_window.show_error("")
        user = normalize_name(form.user)
        params = LoginParams(
            host=form.host,
            port=form.port,
            user=user,
            password=form.password,
            register=form.register,
            known_servers_path=self.settings.known_servers_path(),
            outbox_path=self.settings.outbox_path(form.host, form.port, user),
            backoff_cap=self.backoff_cap,
            backoff_base=self.backoff_base,
        )
        self.store = ChatStore(
            self.bridge,
            self,
            event_log=EventLog(self.settings.events_path(form.host, form.port, user)),
        )
        self.bridge.login(params, self._logged_in, self._login_failed)

    def _login_failed(self, exc: BaseException) -> None:
        log.info("login failed: %r", exc)
        self.connect_window.set_busy(False)
        text = describe_error(exc)
        self.connect_window.show_error(text)
        if isinstance(exc, CertificateChangedError | CertificateMismatchError):
            title = QCoreApplication.translate(
                "TertuliaApp", "The server's certificate has changed"
            )
            self.error_dialog = ErrorDialog(title, text, self.connect_window)
            self.error_dialog.open()
        if self.store is not None:
            self.store.deleteLater()
            self.store = None

    def _logged_in(self, session: SessionInfo) -> None:
        form = self._pending_form
        assert form is not None and self.store is not None
        s = self.settings
        s.host, s.port, s.user = form.host, form.port, session.user
        s.remember_password = form.remember
        if form.remember:
            self.keyring.save(form.host, form.port, session.user, form.password)
        else:
            self.keyring.delete(form.host, form.port, session.user)
        self._pending_form = None
        self.connect_window.set_busy(False)
        self.connect_window.hide()
        self.store.me = session.user
        self.store.start(session, prefer=s.last_room)
        server = form.host if form.port == DEFAULT_PORT else f"{form.host}:{form.port}"
        self.window = MainWindow(self.store, server=server, zoom=s.zoom)
        self.window.setWindowIcon(app_icon())
        self.window.setWindowTitle(f"Tertulia — {session.user}@{server}")
        self.window.settingsRequested.connect(self.open_settings)
        self.window.logoutRequested.connect(self.logout)
        self.window.zoomChanged.connect(lambda z: setattr(self.settings, "zoom", z))
        self.store.notify.connect(self._notify)
        self.store.unreadChanged.connect(self.notifier.set_unread)
        self.store.currentRoomChanged.connect(
            lambda name: setattr(self.settings, "last_room", name)
        )
        self.notifier.set_unread(*self.store.room_list.total_unread())
        geometry = s.geometry()
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        self.window.show()
        self.window.activateWindow()

    def _ask_trust(self, fingerprint: str, host: str, port: int) -> None:
        parent = (
            self.window
            if self.window is not None and self.window.isVisible()
            else self.connect_window
        )
        dlg = TrustDialog(fingerprint, host, port, parent)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.finished.connect(lambda result: self.bridge.answer_trust(result == 1))
        self.trust_dialog = dlg
        dlg.open()

    def logout(self) -> None:
        if self.window is not None:
            self.settings.set_geometry(self.window.saveGeometry())
            self.window.hide()
            self.window.deleteLater()
            self.window = None
        if self.store is not None:
            self.store.deleteLater()
            self.store = None
        self.bridge.logout()
        self.show_login()

    # ------------------------------------------------------------------ notifications

    def _notify(self, room: str, title: str, sender: str, text: str) -> None:
        if self.window is not None and self.window.isActiveWindow():
            return
        self.notifier.notify(room, title, sender, text)

    def _notification_clicked(self, room: str) -> None:
        if self.window is None:
            return
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
        if room and self.store is not None:
            self.store.select_room(room)

    # ------------------------------------------------------------------ settings

    def open_settings(self) -> None:
        s = self.settings
        dlg = SettingsDialog(
            language=s.language,
            theme=s.theme,
            notifications=s.notifications,
            sound=s.sound,
            parent=self.window,
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.languageChanged.connect(self.set_language)
        dlg.themeChanged.connect(self.set_theme)
        dlg.notificationsChanged.connect(self._set_notifications)
        dlg.soundChanged.connect(self._set_sound)
        self.settings_dialog = dlg
        dlg.open()

    def _set_notifications(self, on: bool) -> None:
        self.settings.notifications = on
        self.notifier.enabled = on

    def _set_sound(self, on: bool) -> None:
        self.settings.sound = on
        self.notifier.sound = on

    # ------------------------------------------------------------------ shutdown

    def shutdown(self) -> None:
        """Close windows and stop the network thread (blocks briefly)."""
        if self.window is not None:
            self.settings.set_geometry(self.window.saveGeometry())
            self.window.close()
            self.window.deleteLater()  # with its timelines (which re-lay out on theme changes)
            self.window = None
        self.connect_window.close()
        self.bridge.shutdown()
        if self.notifier.tray is not None:
            self.notifier.tray.hide()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tertulia-gui", description="Tertulia desktop client.")
    add_arguments(p)
    return p


def make_app(args: argparse.Namespace) -> TertuliaApp:
    """The controller for the command-line options (a QApplication must exist)."""
    ctl = TertuliaApp(config_dir=args.config_dir, language=args.lang, theme=args.theme)
    if args.server:
        host, _, port = args.server.rpartition(":") if ":" in args.server else (args.server, "", "")
        ctl.settings.host = host or args.server
        if port.isdigit():
            ctl.settings.port = int(port)
    if args.user:
        ctl.settings.user = args.user
    return ctl


def run(args: argparse.Namespace, argv0: str = "tertulia-gui") -> int:
    problem = display_problem()
    if problem is not None:  # before Qt, which would print its own lines and abort
        print(problem, file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    QApplication.setApplicationName("Tertulia")
    QApplication.setOrganizationName("Tertulia")
    QApplication.setApplicationVersion(__version__)
    QApplication.setDesktopFileName("tertulia")
    app = QApplication.instance() or QApplication([argv0])
    assert isinstance(app, QApplication)
    app.setFont(themes.pick_font())
    ctl = make_app(args)
    ctl.show_login()
    app.aboutToQuit.connect(ctl.shutdown)
    return int(app.exec())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else sys.argv[1:])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
