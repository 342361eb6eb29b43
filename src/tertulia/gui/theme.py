"""Light and dark themes: a palette, a style sheet and the named colours the delegates paint with.

"system" follows the desktop's colour scheme (``QStyleHints.colorScheme``, Qt 6.5+) and changes
with it while running. Fonts: the system UI font, unless it is a generic fallback (as on a bare
server or the offscreen platform), in which case a good UI face is picked if installed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QApplication

__all__ = [
    "DARK",
    "LIGHT",
    "Theme",
    "apply_theme",
    "pick_font",
    "resolve_theme",
    "style_sheet",
    "zoom_sheet",
]


@dataclass(frozen=True)
class Theme:
    name: str
    dark: bool
    window: str
    sidebar: str
    sidebar_text: str
    sidebar_muted: str
    sidebar_hover: str
    sidebar_selected: str
    sidebar_selected_text: str
    surface: str
    surface_alt: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    accent_soft: str
    link: str
    mention_bg: str
    mention_bar: str
    hover: str
    danger: str
    warning_bg: str
    warning_text: str
    success: str
    badge: str
    badge_text: str
    online: str
    away: str
    offline: str
    divider: str
    match_bg: str


LIGHT = Theme(
    name="light",
    dark=False,
    window="#ffffff",
    sidebar="#1f2433",
    sidebar_text="#e7e9f0",
    sidebar_muted="#9aa1b5",
    sidebar_hover="#2b3144",
    sidebar_selected="#4f5bd5",
    sidebar_selected_text="#ffffff",
    surface="#ffffff",
    surface_alt="#f5f6f8",
    text="#1d2129",
    muted="#6b7280",
    border="#e4e6eb",
    accent="#4f5bd5",
    accent_text="#ffffff",
    accent_soft="#eef0fd",
    link="#3b48c8",
    mention_bg="#fff8e1",
    mention_bar="#f5a524",
    hover="#f6f7f9",
    danger="#d93b3b",
    warning_bg="#fff4d6",
    warning_text="#6b4e00",
    success="#1f9d55",
    badge="#5b6275",
    badge_text="#ffffff",
    online="#22c55e",
    away="#f59e0b",
    offline="#9ca3af",
    divider="#e5484d",
    match_bg="#fde68a",
)

DARK = Theme(
    name="dark",
    dark=True,
    window="#1a1d24",
    sidebar="#12141a",
    sidebar_text="#d9dce4",
    sidebar_muted="#808799",
    sidebar_hover="#1f232c",
    sidebar_selected="#5865f2",
    sidebar_selected_text="#ffffff",
    surface="#1a1d24",
    surface_alt="#22262f",
    text="#e3e5ea",
    muted="#9aa0ad",
    border="#2c313c",
    accent="#6b77f5",
    accent_text="#ffffff",
    accent_soft="#272c45",
    link="#8f9bff",
    mention_bg="#3a3220",
    mention_bar="#f5a524",
    hover="#20242c",
    danger="#f06565",
    warning_bg="#3d3218",
    warning_text="#f8dc8c",
    success="#34d399",
    badge="#4a5061",
    badge_text="#ffffff",
    online="#22c55e",
    away="#f59e0b",
    offline="#6b7280",
    divider="#f06565",
    match_bg="#8a6d1c",
)

_current: Theme = LIGHT


def current() -> Theme:
    return _current


def resolve_theme(choice: str) -> Theme:
    if choice == "dark":
        return DARK
    if choice == "light":
        return LIGHT
    scheme = QGuiApplication.styleHints().colorScheme()
    return DARK if scheme == Qt.ColorScheme.Dark else LIGHT


_PREFERRED_FONTS = ["Inter", "Noto Sans", "Cantarell", "Ubuntu", "Segoe UI", "Roboto"]
_GENERIC = {"", "Sans Serif", "DejaVu Sans", "Sans", "Helvetica", "Arial"}


def pick_font(base_size: float = 10.0) -> QFont:
    """The application font: the system's, or a nicer installed face if that is generic."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont)
    if font.family() in _GENERIC:
        families = set(QFontDatabase.families())
        for fam in _PREFERRED_FONTS:
            if fam in families:
                font = QFont(fam)
                break
    if font.pointSizeF() <= 0 or font.family() in _PREFERRED_FONTS:
        font.setPointSizeF(base_size)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    return font


