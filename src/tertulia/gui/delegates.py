"""Painting: message rows (grouped by author, day separators, the unread divider, own-message
state), room rows (unread and mention badges, presence) and member rows. Avatars are circles
with initials in a colour derived from the name.

One function computes a message row's geometry (:meth:`MessageDelegate.layout`) and the size
hint, painting and hit-testing (links, "Retry") all use it, so a row is exactly as tall as what
is drawn in it and what is clicked is what was drawn. Rows are laid out for the width of the
view's viewport, which is the width the view paints them at; the view lays them out again when
that width, its font, the language or the theme changes (:meth:`MessageView.refresh_layout`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from PySide6.QtCore import (
    QCoreApplication,
    QDate,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QTextDocument,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QFrame,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextBrowser,
    QWidget,
)

from tertulia.gui import theme as themes
from tertulia.gui.icons import paint_icon
from tertulia.gui.models import MessageModel, Role, format_time
from tertulia.gui.textfmt import avatar_color, initials, render_html

__all__ = ["MemberDelegate", "MessageDelegate", "RoomDelegate", "paint_avatar", "presence_dot"]

Index = QModelIndex | QPersistentModelIndex


def _tr(text: str) -> str:
    return QCoreApplication.translate("MessageView", text)


def scaled_font(font: QFont, factor: float) -> QFont:
    """``font`` at ``factor`` times its size (whether it is set in points or in pixels)."""
    f = QFont(font)
    if f.pointSizeF() > 0:
        f.setPointSizeF(f.pointSizeF() * factor)
    elif f.pixelSize() > 0:
        f.setPixelSize(max(1, round(f.pixelSize() * factor)))
    return f


def paint_avatar(
    p: QPainter, rect: QRect | QRectF, name: str, *, presence: str | None = None, ring: str = ""
) -> None:
    """A filled circle with the name's initials; optionally a presence dot."""
    t = themes.current()
    r = QRectF(rect)
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(avatar_color(name, dark=t.dark)))
    p.drawEllipse(r)
    f = QFont(p.font())
    f.setBold(True)
    f.setPixelSize(max(8, int(r.height() * 0.40)))
    p.setFont(f)
    p.setPen(QColor("#ffffff"))
    p.drawText(r, Qt.AlignmentFlag.AlignCenter, initials(name))
    if presence is not None:
        dot = presence_dot(r)
        p.setPen(QPen(QColor(ring or t.surface), 2))
        if presence == "unknown":
            # not connected: nobody's presence is known. A hollow ring, unlike any real state
            # (a filled dot), so nobody looks online when we cannot tell
            p.setBrush(QColor(ring or t.surface))
            p.drawEllipse(dot)
            inner = dot.adjusted(2.5, 2.5, -2.5, -2.5)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(t.offline), max(1.5, dot.width() * 0.16)))
            p.drawEllipse(inner)
        else:
            color = {"online": t.online, "away": t.away}.get(presence, t.offline)
            p.setBrush(QColor(color))
            p.drawEllipse(dot)
    p.restore()


def presence_dot(rect: QRect | QRectF) -> QRectF:
    """Where :func:`paint_avatar` draws the presence dot of an avatar in ``rect``."""
    r = QRectF(rect)
    d = max(8.0, r.width() * 0.34)
    return QRectF(r.right() - d + 1, r.bottom() - d + 1, d, d)


def day_label(iso: str) -> str:
    d = date.fromisoformat(iso)
    today = date.today()
    if d == today:
        return QCoreApplication.translate("MessageView", "Today")
    if d == today - timedelta(days=1):
        return QCoreApplication.translate("MessageView", "Yesterday")
    qd = QDate(d.year, d.month, d.day)
    fmt = "dddd, d MMMM" if d.year == today.year else "dddd, d MMMM yyyy"
    text = QLocale().toString(qd, fmt)
    return text[:1].upper() + text[1:]


@dataclass
class _Layout:
    top: int  # y of the message part (after separators)
    day: QRect | None
    divider: QRect | None
    avatar: QRect | None
    header: QRect | None
    text: QRect
    status: QRect | None  # failed line
    height: int


