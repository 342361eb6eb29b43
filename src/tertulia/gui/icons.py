"""Small line icons drawn with QPainter (no image files to ship, crisp at any scale, and they
take the theme's colours)."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

__all__ = ["icon"]

Painter = Callable[[QPainter, float], None]


def _search(p: QPainter, s: float) -> None:
    p.drawEllipse(QRectF(s * 0.16, s * 0.16, s * 0.5, s * 0.5))
    p.drawLine(QPointF(s * 0.58, s * 0.58), QPointF(s * 0.84, s * 0.84))


def _people(p: QPainter, s: float) -> None:
    p.drawEllipse(QRectF(s * 0.22, s * 0.14, s * 0.3, s * 0.3))
    path = QPainterPath()
    path.moveTo(s * 0.08, s * 0.86)
    path.cubicTo(s * 0.1, s * 0.56, s * 0.64, s * 0.56, s * 0.66, s * 0.86)
    p.drawPath(path)
    p.drawArc(QRectF(s * 0.56, s * 0.2, s * 0.26, s * 0.26), 90 * 16, -200 * 16)
    path2 = QPainterPath()
    path2.moveTo(s * 0.74, s * 0.56)
    path2.cubicTo(s * 0.86, s * 0.6, s * 0.92, s * 0.72, s * 0.92, s * 0.84)
    p.drawPath(path2)


def _plus(p: QPainter, s: float) -> None:
    p.drawLine(QPointF(s * 0.5, s * 0.2), QPointF(s * 0.5, s * 0.8))
    p.drawLine(QPointF(s * 0.2, s * 0.5), QPointF(s * 0.8, s * 0.5))


def _gear(p: QPainter, s: float) -> None:
    c = s / 2
    p.drawEllipse(QPointF(c, c), s * 0.13, s * 0.13)
    path = QPainterPath()
    teeth = 8
    for i in range(teeth * 2):
        a = math.pi * i / teeth
        r = s * (0.38 if i % 2 == 0 else 0.3)
        pt = QPointF(c + r * math.cos(a), c + r * math.sin(a))
        if i == 0:
            path.moveTo(pt)
        else:
            path.lineTo(pt)
    path.closeSubpath()
    p.drawPath(path)


def _send(p: QPainter, s: float) -> None:
    path = QPainterPath()
    path.moveTo(s * 0.14, s * 0.18)
    path.lineTo(s * 0.88, s * 0.5)
    path.lineTo(s * 0.14, s * 0.82)
    path.lineTo(s * 0.26, s * 0.5)
    path.closeSubpath()
    p.drawPath(path)
    p.drawLine(QPointF(s * 0.26, s * 0.5), QPointF(s * 0.56, s * 0.5))


def _hash(p: QPainter, s: float) -> None:
    p.drawLine(QPointF(s * 0.4, s * 0.16), QPointF(s * 0.32, s * 0.84))
    p.drawLine(QPointF(s * 0.68, s * 0.16), QPointF(s * 0.6, s * 0.84))
    p.drawLine(QPointF(s * 0.18, s * 0.38), QPointF(s * 0.84, s * 0.38))
    p.drawLine(QPointF(s * 0.16, s * 0.62), QPointF(s * 0.82, s * 0.62))


def _lock(p: QPainter, s: float) -> None:
    p.drawRoundedRect(QRectF(s * 0.2, s * 0.44, s * 0.6, s * 0.42), s * 0.08, s * 0.08)
    p.drawArc(QRectF(s * 0.32, s * 0.14, s * 0.36, s * 0.5), 0, 180 * 16)
    p.drawLine(QPointF(s * 0.32, s * 0.39), QPointF(s * 0.32, s * 0.44))
    p.drawLine(QPointF(s * 0.68, s * 0.39), QPointF(s * 0.68, s * 0.44))


_PAINTERS: dict[str, Painter] = {
    "search": _search,
    "people": _people,
    "plus": _plus,
    "gear": _gear,
    "send": _send,
    "hash": _hash,
    "lock": _lock,
}


def paint_icon(p: QPainter, name: str, rect: QRectF, color: str, width: float = 1.8) -> None:
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.translate(rect.topLeft())
    pen = QPen(QColor(color), width * rect.width() / 20)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    _PAINTERS[name](p, rect.width())
    p.restore()


def icon(name: str, color: str, size: int = 20) -> QIcon:
    """A theme-coloured line icon: search, people, plus, gear, send, hash, lock."""
    ic = QIcon()
    for scale in (1, 2):
        pm = QPixmap(size * scale, size * scale)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        paint_icon(p, name, QRectF(0, 0, size * scale, size * scale), color)
        p.end()
        pm.setDevicePixelRatio(scale)
        ic.addPixmap(pm)
    return ic