def apply_theme(app: QApplication, theme: Theme) -> None:
    """Set Fusion with ``theme``'s palette and style sheet on the whole application."""
    global _current
    _current = theme
    app.setStyle("Fusion")
    pal = QPalette()
    c = QColor
    pal.setColor(QPalette.ColorRole.Window, c(theme.window))
    pal.setColor(QPalette.ColorRole.WindowText, c(theme.text))
    pal.setColor(QPalette.ColorRole.Base, c(theme.surface))
    pal.setColor(QPalette.ColorRole.AlternateBase, c(theme.surface_alt))
    pal.setColor(QPalette.ColorRole.Text, c(theme.text))
    pal.setColor(QPalette.ColorRole.Button, c(theme.surface_alt))
    pal.setColor(QPalette.ColorRole.ButtonText, c(theme.text))
    pal.setColor(QPalette.ColorRole.Highlight, c(theme.accent))
    pal.setColor(QPalette.ColorRole.HighlightedText, c(theme.accent_text))
    pal.setColor(QPalette.ColorRole.Link, c(theme.link))
    pal.setColor(QPalette.ColorRole.PlaceholderText, c(theme.muted))
    pal.setColor(QPalette.ColorRole.ToolTipBase, c(theme.surface_alt))
    pal.setColor(QPalette.ColorRole.ToolTipText, c(theme.text))
    pal.setColor(QPalette.ColorRole.Mid, c(theme.border))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
        pal.setColor(QPalette.ColorGroup.Disabled, role, c(theme.muted))
    app.setPalette(pal)
    app.setStyleSheet(style_sheet(theme) + _images(theme))


def _image(name: str, color: str, points: list[QPointF]) -> str:
    """Style sheets can only show an arrow or a check mark as an image file: draw one (once),
    as a stroke through ``points`` on a 20x20 canvas; returns its path."""
    path = (
        Path(tempfile.gettempdir()) / f"tertulia-gui-{os.getuid() if hasattr(os, 'getuid') else 0}"
    )
    path.mkdir(mode=0o700, exist_ok=True)
    png = path / f"{name}-{color.lstrip('#')}.png"
    if not png.exists():
        pm = QPixmap(20, 20)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(color), 2.4)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.drawPolyline(points)
        p.end()
        pm.save(str(png))
    return png.as_posix()


def _images(t: Theme) -> str:
    arrow = _image("arrow", t.muted, [QPointF(5, 8), QPointF(10, 13), QPointF(15, 8)])
    check = _image("check", t.accent_text, [QPointF(5, 10.5), QPointF(8.5, 14), QPointF(15, 6)])
    return f"""
QComboBox::drop-down {{{{ border: none; width: 26px; }}}}
QComboBox::down-arrow {{{{ image: url({arrow}); width: 10px; height: 10px; }}}}
QCheckBox::indicator:checked {{{{ image: url({check}); }}}}
""".replace("{{", "{").replace("}}", "}")


def zoom_sheet(base: QFont, zoom: int) -> str:
    """The main window's own style sheet: every text of the window (and of the dialogs it
    opens) at the application font's size plus ``zoom`` points, titles 3 points larger.

    Sizes live here rather than in :func:`style_sheet` or ``setFont``: a widget's own style
    sheet beats the application's, survives its re-polishing (theme changes), and reaches
    every child, which ``setFont`` does not once an application style sheet is set."""
    if base.pointSizeF() > 0:
        size, unit, step = max(6.0, base.pointSizeF() + zoom), "pt", 1.0
    else:  # a font set in pixels: a point is 4/3 px at 96 dpi
        size, unit, step = max(8.0, base.pixelSize() + zoom * 4 / 3), "px", 4 / 3
    return f"""
QWidget {{ font-size: {size:g}{unit}; }}
QLabel#SidebarTitle, QLabel#RoomTitle, QToolButton#SidebarButton, QLabel#DialogTitle {{
    font-size: {size + 3 * step:g}{unit};
}}
"""


