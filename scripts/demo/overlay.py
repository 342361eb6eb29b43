#!/usr/bin/env python3
"""The demo's stage: desktop background, name tags over each window, the caption bar, the
title and end cards. Driven by ``record.py`` through ``channel.py``.

Nothing here shows application state: every chat window is a real client (``puppet.py``) and
the terminal is a real ``xterm``; this process only frames and explains them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from channel import CommandRunner

FONT = "Inter"
BG_TOP = "#151a24"
BG_BOTTOM = "#0b0e14"
ACCENT = "#6c7cff"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--caption-height", type=int, default=130)
    p.add_argument("--tag-height", type=int, default=40)
    args = p.parse_args()
    sw, sh = (int(v) for v in args.size.split("x"))

    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen
    from PySide6.QtWidgets import QApplication, QLabel, QWidget

    from tertulia.gui.notify import paint_logo

    app = QApplication(["tertulia-demo-overlay"])
    app.setFont(QFont(FONT, 11))
    flags = (
        Qt.WindowType.FramelessWindowHint
        | Qt.WindowType.WindowStaysOnTopHint
        | Qt.WindowType.WindowDoesNotAcceptFocus
        | Qt.WindowType.Tool
    )

    class Background(QWidget):
        def paintEvent(self, e: Any) -> None:
            q = QPainter(self)
            g = QLinearGradient(0, 0, 0, self.height())
            g.setColorAt(0, QColor(BG_TOP))
            g.setColorAt(1, QColor(BG_BOTTOM))
            q.fillRect(self.rect(), g)
            q.end()

    bg = Background()
    bg.setWindowFlags(Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnBottomHint)
    bg.setGeometry(0, 0, sw, sh)
    bg.show()

    class Caption(QWidget):
        def __init__(self) -> None:
            super().__init__(None, flags)
            self.num = ""
            self.title = ""
            self.title_es = ""
            self.en = ""
            self.es = ""

        def paintEvent(self, e: Any) -> None:
            q = QPainter(self)
            q.setRenderHint(QPainter.RenderHint.Antialiasing)
            q.fillRect(self.rect(), QColor("#0b0e14"))
            q.setPen(QPen(QColor(ACCENT), 3))
            q.drawLine(0, 1, self.width(), 1)
            h = self.height()
            x = 36
            if self.num:
                chip = QRectF(x, (h - 64) / 2, 64, 64)
                q.setPen(Qt.PenStyle.NoPen)
                q.setBrush(QColor(ACCENT))
                q.drawRoundedRect(chip, 16, 16)
                q.setPen(QColor("white"))
                f = QFont(FONT, 26)
                f.setWeight(QFont.Weight.Bold)
                q.setFont(f)
                q.drawText(chip, Qt.AlignmentFlag.AlignCenter, self.num)
                x += 64 + 28
            # title line: English — Spanish
            ft = QFont(FONT, 20)
            ft.setWeight(QFont.Weight.Bold)
            q.setFont(ft)
            q.setPen(QColor("#ffffff"))
            y0 = 14
            fm = q.fontMetrics()
            q.drawText(x, y0 + fm.ascent(), self.title)
            tx = x + fm.horizontalAdvance(self.title)
            if self.title_es:
                fs = QFont(FONT, 20)
                fs.setItalic(True)
                q.setFont(fs)
                q.setPen(QColor("#9aa5ce"))
                q.drawText(tx, y0 + fm.ascent(), f"  —  {self.title_es}")
            y1 = y0 + fm.height() + 6
            fe = QFont(FONT, 15)
            q.setFont(fe)
            q.setPen(QColor("#e6e9f2"))
            fm2 = q.fontMetrics()
            width = self.width() - x - 36
            q.drawText(
                x, y1 + fm2.ascent(), fm2.elidedText(self.en, Qt.TextElideMode.ElideRight, width)
            )
            fi = QFont(FONT, 14)
            fi.setItalic(True)
            q.setFont(fi)
            q.setPen(QColor("#8f9bc4"))
            fm3 = q.fontMetrics()
            y2 = y1 + fm2.height() + 3
            q.drawText(
                x, y2 + fm3.ascent(), fm3.elidedText(self.es, Qt.TextElideMode.ElideRight, width)
            )
            q.end()

    cap = Caption()
    cap.setGeometry(0, sh - args.caption_height, sw, args.caption_height)
    cap.show()

    tags: list[QLabel] = []

    class Card(QWidget):
        def __init__(self) -> None:
            super().__init__(None, flags)
            self.lines: list[str] = []
            self.heading = ""
            self.sub = ""

        def paintEvent(self, e: Any) -> None:
            q = QPainter(self)
            q.setRenderHint(QPainter.RenderHint.Antialiasing)
            g = QLinearGradient(0, 0, 0, self.height())
            g.setColorAt(0, QColor("#1d2333"))
            g.setColorAt(1, QColor("#11151f"))
            q.fillRect(self.rect(), g)
            w = self.width()
            size = min(140, w // 4)
            y = max(40, self.height() // 2 - 60 - 26 * len(self.lines) - size)
            paint_logo(q, QRectF((w - size) / 2, y, size, size).toRect())
            y += size + 30
            f = QFont(FONT, 40)
            f.setWeight(QFont.Weight.Bold)
            q.setFont(f)
            q.setPen(QColor("white"))
            fm = q.fontMetrics()
            q.drawText(QRectF(0, y, w, fm.height()), Qt.AlignmentFlag.AlignHCenter, self.heading)
            y += fm.height() + 8
            fs = QFont(FONT, 16)
            q.setFont(fs)
            q.setPen(QColor("#aab3d6"))
            fm = q.fontMetrics()
            for part in self.sub.split("\n"):
                q.drawText(QRectF(0, y, w, fm.height()), Qt.AlignmentFlag.AlignHCenter, part)
                y += fm.height() + 2
            y += 26
            fl = QFont(FONT, 14)
            q.setFont(fl)
            fm = q.fontMetrics()
            widest = max((fm.horizontalAdvance(s) for s in self.lines), default=0)
            lx = (w - widest) / 2
            for line in self.lines:
                q.setPen(QColor("#dfe4f5") if not line.startswith("  ") else QColor("#8f9bc4"))
                q.drawText(int(lx), int(y + fm.ascent()), line)
                y += fm.height() + 8
            q.end()

    card = Card()

    # ------------------------------------------------------------------ commands

    def caption(
        num: str = "", title: str = "", title_es: str = "", en: str = "", es: str = ""
    ) -> bool:
        cap.num, cap.title, cap.title_es, cap.en, cap.es = num, title, title_es, en, es
        cap.update()
        cap.raise_()
        return True

    def tag(
        slot: int, text: str, x: int, w: int, color: str = "#2a3142", fg: str = "#e6e9f2"
    ) -> bool:
        while len(tags) <= slot:
            lab = QLabel(None, flags)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            tags.append(lab)
        lab = tags[slot]
        f = QFont(FONT, 13)
        f.setWeight(QFont.Weight.DemiBold)
        lab.setFont(f)
        lab.setText(text)
        lab.setStyleSheet(
            f"background: {color}; color: {fg}; border-bottom: 2px solid {BG_BOTTOM};"
        )
        lab.setGeometry(x, 0, w, args.tag_height)
        lab.show()
        lab.raise_()
        return True

    def untag(slot: int) -> bool:
        if slot < len(tags):
            tags[slot].hide()
        return True

    def show_card(
        x: int, y: int, w: int, h: int, heading: str, sub: str = "", lines: list[str] | None = None
    ) -> bool:
        card.heading, card.sub, card.lines = heading, sub, list(lines or [])
        card.setGeometry(x, y, w, h)
        card.show()
        card.raise_()
        card.update()
        return True

    def hide_card() -> bool:
        card.hide()
        return True

    def raise_all() -> bool:
        cap.raise_()
        for lab in tags:
            if lab.isVisible():
                lab.raise_()
        if card.isVisible():
            card.raise_()
        return True

    def quit_() -> bool:
        app.quit()
        return True

    runner = CommandRunner(
        {
            "caption": caption,
            "tag": tag,
            "untag": untag,
            "card": show_card,
            "hide_card": hide_card,
            "raise": raise_all,
            "quit": quit_,
        }
    )
    rc = app.exec()
    del runner
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
