"""The dialogs (join a room, direct message, topic, settings, help, Ctrl+K) wear the theme of
the main window, light and dark: background, buttons, lists, check boxes, a heading. Checked
on the pixels they paint, at places no text reaches (no dependence on fonts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QLabel,
    QStyle,
    QStyleOptionButton,
    QWidget,
)

from tertulia.client import RoomInfo
from tertulia.gui import i18n
from tertulia.gui import theme as themes
from tertulia.gui.bridge import ClientBridge, SessionInfo
from tertulia.gui.dialogs import SettingsDialog, TopicDialog, TrustDialog
from tertulia.gui.mainwindow import MainWindow
from tertulia.gui.store import ChatStore


@pytest.fixture(autouse=True)
def _english_light(qapp: Any) -> Iterator[None]:
    i18n.apply_language("en")
    yield
    themes.apply_theme(qapp, themes.LIGHT)


def main_window(qtbot: Any) -> MainWindow:
    store = ChatStore(ClientBridge())
    store.me = "carmen"
    store.start(
        SessionInfo(
            user="carmen",
            admin=False,
            limits=None,
            rooms=[
                RoomInfo(name="general", visibility="public", member_count=3),
                RoomInfo(name="random", visibility="public", member_count=2),
            ],
            pages={},
            outbox=[],
        )
    )
    win = MainWindow(store, server="127.0.0.1:47475")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def pixel(w: QWidget, at: QPoint, img: QImage | None = None) -> QColor:
    img = img if img is not None else w.grab().toImage()
    return img.pixelColor(at)


def fill(button: QAbstractButton) -> QColor:
    """Inside the button's left edge, halfway down: its background, never its text."""
    return pixel(button, QPoint(4, button.height() // 2))


def indicator_fill(cb: QCheckBox) -> QColor:
    opt = QStyleOptionButton()
    cb.initStyleOption(opt)
    r = cb.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, opt, cb)
    return pixel(cb, QPoint(r.center().x(), r.top() + 2))


def dialogs(qtbot: Any, win: MainWindow) -> dict[str, QDialog]:
    win.open_join_dialog()
    win.open_dm_dialog()
    win.show_help()
    win.open_switcher()
    settings = SettingsDialog(
        language="en", theme="light", notifications=True, sound=False, parent=win
    )
    topic = TopicDialog("general", "old topic", win)
    found: dict[str, QDialog] = {
        "join": win.join_dialog,
        "dm": win.dm_dialog,
        "help": win.help_dialog,
        "switcher": win.switcher,
        "settings": settings,
        "topic": topic,
    }
    for d in found.values():
        d.show()
        qtbot.waitExposed(d)
    return found


@pytest.mark.parametrize("theme", [themes.LIGHT, themes.DARK], ids=["light", "dark"])
def test_dialogs_wear_the_theme(qtbot: Any, qapp: Any, theme: themes.Theme) -> None:
    themes.apply_theme(qapp, theme)
    win = main_window(qtbot)
    found = dialogs(qtbot, win)
    t = theme
    for name, d in found.items():
        assert d.objectName(), name
        # the dialog's own background (bottom middle: the margin under its contents)
        assert pixel(d, QPoint(d.width() // 2, d.height() - 4)) == QColor(t.surface), name
        if name != "switcher":
            heading = d.findChild(QLabel, "DialogTitle")
            assert heading is not None and heading.isVisible(), name
            assert heading.text() == d.windowTitle(), name
            assert heading.font().bold()
            assert heading.font().pointSizeF() > d.font().pointSizeF()
    # secondary buttons: outlined, on the dialog's colour (not Qt's grey gradient)
    for name, button in (
        ("join", found["join"].cancel),
        ("dm", found["dm"].cancel),
        ("help", found["help"].close_button),
        ("settings", found["settings"].close_button),
    ):
        assert fill(button) == QColor(t.surface), name
        assert pixel(button, QPoint(0, button.height() // 2)) == QColor(t.border), name
    # the main action in the accent colour
    assert fill(found["join"].go) == QColor(t.accent)
    assert fill(found["dm"].start) == QColor(t.accent)
    trust = TrustDialog("sha256:" + "ab" * 32, "chat.example.org", 7443, win)
    trust.show()
    qtbot.waitExposed(trust)
    assert fill(trust.trust_button) == QColor(t.accent)
    assert fill(trust.cancel_button) == QColor(t.surface)
    trust.close()
    # lists on the alternate surface, a rounded selection in the accent's soft colour
    join_list = found["join"].list
    assert pixel(join_list, join_list.rect().center()) == QColor(t.surface_alt)
    switcher = found["switcher"]
    rect = switcher.list.visualRect(switcher.proxy.index(0, 0))
    img = switcher.list.viewport().grab().toImage()
    assert pixel(switcher.list, QPoint(rect.left() + 4, rect.center().y()), img) == QColor(
        t.accent_soft
    )
    # check boxes: a filled accent box when on, the surface when off
    settings = found["settings"]
    assert isinstance(settings, SettingsDialog)
    assert settings.notifications.isChecked() and not settings.sound.isChecked()
    assert indicator_fill(settings.notifications) == QColor(t.accent)
    assert indicator_fill(settings.sound) == QColor(t.surface)
    for d in found.values():
        d.close()
