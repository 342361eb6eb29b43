"""Desktop notifications, the tray icon with unread state, the app icon, the notification sound.

Notifications go through the tray icon where the desktop has a tray, else through the
freedesktop notification service on D-Bus where there is one, else nowhere (they are still
recorded in :attr:`Notifier.history`, which the tests read). The sound is the desktop's bell.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from PySide6.QtCore import QObject, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from tertulia.gui import theme as themes

__all__ = ["Notifier", "app_icon", "paint_logo"]

log = logging.getLogger("tertulia.gui.notify")


def paint_logo(p: QPainter, rect: QRect, *, color: str | None = None) -> None:
    """The Tertulia mark: a rounded speech bubble with three dots."""
    t = themes.current()
    r = QRectF(rect).adjusted(2, 2, -2, -2)
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    body = QRectF(r.left(), r.top(), r.width(), r.height() * 0.8)
    path = QPainterPath()
    path.addRoundedRect(body, r.width() * 0.24, r.width() * 0.24)
    tail = QPainterPath()
    tail.moveTo(r.left() + r.width() * 0.22, body.bottom() - 2)
    tail.lineTo(r.left() + r.width() * 0.16, r.bottom())
    tail.lineTo(r.left() + r.width() * 0.44, body.bottom() - 2)
    tail.closeSubpath()
    path = path.united(tail)
    p.fillPath(path, QColor(color or t.accent))
    p.setBrush(QColor("#ffffff"))
    p.setPen(Qt.PenStyle.NoPen)
    d = r.width() * 0.12
    cy = body.center().y()
    for i in (-1, 0, 1):
        cx = body.center().x() + i * d * 2.0
        p.drawEllipse(QRectF(cx - d / 2, cy - d / 2, d, d))
    p.restore()


def app_icon(unread: int = 0, loud: int = 0) -> QIcon:
    """The window/tray icon; a dot when there is something unread (red for mentions/DMs)."""
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128):
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        paint_logo(p, QRect(0, 0, size, size))
        if unread or loud:
            d = size * 0.42
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setBrush(QColor("#e5484d" if loud else "#f5a524"))
            p.setPen(QColor("#ffffff"))
            p.drawEllipse(QRectF(size - d - 1, 1, d, d))
        p.end()
        icon.addPixmap(pm)
    return icon


class Notifier(QObject):
    """Shows notifications and keeps the tray icon's unread state."""

    activated = Signal(str)  # room name of the clicked notification

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = True
        self.sound = False
        self.history: list[tuple[str, str, str]] = []  # (room, title, body)
        #: what the tray and window icons show: (unread messages, mentions and DMs)
        self.unread = self.loud = 0
        self._last_room = ""
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("Tertulia")
            self.menu = QMenu()
            self.show_action = self.menu.addAction("Tertulia")
            self.quit_action = self.menu.addAction(QApplication.translate("Notifier", "Quit"))
            self.quit_action.triggered.connect(QApplication.quit)
            self.tray.setContextMenu(self.menu)
            self.tray.messageClicked.connect(lambda: self.activated.emit(self._last_room))
            self.tray.activated.connect(lambda _r: self.activated.emit(""))
            self.tray.show()
        self._dbus = None

    def set_unread(self, unread: int, loud: int) -> None:
        self.unread, self.loud = unread, loud
        icon = app_icon(unread, loud)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.setWindowIcon(icon)
        if self.tray is not None:
            self.tray.setIcon(icon)
            tip = "Tertulia"
            if unread:
                tip += " — " + QApplication.translate("Notifier", "%n unread").replace(
                    "%n", str(unread)
                )
            self.tray.setToolTip(tip)

    def notify(self, room: str, title: str, sender: str, text: str) -> None:
        if not self.enabled:
            return
        body = f"{sender}: {text}" if sender else text
        if len(body) > 240:
            body = body[:239] + "…"
        self.history.append((room, title, body))
        self._last_room = room
        if self.tray is not None:
            self.tray.showMessage(title, body, app_icon(), 6000)
        else:
            self._dbus_notify(title, body)
        if self.sound:
            QApplication.beep()

    def _dbus_notify(self, title: str, body: str) -> None:
        try:
            from PySide6.QtDBus import QDBusConnection, QDBusInterface
        except ImportError:
            return
        bus = QDBusConnection.sessionBus()
        if not bus.isConnected():
            return
        iface = QDBusInterface(
            "org.freedesktop.Notifications",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
            bus,
        )
        if iface.isValid():
            args: list[Any] = ["Tertulia", 0, "", title, body, [], {}, 6000]
            try:
                cast(Any, iface).call("Notify", *args)
            except Exception as exc:  # a desktop without the service: nothing to show
                log.info("no desktop notification: %s", exc)