def style_sheet(t: Theme) -> str:
    return f"""
QWidget#Sidebar {{ background: {t.sidebar}; }}
QLabel#SidebarTitle {{ color: {t.sidebar_text}; font-weight: 700; }}
QLabel#SidebarServer {{ color: {t.sidebar_muted}; }}
QListView#RoomList {{ background: {t.sidebar}; border: none; outline: none; }}
QWidget#MeBar {{ background: {t.sidebar}; border-top: 1px solid {t.sidebar_hover}; }}
QLabel#MeName {{ color: {t.sidebar_text}; font-weight: 600; }}
QLabel#MeStatus {{ color: {t.sidebar_muted}; }}
QToolButton#SidebarButton {{
    color: {t.sidebar_text}; background: transparent; border: none; border-radius: 6px;
    padding: 4px 6px;
}}
QToolButton#SidebarButton:hover {{ background: {t.sidebar_hover}; }}
QToolButton#SidebarButton::menu-indicator {{ image: none; width: 0; }}
QWidget#Header {{ background: {t.surface}; border-bottom: 1px solid {t.border}; }}
QLabel#RoomTitle {{ font-weight: 700; color: {t.text}; }}
QLabel#RoomTopic {{ color: {t.muted}; }}
QToolButton#HeaderButton {{
    border: none; border-radius: 6px; padding: 4px 8px; color: {t.muted};
}}
QToolButton#HeaderButton:hover {{ background: {t.hover}; color: {t.text}; }}
QToolButton#HeaderButton:checked {{ background: {t.accent_soft}; color: {t.accent}; }}
QListView#MessageView {{ background: {t.surface}; border: none; outline: none; }}
QWidget#MemberPanel {{ background: {t.surface_alt}; border-left: 1px solid {t.border}; }}
QListView#MemberList {{ background: transparent; border: none; outline: none; }}
QLabel#PanelTitle {{ color: {t.muted}; font-weight: 700; }}
QFrame#Banner {{ background: {t.warning_bg}; border-bottom: 1px solid {t.border}; }}
QFrame#Banner QLabel {{ color: {t.warning_text}; font-weight: 600; }}
QFrame#Banner[severity="error"] {{ background: {t.danger}; }}
QFrame#Banner[severity="error"] QLabel {{ color: #ffffff; }}
QFrame#Banner[severity="ok"] {{ background: {t.success}; }}
QFrame#Banner[severity="ok"] QLabel {{ color: #ffffff; }}
QPushButton#BannerButton {{
    background: transparent; border: 1px solid currentColor; border-radius: 6px;
    padding: 3px 10px; color: {t.warning_text}; font-weight: 600;
}}
QFrame#ComposerFrame {{
    background: {t.surface}; border: 1px solid {t.border}; border-radius: 10px;
}}
QFrame#ComposerFrame[focused="true"] {{ border: 1px solid {t.accent}; }}
QPlainTextEdit#Composer {{ background: transparent; border: none; color: {t.text}; }}
QToolButton#SendButton {{
    background: {t.accent}; color: {t.accent_text}; border: none; border-radius: 8px;
    padding: 5px 12px; font-weight: 600;
}}
QToolButton#SendButton:disabled {{ background: {t.border}; color: {t.muted}; }}
QLabel#TypingLabel {{ color: {t.muted}; font-style: italic; }}
QPushButton#JumpButton {{
    background: {t.accent}; color: {t.accent_text}; border: none; border-radius: 14px;
    padding: 5px 14px; font-weight: 600;
}}
QFrame#SearchBar {{ background: {t.surface_alt}; border-bottom: 1px solid {t.border}; }}
QLineEdit {{
    border: 1px solid {t.border}; border-radius: 8px; padding: 6px 8px;
    background: {t.surface}; color: {t.text};
}}
QLineEdit:focus {{ border: 1px solid {t.accent}; }}
QPushButton#Primary {{
    background: {t.accent}; color: {t.accent_text}; border: none; border-radius: 8px;
    padding: 8px 18px; font-weight: 600;
}}
QPushButton#Primary:disabled {{ background: {t.border}; color: {t.muted}; }}
QWidget#LoginCard {{ background: {t.surface}; border: 1px solid {t.border}; border-radius: 14px; }}
QWidget#ConnectWindow {{ background: {t.surface_alt}; }}
QPushButton#Segment {{
    border: 1px solid {t.border}; background: {t.surface}; padding: 7px; color: {t.muted};
}}
QPushButton#Segment[pos="left"] {{ border-top-left-radius: 8px; border-bottom-left-radius: 8px; }}
QPushButton#Segment[pos="right"] {{
    border-top-right-radius: 8px; border-bottom-right-radius: 8px;
}}
QPushButton#Segment:checked {{
    background: {t.accent_soft}; color: {t.accent}; border: 1px solid {t.accent}; font-weight: 600;
}}
QComboBox {{
    border: 1px solid {t.border}; border-radius: 8px; padding: 5px 10px;
    background: {t.surface}; color: {t.text}; min-width: 120px;
}}
QSpinBox {{
    border: 1px solid {t.border}; border-radius: 8px; padding: 5px 6px;
    background: {t.surface}; color: {t.text};
}}
QLabel#LoginTitle {{ font-size: 20pt; font-weight: 700; color: {t.text}; }}
QLabel#LoginSubtitle {{ color: {t.muted}; }}
QLabel#ErrorLabel {{ color: {t.danger}; }}
QLabel#FieldLabel {{ color: {t.muted}; font-weight: 600; }}
QLabel#Fingerprint {{
    font-family: monospace; background: {t.surface_alt}; border: 1px solid {t.border};
    border-radius: 6px; padding: 8px;
}}
QDialog {{ background: {t.surface}; color: {t.text}; }}
QDialog QLabel {{ color: {t.text}; }}
QLabel#DialogTitle {{ font-size: 13pt; font-weight: 700; color: {t.text}; }}
QDialog QLabel#LoginSubtitle, QLabel#DialogHint {{ color: {t.muted}; }}
QDialog QPushButton {{
    background: {t.surface}; color: {t.text}; border: 1px solid {t.border}; border-radius: 8px;
    padding: 7px 16px;
}}
QDialog QPushButton:hover {{ background: {t.hover}; }}
QDialog QPushButton:focus {{ border: 1px solid {t.accent}; }}
QDialog QPushButton#Primary {{ background: {t.accent}; color: {t.accent_text}; border: none; }}
QDialog QPushButton#Primary:disabled {{ background: {t.border}; color: {t.muted}; }}
QDialog QListWidget, QDialog QListView {{
    background: {t.surface_alt}; color: {t.text}; border: 1px solid {t.border};
    border-radius: 8px; padding: 4px; outline: none;
}}
QDialog QListWidget::item, QDialog QListView::item {{
    padding: 6px 8px; border-radius: 6px; color: {t.text};
}}
QDialog QListWidget::item:hover, QDialog QListView::item:hover {{ background: {t.hover}; }}
QDialog QListWidget::item:selected, QDialog QListView::item:selected {{
    background: {t.accent_soft}; color: {t.accent};
}}
QDialog#Switcher {{ background: {t.surface}; border: 1px solid {t.border}; border-radius: 12px; }}
QDialog#Switcher QListView {{ background: {t.surface}; border: none; }}
QCheckBox {{ color: {t.text}; spacing: 8px; }}
QCheckBox::indicator {{
    width: 16px; height: 16px; border: 1px solid {t.border}; border-radius: 4px;
    background: {t.surface};
}}
QCheckBox::indicator:hover {{ border: 1px solid {t.accent}; }}
QCheckBox::indicator:checked {{ background: {t.accent}; border: 1px solid {t.accent}; }}
QMenu {{ background: {t.surface}; color: {t.text}; border: 1px solid {t.border}; padding: 4px; }}
QMenu::item {{ padding: 6px 22px 6px 12px; border-radius: 6px; }}
QMenu::item:selected {{ background: {t.accent_soft}; color: {t.accent}; }}
QMenu::separator {{ height: 1px; background: {t.border}; margin: 4px 8px; }}
QToolTip {{
    background: {t.surface_alt}; color: {t.text}; border: 1px solid {t.border}; padding: 4px 6px;
}}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; }}
QScrollBar::handle:vertical {{ background: {t.border}; border-radius: 5px; min-height: 30px; }}
QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical {{ height: 0; }}
QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical {{ background: none; }}
QListView#RoomList QScrollBar::handle:vertical {{ background: {t.sidebar_hover}; }}
"""