class MessageDelegate(QStyledItemDelegate):
    """Paints one timeline row. See the module docstring."""

    #: ``(msg_id, action)`` with action "retry" or "discard"
    actionClicked = Signal(str, str)

    PAD_X = 20
    AVATAR = 38
    GAP = 12
    RIGHT = 84

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._docs: OrderedDict[tuple[object, ...], QTextDocument] = OrderedDict()
        # text heights by the same keys: laying out a long timeline (every row's size hint,
        # after each insert) must not rebuild a document per row once the documents kept
        # (the visible ones matter) are fewer than the rows
        self._heights: OrderedDict[tuple[object, ...], float] = OrderedDict()
        self._row_heights: OrderedDict[tuple[object, ...], int] = OrderedDict()
        self.needle = ""
        self.me = ""

    # ------------------------------------------------------------------ geometry

    def text_x(self) -> int:
        return self.PAD_X + self.AVATAR + self.GAP

    def text_width(self, total: int) -> int:
        return max(120, total - self.text_x() - self.RIGHT)

    def event_width(self, total: int) -> int:
        """Event lines have no state column on the right: they may use its room."""
        return max(120, total - self.text_x() - self.PAD_X)

    def row_width(self, option: QStyleOptionViewItem) -> int:
        """The width rows are laid out for: the view's viewport, which is what :meth:`paint`
        gets (a row hinted wider than the viewport is still painted at the viewport's width)."""
        view = self.parent()
        if isinstance(view, QAbstractScrollArea) and view.viewport().width() > 0:
            return view.viewport().width()
        return option.rect.width() if option.rect.width() > 0 else 300

    def clear_cache(self) -> None:
        self._docs.clear()
        self._heights.clear()
        self._row_heights.clear()

    def _height(self, key: tuple[object, ...], make: Callable[[], QTextDocument]) -> float:
        h = self._heights.get(key)
        if h is None:
            h = make().size().height()
            self._heights[key] = h
            while len(self._heights) > 100_000:
                self._heights.popitem(last=False)
        return h

    def _doc_key(self, index: Index, width: int, font: QFont) -> tuple[object, ...]:
        t = themes.current()
        text = index.data(Role.Text) or ""
        kind = index.data(Role.MsgKind)
        state = index.data(Role.State) in ("pending", "sending")
        return (
            index.data(Role.Key),
            text,
            width,
            self.needle,
            t.name,
            font.toString(),
            kind,
            state,
        )

    def _event_key(self, index: Index, width: int, font: QFont) -> tuple[object, ...]:
        small = scaled_font(font, 0.92)
        return ("event", index.data(Role.Key), self.event_text(index), width, small.toString())

    def document(self, index: Index, width: int, font: QFont) -> QTextDocument:
        t = themes.current()
        text = index.data(Role.Text) or ""
        kind = index.data(Role.MsgKind)
        key = self._doc_key(index, width, font)
        doc = self._docs.get(key)
        if doc is not None:
            self._docs.move_to_end(key)
            return doc
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultFont(font)
        opt = QTextOption()
        opt.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        doc.setDefaultTextOption(opt)
        body = render_html(
            text,
            me=self.me,
            link_color=t.link,
            mention_style=f"background-color:{t.mention_bg};color:{t.link};font-weight:600",
            needle=self.needle,
            mark_style=f"background-color:{t.match_bg}",
        )
        color = t.muted if index.data(Role.State) in ("pending", "sending") else t.text
        if kind == "me":
            sender = index.data(Role.Sender) or ""
            body = f"<i><b>{sender}</b> {body}</i>"
        doc.setDefaultStyleSheet(f"body {{ color: {color}; }}")
        doc.setHtml(f"<body>{body}</body>")
        doc.setTextWidth(width)
        self._remember(key, doc)
        return doc

    def _remember(self, key: tuple[object, ...], doc: QTextDocument) -> None:
        self._docs[key] = doc
        while len(self._docs) > 3000:
            self._docs.popitem(last=False)

    @staticmethod
    def event_text(index: Index) -> str:
        if index.data(Role.Kind) == "gap":
            return f"⋯  {index.data(Qt.ItemDataRole.DisplayRole)}  ⋯"
        return f"→  {index.data(Role.Text)}   ·   {format_time(index.data(Role.Ts))}"

    def event_document(self, index: Index, width: int, font: QFont) -> QTextDocument:
        """An event line ("bob joined the room · 10:32"), wrapped to ``width`` like a message
        (a long topic change must not run off the row or be cut off)."""
        small = scaled_font(font, 0.92)
        text = self.event_text(index)  # the time follows the language: part of the key
        key = self._event_key(index, width, font)
        doc = self._docs.get(key)
        if doc is not None:
            self._docs.move_to_end(key)
            return doc
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultFont(small)
        opt = QTextOption()
        opt.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        doc.setDefaultTextOption(opt)
        doc.setPlainText(text)
        doc.setTextWidth(width)
        self._remember(key, doc)
        return doc

    def layout(self, option: QStyleOptionViewItem, index: Index) -> _Layout:
        font = option.font
        fm = QFontMetrics(font)
        rect = option.rect
        y = rect.top()
        day = divider = avatar = header = status = None
        if index.data(Role.DayStart):
            day = QRect(rect.left(), y, rect.width(), fm.height() + 26)
            y += day.height()
        if index.data(Role.UnreadDivider):
            divider = QRect(rect.left(), y, rect.width(), fm.height() + 10)
            y += divider.height()
        kind = index.data(Role.Kind)
        tx = rect.left() + self.text_x()
        tw = self.text_width(rect.width())
        if kind in ("event", "gap"):
            # the height counts from the row's top: a day separator or the unread divider
            # above the line is part of the row (an event can start a day, e.g. "bob joined"
            # before any message of the day)
            ew = self.event_width(rect.width())
            eh = self._height(
                self._event_key(index, ew, font), lambda: self.event_document(index, ew, font)
            )
            text = QRect(tx, y + 6, ew, max(fm.height(), math.ceil(eh)))
            height = text.bottom() + 6 - rect.top()
            return _Layout(y, day, divider, None, None, text, None, height)
        show_header = bool(index.data(Role.ShowHeader))
        top = y
        if show_header:
            y += 10
            avatar = QRect(rect.left() + self.PAD_X, y + 2, self.AVATAR, self.AVATAR)
            bold = QFont(font)
            bold.setBold(True)
            header = QRect(tx, y, tw, QFontMetrics(bold).height())
            y += header.height() + 2
        else:
            y += 2
        th = self._height(self._doc_key(index, tw, font), lambda: self.document(index, tw, font))
        text = QRect(tx, y, tw, int(th) + 1)
        y = text.bottom() + 1
        if index.data(Role.State) == "failed":
            status = QRect(tx, y + 2, tw, fm.height() + 4)
            y = status.bottom() + 1
        bottom = max(y, avatar.bottom() if avatar is not None else y)
        height = bottom - rect.top() + 4
        return _Layout(top, day, divider, avatar, header, text, status, height)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        # exactly the width paint() will get: a hint computed for another width (this used to
        # be at least 300 px) gives a height that does not match the painted row
        width = self.row_width(option)
        # the row's height depends on these alone (its text never changes: a row is replaced
        # when it does); kept so that laying out thousands of rows after each insert (a long
        # history, a gap being filled) does not lay out each row again
        model = index.model()
        if isinstance(model, MessageModel):  # the timeline: read the row, not role by role
            i = index.row()
            row = model.rows[i]
            key: tuple[object, ...] = (
                row.uid,
                width,
                option.font.toString(),
                model.day_start(i),
                model.divider_at(i),
                model.show_header(i),
                row.state == "failed",
            )
        else:
            key = (
                index.data(Role.Key),
                width,
                option.font.toString(),
                index.data(Role.DayStart),
                index.data(Role.UnreadDivider),
                index.data(Role.ShowHeader),
                index.data(Role.State) == "failed",
            )
        h = self._row_heights.get(key)
        if h is None:
            opt = QStyleOptionViewItem(option)  # paint() gets the view's option as it is
            opt.rect = QRect(0, 0, width, 100)
            h = self.layout(opt, index).height
            self._row_heights[key] = h
            while len(self._row_heights) > 100_000:
                self._row_heights.popitem(last=False)
        return QSize(width, h)

    # ------------------------------------------------------------------ painting

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        t = themes.current()
        lay = self.layout(option, index)
        rect = option.rect
        fm = QFontMetrics(option.font)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        msg_rect = QRect(rect.left(), lay.top, rect.width(), rect.bottom() - lay.top + 1)
        if lay.day is not None:
            self._paint_day(p, lay.day, index.data(Role.DayStart), option.font)
        if lay.divider is not None:
            self._paint_divider(p, lay.divider, option.font)
            msg_rect.setTop(lay.divider.bottom() + 1)
        match = index.data(Role.Match) or 0
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        selected = bool(option.state & QStyle.StateFlag.State_HasFocus) and bool(
            option.state & QStyle.StateFlag.State_Selected
        )
        bg = None
        if index.data(Role.Mention):
            bg = QColor(t.mention_bg)
        if match == 2:
            bg = QColor(t.match_bg)
            bg.setAlpha(110)
        elif hovered or selected:
            bg = bg or QColor(t.hover)
        if bg is not None:
            p.fillRect(msg_rect, bg)
        if index.data(Role.Mention):
            p.fillRect(
                QRect(msg_rect.left(), msg_rect.top(), 3, msg_rect.height()), QColor(t.mention_bar)
            )
        if selected:
            p.setPen(QPen(QColor(t.accent), 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(msg_rect.adjusted(1, 0, -2, -1))
        if index.data(Role.Kind) in ("event", "gap"):
            doc = self.event_document(index, lay.text.width(), option.font)
            dy = max(0.0, (lay.text.height() - doc.size().height()) / 2)
            p.translate(QPointF(lay.text.left(), lay.text.top() + dy))
            ctx = QAbstractTextDocumentLayout.PaintContext()
            ctx.palette.setColor(QPalette.ColorRole.Text, QColor(t.muted))
            doc.documentLayout().draw(p, ctx)
            p.restore()
            return
        sender = index.data(Role.Sender) or ""
        if lay.avatar is not None:
            paint_avatar(p, lay.avatar, sender)
        if lay.header is not None:
            bold = QFont(option.font)
            bold.setBold(True)
            p.setFont(bold)
            p.setPen(QColor(avatar_color(sender, dark=t.dark, text=True)))
            name_w = QFontMetrics(bold).horizontalAdvance(sender)
            p.drawText(
                lay.header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, sender
            )
            small = scaled_font(option.font, 0.85)
            p.setFont(small)
            p.setPen(QColor(t.muted))
            p.drawText(
                lay.header.adjusted(name_w + 8, 0, 0, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                format_time(index.data(Role.Ts)),
            )
        elif hovered:
            small = scaled_font(option.font, 0.78)
            p.setFont(small)
            p.setPen(QColor(t.muted))
            p.drawText(
                QRect(rect.left(), lay.text.top(), self.text_x() - 6, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                format_time(index.data(Role.Ts)),
            )
        doc = self.document(index, lay.text.width(), option.font)
        p.translate(lay.text.topLeft())
        ctx = QAbstractTextDocumentLayout.PaintContext()
        doc.documentLayout().draw(p, ctx)
        p.translate(-lay.text.topLeft())
        self._paint_state(p, option, index, lay)
        p.restore()

    def _paint_state(
        self, p: QPainter, option: QStyleOptionViewItem, index: Index, lay: _Layout
    ) -> None:
        t = themes.current()
        state = index.data(Role.State)
        if not state:
            return
        small = scaled_font(option.font, 0.82)
        p.setFont(small)
        fm = QFontMetrics(small)
        right = QRect(
            lay.text.right() + 8,
            lay.text.top(),
            self.RIGHT - 16,
            QFontMetrics(option.font).height(),
        )
        if state in ("pending", "sending"):
            p.setPen(QColor(t.muted))
            p.drawText(
                right,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                QCoreApplication.translate("MessageView", "sending…"),
            )
        elif state == "sent":
            p.setPen(QColor(t.success))
            p.drawText(
                right,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                "✓ " + QCoreApplication.translate("MessageView", "sent"),
            )
        elif state == "failed" and lay.status is not None:
            retry, discard = self.action_rects(option, index, lay)
            p.setPen(QColor(t.danger))
            reason = index.data(Role.Error) or ""
            label = QCoreApplication.translate("MessageView", "Not sent") + (
                f": {reason}" if reason else ""
            )
            avail = lay.status.width() - retry.width() - discard.width() - 24
            p.drawText(
                QRect(lay.status.left(), lay.status.top(), avail, lay.status.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                "⚠ " + fm.elidedText(label, Qt.TextElideMode.ElideRight, avail - 20),
            )
            bold = QFont(small)
            bold.setBold(True)
            p.setFont(bold)
            p.setPen(QColor(t.link))
            p.drawText(
                retry,
                Qt.AlignmentFlag.AlignCenter,
                QCoreApplication.translate("MessageView", "Retry"),
            )
            p.setPen(QColor(t.muted))
            p.drawText(
                discard,
                Qt.AlignmentFlag.AlignCenter,
                QCoreApplication.translate("MessageView", "Discard"),
            )

    def action_rects(
        self, option: QStyleOptionViewItem, index: Index, lay: _Layout | None = None
    ) -> tuple[QRect, QRect]:
        lay = lay or self.layout(option, index)
        assert lay.status is not None
        small = scaled_font(option.font, 0.82)
        small.setBold(True)
        fm = QFontMetrics(small)
        dw = fm.horizontalAdvance(QCoreApplication.translate("MessageView", "Discard")) + 12
        rw = fm.horizontalAdvance(QCoreApplication.translate("MessageView", "Retry")) + 12
        s = lay.status
        discard = QRect(s.right() - dw, s.top(), dw, s.height())
        retry = QRect(discard.left() - rw - 4, s.top(), rw, s.height())
        return retry, discard

    def _paint_day(self, p: QPainter, r: QRect, iso: str, font: QFont) -> None:
        t = themes.current()
        f = scaled_font(font, 0.85)
        f.setBold(True)
        p.setFont(f)
        fm = QFontMetrics(f)
        label = day_label(iso)
        w = fm.horizontalAdvance(label) + 28
        h = fm.height() + 8
        cy = r.center().y() + 2
        p.setPen(QPen(QColor(t.border), 1))
        p.drawLine(r.left() + self.PAD_X, cy, r.right() - self.PAD_X, cy)
        pill = QRectF(r.center().x() - w / 2, cy - h / 2, w, h)
        p.setBrush(QColor(t.surface))
        p.drawRoundedRect(pill, h / 2, h / 2)
        p.setPen(QColor(t.muted))
        p.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)

    def _paint_divider(self, p: QPainter, r: QRect, font: QFont) -> None:
        t = themes.current()
        f = scaled_font(font, 0.8)
        f.setBold(True)
        p.setFont(f)
        fm = QFontMetrics(f)
        label = QCoreApplication.translate("MessageView", "New messages")
        w = fm.horizontalAdvance(label) + 16
        cy = r.center().y()
        color = QColor(t.divider)
        p.setPen(QPen(color, 1))
        p.drawLine(r.left() + self.PAD_X, cy, r.right() - self.PAD_X - w - 4, cy)
        pill = QRectF(r.right() - self.PAD_X - w, cy - fm.height() / 2 - 2, w, fm.height() + 4)
        path = QPainterPath()
        path.addRoundedRect(pill, 4, 4)
        p.fillPath(path, color)
        p.setPen(QColor("#ffffff"))
        p.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)

    # ------------------------------------------------------------------ hit testing

    def anchor_at(self, option: QStyleOptionViewItem, index: Index, pos: QPoint) -> str:
        lay = self.layout(option, index)
        if not lay.text.contains(pos) or index.data(Role.Kind) != "message":
            return ""
        doc = self.document(index, lay.text.width(), option.font)
        return doc.documentLayout().anchorAt(QPointF(pos - lay.text.topLeft()))

    def action_at(self, option: QStyleOptionViewItem, index: Index, pos: QPoint) -> str:
        if index.data(Role.State) != "failed":
            return ""
        lay = self.layout(option, index)
        if lay.status is None:
            return ""
        retry, discard = self.action_rects(option, index, lay)
        if retry.contains(pos):
            return "retry"
        if discard.contains(pos):
            return "discard"
        return ""

    def text_rect(self, option: QStyleOptionViewItem, index: Index) -> QRect:
        return self.layout(option, index).text

    # ------------------------------------------------------------------ selection overlay

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        ed = SelectableText(parent)
        return ed

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        if isinstance(editor, SelectableText):
            view = self.parent()
            font = view.font() if isinstance(view, QWidget) else editor.font()
            width = (
                self.text_width(view.viewport().width())
                if isinstance(view, QAbstractScrollArea)
                else 300
            )
            editor.setFont(font)
            editor.setDocument(self.document(index, width, font).clone(editor))

    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: Index
    ) -> None:
        r = self.layout(option, index).text
        editor.setGeometry(r.adjusted(0, 0, 0, 2))

    def setModelData(self, editor: QWidget, model: object, index: Index) -> None:
        pass  # read-only


class SelectableText(QTextBrowser):
    """The read-only overlay that makes a message's text selectable (and its links work)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setOpenExternalLinks(True)
        self.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.setStyleSheet("QTextBrowser { background: transparent; border: none; }")
        self.viewport().setAutoFillBackground(False)
        self.setContentsMargins(0, 0, 0, 0)
        self.setViewportMargins(0, 0, 0, 0)


# --------------------------------------------------------------------------- rooms


class RoomDelegate(QStyledItemDelegate):
    """A sidebar row: section header, or room with icon/avatar, name and badges."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        fm = QFontMetrics(option.font)
        if index.data(Role.Kind) == "header":
            return QSize(200, fm.height() + 22)
        return QSize(200, fm.height() + 14)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        t = themes.current()
        r = option.rect
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if index.data(Role.Kind) == "header":
            f = scaled_font(option.font, 0.8)
            f.setBold(True)
            f.setCapitalization(QFont.Capitalization.AllUppercase)
            f.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 106)
            p.setFont(f)
            p.setPen(QColor(t.sidebar_muted))
            p.drawText(
                r.adjusted(18, 8, -8, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                index.data(Qt.ItemDataRole.DisplayRole),
            )
            p.restore()
            return
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        box = QRectF(r.adjusted(8, 1, -8, -1))
        if selected or hovered:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(t.sidebar_selected if selected else t.sidebar_hover))
            p.drawRoundedRect(box, 7, 7)
        unread = int(index.data(Role.Unread) or 0)
        loud = int(index.data(Role.Mentions) or 0)
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        fm = QFontMetrics(option.font)
        x = int(box.left()) + 10
        cy = r.center().y()
        if index.data(Role.IsDm):
            s = fm.height() + 2
            paint_avatar(
                p,
                QRect(x, cy - s // 2, s, s),
                name,
                presence=index.data(Role.Presence),
                ring=t.sidebar_selected if selected else t.sidebar,
            )
            x += s + 10
        else:
            color = t.sidebar_selected_text if selected else t.sidebar_muted
            name_icon = "lock" if index.data(Role.Visibility) == "private" else "hash"
            size = fm.height() * 0.8
            paint_icon(p, name_icon, QRectF(x + 1, cy - size / 2, size, size), color, 2.0)
            x += 26
        # badge
        badge_w = 0
        if unread or loud:
            f = scaled_font(option.font, 0.8)
            f.setBold(True)
            p.setFont(f)
            bfm = QFontMetrics(f)
            count = loud if loud else unread
            text = str(count) if count < 100 else "99+"
            if loud:
                text = ("@ " if not index.data(Role.IsDm) else "") + text
            bw = max(bfm.height() + 4, bfm.horizontalAdvance(text) + 12)
            bh = bfm.height() + 2
            badge = QRectF(box.right() - 8 - bw, cy - bh / 2, bw, bh)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(t.divider if loud else t.badge))
            p.drawRoundedRect(badge, bh / 2, bh / 2)
            p.setPen(QColor(t.badge_text))
            p.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
            badge_w = bw + 12
        f = QFont(option.font)
        f.setBold(bool(unread) or selected)
        p.setFont(f)
        color = (
            t.sidebar_selected_text if selected else (t.sidebar_text if unread else t.sidebar_muted)
        )
        p.setPen(QColor(color))
        text_rect = QRect(x, r.top(), int(box.right()) - x - badge_w - 6, r.height())
        p.drawText(
            text_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(f).elidedText(name, Qt.TextElideMode.ElideRight, text_rect.width()),
        )
        p.restore()


class MemberDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(180, QFontMetrics(option.font).height() + 18)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        t = themes.current()
        r = option.rect
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if option.state & QStyle.StateFlag.State_MouseOver:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(t.hover))
            p.drawRoundedRect(QRectF(r.adjusted(6, 1, -6, -1)), 6, 6)
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        presence = index.data(Role.Presence)
        s = r.height() - 10
        paint_avatar(
            p, QRect(r.left() + 14, r.top() + 5, s, s), name, presence=presence, ring=t.surface_alt
        )
        p.setFont(option.font)
        p.setPen(QColor(t.text if presence in ("online", "away") else t.muted))
        p.drawText(
            r.adjusted(14 + s + 10, 0, -8, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            name,
        )
        p.restore()
