"""The main window's building blocks: message view, composer, connection banner, header bits.

None of these knows about the network; they show models and emit signals.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QPointF,
    QRectF,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QGridLayout,
    QLabel,
    QListView,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStyleOptionViewItem,
    QWidget,
)

from tertulia.client import ConnectionStateChanged, ConnState
from tertulia.gui import theme as themes
from tertulia.gui.delegates import MessageDelegate, SelectableText, paint_avatar
from tertulia.gui.i18n import describe_error
from tertulia.gui.icons import paint_icon
from tertulia.gui.models import MessageModel, Role, presence_label
from tertulia.gui.textfmt import EMOJI

__all__ = [
    "Avatar",
    "Composer",
    "ConnectionBanner",
    "ElidedLabel",
    "MessageView",
    "Toast",
    "TypingLabel",
]

#: the banner stays hidden for blips shorter than this (ms)
BANNER_DELAY_MS = 1500


class MessageView(QListView):
    """The timeline: a list view (one accessible item per message) with a custom delegate.

    Keeps the bottom in view while new messages arrive (if it was there), keeps the position
    when older history is inserted above, asks for more history near the top and for the
    missing messages of a gap that comes near the screen, and turns a press on a message's
    text into a selectable overlay (so text can be selected and copied).
    """

    nearTop = Signal()
    atBottomChanged = Signal(bool)
    actionClicked = Signal(str, str)  # msg_id, "retry" | "discard"
    gapVisible = Signal(int)  # the seq the gap follows

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MessageView")
        self.setAccessibleName(QCoreApplication.translate("MessageView", "Messages"))
        self.delegate = MessageDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setWordWrap(True)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.verticalScrollBar().setSingleStep(24)
        self._stick = True
        self._anchor: int | None = None
        self._overlay: QModelIndex | None = None
        self._forwarding = False
        self._gap_check = QTimer(self, singleShot=True, interval=0)
        self._gap_check.timeout.connect(self._check_gaps)
        sb = self.verticalScrollBar()
        sb.rangeChanged.connect(self._range_changed)
        sb.valueChanged.connect(self._value_changed)

    # ------------------------------------------------------------------ model

    def set_room_model(self, model: MessageModel | None) -> None:
        self._close_overlay()
        old = self.model()
        if isinstance(old, MessageModel):
            old.rowsAboutToBeInserted.disconnect(self._about_to_insert)
            old.rowsInserted.disconnect(self._gap_check.start)
        self.setModel(model)
        if model is not None:
            model.rowsAboutToBeInserted.connect(self._about_to_insert)
            model.rowsInserted.connect(self._gap_check.start)
        self._stick = True
        self.scroll_to_end()
        self._gap_check.start()

    def _check_gaps(self) -> None:
        """Ask for the messages of every gap within a screen of the visible part."""
        model = self.model()
        if not isinstance(model, MessageModel) or not model.gaps():
            return
        self.executeDelayedItemsLayout()
        vp = self.viewport().rect()
        near = vp.adjusted(0, -vp.height(), 0, vp.height())
        for after, _before in model.gaps():
            row = model.row_of_gap(after)
            if row is not None and self.visualRect(model.index(row)).intersects(near):
                self.gapVisible.emit(after)

    def _about_to_insert(self, parent: QModelIndex, first: int, last: int) -> None:
        model = self.model()
        if model is not None and first == 0 and model.rowCount() > 0 and not self._stick:
            sb = self.verticalScrollBar()
            self._anchor = sb.maximum() - sb.value()

    def _range_changed(self, lo: int, hi: int) -> None:
        sb = self.verticalScrollBar()
        if self._stick:
            sb.setValue(hi)
        elif self._anchor is not None:
            sb.setValue(hi - self._anchor)
            self._anchor = None

    def _value_changed(self, value: int) -> None:
        self._gap_check.start()
        sb = self.verticalScrollBar()
        stick = value >= sb.maximum() - 8
        if stick != self._stick:
            self._stick = stick
            self.atBottomChanged.emit(stick)
        if value <= 40 and sb.maximum() > 0:
            self.nearTop.emit()

    def at_bottom(self) -> bool:
        return self._stick

    def scroll_to_end(self) -> None:
        self._stick = True
        self.scrollToBottom()
        QTimer.singleShot(0, self._finish_scroll)

    def _finish_scroll(self) -> None:
        if self._stick:
            sb = self.verticalScrollBar()
            sb.setValue(sb.maximum())

    def scroll_to_row(self, row: int, *, center: bool = False) -> None:
        model = self.model()
        if model is None or not 0 <= row < model.rowCount():
            return
        self._stick = False
        idx = model.index(row, 0)
        hint = (
            QAbstractItemView.ScrollHint.PositionAtCenter
            if center
            else QAbstractItemView.ScrollHint.PositionAtTop
        )
        self.scrollTo(idx, hint)
        self.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def refresh_layout(self) -> None:
        """Lay every row out again: their heights depend on the width, the font, the language
        (times, day names) and the theme."""
        self.delegate.clear_cache()
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def resizeEvent(self, e: QResizeEvent) -> None:
        super().resizeEvent(e)
        if self._stick:
            QTimer.singleShot(0, self._finish_scroll)
        self._gap_check.start()

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        # whoever changes the font (zoom), the language or the style (theme), the rows' size
        # hints change with it: never leave rows at heights measured for the old one
        if e.type() in (
            QEvent.Type.FontChange,
            QEvent.Type.LanguageChange,
            QEvent.Type.StyleChange,
        ):
            self.refresh_layout()

    # ------------------------------------------------------------------ mouse

    def _option_for(self, index: QModelIndex) -> QStyleOptionViewItem:
        opt = QStyleOptionViewItem()
        self.initViewItemOption(opt)
        opt.rect = self.visualRect(index)
        opt.font = self.font()
        return opt

    def mousePressEvent(self, e: QMouseEvent) -> None:
        pos = e.position().toPoint()
        index = self.indexAt(pos)
        if index.isValid() and e.button() == Qt.MouseButton.LeftButton:
            opt = self._option_for(index)
            action = self.delegate.action_at(opt, index, pos)
            if action:
                self.actionClicked.emit(index.data(Role.MsgId), action)
                return
            if index.data(Role.Kind) == "message" and self.delegate.text_rect(opt, index).contains(
                pos
            ):
                self.setCurrentIndex(index)
                editor = self._open_overlay(index)
                if editor is not None:
                    self._forwarding = True
                    self._forward(e, editor)
                    return
        self._close_overlay()
        super().mousePressEvent(e)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        editor = self._overlay_widget()
        if self._forwarding and editor is not None:
            self._forward(e, editor)
            return
        pos = e.position().toPoint()
        index = self.indexAt(pos)
        cursor = Qt.CursorShape.ArrowCursor
        if index.isValid():
            opt = self._option_for(index)
            if self.delegate.anchor_at(opt, index, pos) or self.delegate.action_at(opt, index, pos):
                cursor = Qt.CursorShape.PointingHandCursor
            elif index.data(Role.Kind) == "message" and self.delegate.text_rect(
                opt, index
            ).contains(pos):
                cursor = Qt.CursorShape.IBeamCursor
        self.viewport().setCursor(cursor)
        super().mouseMoveEvent(e)

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        editor = self._overlay_widget()
        if self._forwarding and editor is not None:
            self._forwarding = False
            self._forward(e, editor)
            return
        super().mouseReleaseEvent(e)

    def mouseDoubleClickEvent(self, e: QMouseEvent) -> None:
        editor = self._overlay_widget()
        if editor is not None and editor.geometry().contains(e.position().toPoint()):
            self._forward(e, editor)
            return
        super().mouseDoubleClickEvent(e)

    def _forward(self, e: QMouseEvent, editor: SelectableText) -> None:
        local = QPointF(editor.viewport().mapFrom(self.viewport(), e.position().toPoint()))
        ev = QMouseEvent(
            e.type(), local, e.globalPosition(), e.button(), e.buttons(), e.modifiers()
        )
        QApplication.sendEvent(editor.viewport(), ev)

    def _open_overlay(self, index: QModelIndex) -> SelectableText | None:
        if self._overlay is not None and self._overlay == index:
            return self._overlay_widget()
        self._close_overlay()
        self.openPersistentEditor(index)
        self._overlay = QModelIndex(index)
        return self._overlay_widget()

    def _overlay_widget(self) -> SelectableText | None:
        if self._overlay is None or not self._overlay.isValid():
            return None
        w = self.indexWidget(self._overlay)
        return w if isinstance(w, SelectableText) else None

    def _close_overlay(self) -> None:
        if self._overlay is not None:
            if self._overlay.isValid() and self.isPersistentEditorOpen(self._overlay):
                self.closePersistentEditor(self._overlay)
            self._overlay = None
        self._forwarding = False

    def selected_text(self) -> str:
        w = self._overlay_widget()
        if w is not None and w.textCursor().hasSelection():
            return w.textCursor().selectedText().replace("\u2029", "\n")
        idx = self.currentIndex()
        return str(idx.data(Role.Text) or "") if idx.isValid() else ""

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.matches(QKeySequence.StandardKey.Copy):
            text = self.selected_text()
            if text:
                QGuiApplication.clipboard().setText(text)
            return
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            idx = self.currentIndex()
            if idx.isValid() and idx.data(Role.State) == "failed":
                self.actionClicked.emit(idx.data(Role.MsgId), "retry")
                return
        super().keyPressEvent(e)

    def _menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid() or index.data(Role.Kind) != "message":
            return
        menu = QMenu(self)
        opt = self._option_for(index)
        link = self.delegate.anchor_at(opt, index, pos)
        selected = self.selected_text() if self._overlay == index else ""
        if selected and selected != index.data(Role.Text):
            menu.addAction(
                QCoreApplication.translate("MessageView", "Copy selection")
            ).triggered.connect(lambda: QGuiApplication.clipboard().setText(selected))
        menu.addAction(QCoreApplication.translate("MessageView", "Copy text")).triggered.connect(
            lambda: QGuiApplication.clipboard().setText(str(index.data(Role.Text)))
        )
        if link:
            menu.addAction(
                QCoreApplication.translate("MessageView", "Open link")
            ).triggered.connect(lambda: QDesktopServices.openUrl(QUrl(link)))
            menu.addAction(
                QCoreApplication.translate("MessageView", "Copy link")
            ).triggered.connect(lambda: QGuiApplication.clipboard().setText(link))
        if index.data(Role.State) == "failed":
            mid = index.data(Role.MsgId)
            menu.addSeparator()
            menu.addAction(QCoreApplication.translate("MessageView", "Retry")).triggered.connect(
                lambda: self.actionClicked.emit(mid, "retry")
            )
            menu.addAction(QCoreApplication.translate("MessageView", "Discard")).triggered.connect(
                lambda: self.actionClicked.emit(mid, "discard")
            )
        menu.popup(self.viewport().mapToGlobal(pos))


class Composer(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line; grows with its text up to a few lines.

    ``:shortcode:`` turns into its emoji as soon as the closing colon is typed.
    """

    submitted = Signal(str)
    typing = Signal()

    MAX_LINES = 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.document().setDocumentMargin(4)
        self.textChanged.connect(self._changed)
        self._adjusting = False
        self._fit()

    def set_placeholder(self, text: str) -> None:
        """Set the hint shown while empty, and repaint it: ``setPlaceholderText`` alone only
        repaints when the hint appears or disappears, so a composer that was already empty
        (just sent ``/msg bob``) went on showing the previous room's hint."""
        if text != self.placeholderText():
            self.setPlaceholderText(text)
            self.viewport().update()

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if e.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            if (
                e.modifiers() == Qt.KeyboardModifier.NoModifier
                or e.modifiers() == Qt.KeyboardModifier.KeypadModifier
            ):
                text = self.toPlainText()
                if text.strip():
                    self.submitted.emit(text)
                return
        super().keyPressEvent(e)

    def _changed(self) -> None:
        if self._adjusting:
            return
        text = self.toPlainText()
        if text.strip():
            self.typing.emit()
        cur = self.textCursor()
        before = text[: cur.position()]
        mo = re.search(r":([a-z0-9_+-]{1,32}):$", before)
        if mo and mo.group(1) in EMOJI:
            self._adjusting = True
            cur.movePosition(cur.MoveOperation.Left, cur.MoveMode.KeepAnchor, len(mo.group(0)))
            cur.insertText(EMOJI[mo.group(1)])
            self._adjusting = False
        self._fit()

    def _fit(self) -> None:
        fm = QFontMetrics(self.font())
        lines = max(1, min(self.MAX_LINES, int(self.document().size().height())))
        h = lines * fm.lineSpacing() + 2 * int(self.document().documentMargin()) + 6
        self.setFixedHeight(h)

    def resizeEvent(self, e: QResizeEvent) -> None:
        super().resizeEvent(e)
        self._fit()

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        if e.type() == QEvent.Type.FontChange:
            self._fit()


class ConnectionBanner(QFrame):
    """Says honestly what the connection is doing, without flickering on short blips.

    Appears only when the connection has been down for :data:`BANNER_DELAY_MS`, then shows
    "Reconnecting in N s… [Retry now]" (counting down) or "Connecting…"; once connected again
    it shows "Connected" briefly and hides. A client that gave up (wrong password, changed
    certificate) shows the reason at once, with a button to log in again.
    """

    retryClicked = Signal()
    loginClicked = Signal()

    #: below this many average characters beside the button, the button goes under the text
    MIN_LABEL_CHARS = 16

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.setAccessibleName(QCoreApplication.translate("Banner", "Connection status"))
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(16, 7, 12, 7)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(6)
        self.icon = QLabel("", self)
        self.label = QLabel(self)
        self.label.setWordWrap(True)  # never cut off: a narrow window gets more lines
        self.button = QPushButton(self)
        self.button.setObjectName("BannerButton")
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.button.clicked.connect(self._clicked)
        self._grid.addWidget(self.icon, 0, 0)
        self._grid.addWidget(self.label, 0, 1)
        self._grid.setColumnStretch(1, 1)
        self._stacked: bool | None = None
        self._place_button()
        self.hide()
        self._state = ConnState.CONNECTED
        self._deadline: float | None = None
        self._error = ""
        self._appear = QTimer(self, singleShot=True, interval=BANNER_DELAY_MS)
        self._appear.timeout.connect(self._show_now)
        self._tick = QTimer(self, interval=250)
        self._tick.timeout.connect(self._render)
        self._hide = QTimer(self, singleShot=True, interval=1500)
        self._hide.timeout.connect(self.hide)
        self.down_since: float | None = None

    def is_up(self) -> bool:
        """Whether the banner is showing a state. Not :meth:`isVisible`: that is also false
        while the window is hidden (in the tray, on another desktop...), and the banner must
        follow the connection then too, or it shows a stale state when the window comes back."""
        return not self.isHidden()

    def set_state(self, ev: ConnectionStateChanged) -> None:
        self._state = ev.state
        if ev.state is ConnState.CONNECTED:
            self._appear.stop()
            self._tick.stop()
            self.down_since = None
            if self.is_up() and self.property("severity") != "ok":
                self._set_severity("ok")
                self._render()
                self._hide.start()
            return
        self._hide.stop()
        if self.down_since is None:
            self.down_since = time.monotonic()
        self._deadline = (
            time.monotonic() + ev.retry_in
            if ev.state is ConnState.RECONNECTING and ev.retry_in is not None
            else None
        )
        if ev.state is ConnState.OFFLINE:
            self._error = describe_error(ev.error) if ev.error is not None else ""
            self._set_severity("error")
            self._show_now()
            return
        self._set_severity("warning")
        if self.is_up():
            self._render()
        elif not self._appear.isActive():
            self._appear.start()

    def _set_severity(self, value: str) -> None:
        self.setProperty("severity", value)
        self.style().unpolish(self)
        self.style().polish(self)
        for w in (self.label, self.icon, self.button):
            w.style().unpolish(w)
            w.style().polish(w)

    def _show_now(self) -> None:
        self._render()
        self.show()
        if self._state is not ConnState.OFFLINE:
            self._tick.start()

    def _render(self) -> None:
        self.button.show()
        if self._state is ConnState.CONNECTED:
            self.icon.setText("✓")
            self.label.setText(QCoreApplication.translate("Banner", "Connected"))
            self.button.hide()
        elif self._state is ConnState.OFFLINE:
            self.icon.setText("⛔")
            text = QCoreApplication.translate("Banner", "Disconnected.")
            self.label.setText(f"{text} {self._error}".strip())
            self.button.setText(QCoreApplication.translate("Banner", "Log in again"))
        elif self._state is ConnState.RECONNECTING and self._deadline is not None:
            left = max(0, math.ceil(self._deadline - time.monotonic() - 0.05))
            self.icon.setText("⟳")
            if left > 0:
                # a no-break space keeps the number with its unit when the text wraps
                self.label.setText(
                    QCoreApplication.translate("Banner", "Connection lost. Reconnecting in %1 s…")
                    .replace("%1 ", "%1\u00a0")
                    .replace("%1", str(left))
                )
            else:
                self.label.setText(
                    QCoreApplication.translate("Banner", "Connection lost. Reconnecting…")
                )
            self.button.setText(QCoreApplication.translate("Banner", "Retry now"))
        else:
            self.icon.setText("⟳")
            self.label.setText(QCoreApplication.translate("Banner", "Connection lost. Connecting…"))
            self.button.setText(QCoreApplication.translate("Banner", "Retry now"))
        self._place_button()

    def _place_button(self) -> None:
        """Beside the text, or under it when that would leave the text too little room (a
        narrow window, a long translation): the button is never squeezed or cut off."""
        m = self._grid.contentsMargins()
        gap = self._grid.horizontalSpacing()
        room = (
            self.width()
            - m.left()
            - m.right()
            - self.icon.sizeHint().width()
            - self.button.sizeHint().width()
            - 2 * gap
        )
        stacked = room < self.label.fontMetrics().averageCharWidth() * self.MIN_LABEL_CHARS
        if stacked == self._stacked:
            return
        self._stacked = stacked
        self._grid.removeWidget(self.button)
        if stacked:
            self._grid.addWidget(self.button, 1, 1, Qt.AlignmentFlag.AlignLeft)
        else:
            self._grid.addWidget(self.button, 0, 2, Qt.AlignmentFlag.AlignVCenter)

    def resizeEvent(self, e: QResizeEvent) -> None:
        super().resizeEvent(e)
        self._place_button()

    def _clicked(self) -> None:
        if self._state is ConnState.OFFLINE:
            self.loginClicked.emit()
        else:
            self.retryClicked.emit()

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        if e.type() == QEvent.Type.LanguageChange and self.is_up():
            self._render()


class ElidedLabel(QLabel):
    """A one-line label that fits the room it gets instead of demanding room for its text.

    A plain :class:`QLabel` asks its layout for the whole width of its text: a long text (a
    translation, a topic, a name) then makes the window wider than it is and gets cut off at an
    arbitrary place. This one shrinks to a few characters, draws its text elided with "…" to
    its current width, and then shows the whole text as its tooltip. :meth:`text` is always the
    whole text (screen readers read it too). ``clicked`` is emitted on a left click.
    """

    clicked = Signal()

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._tip = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_tip()

    def setToolTip(self, tip: str) -> None:
        """A tooltip shown when the text is not elided (when it is, the whole text is)."""
        self._tip = tip
        self._update_tip()

    def elided_text(self) -> str:
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, max(0, self.contentsRect().width())
        )

    def is_elided(self) -> bool:
        return self.elided_text() != self.text()

    def _update_tip(self) -> None:
        super().setToolTip(self.text() if self.is_elided() else self._tip)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        m = self.contentsMargins()
        few = self.fontMetrics().horizontalAdvance("Mmm…") + m.left() + m.right()
        return QSize(min(hint.width(), few), hint.height())

    def paintEvent(self, e: QPaintEvent) -> None:
        p = QPainter(self)
        self.drawFrame(p)
        self.style().drawItemText(
            p,
            self.contentsRect(),
            int(self.alignment()),
            self.palette(),
            self.isEnabled(),
            self.elided_text(),
            self.foregroundRole(),
        )
        p.end()

    def resizeEvent(self, e: QResizeEvent) -> None:
        super().resizeEvent(e)
        self._update_tip()

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        if e.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._update_tip()

    def mousePressEvent(self, e: QMouseEvent) -> None:
        if e.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
            e.accept()
            return
        super().mousePressEvent(e)


class TypingLabel(ElidedLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("TypingLabel")
        self.setContentsMargins(22, 0, 0, 0)
        self.setFixedHeight(QFontMetrics(self.font()).height() + 6)
        self._users: list[str] = []

    def set_users(self, users: list[str]) -> None:
        self._users = users
        self._render()

    def _render(self) -> None:
        u = self._users
        if not u:
            text = ""
        elif len(u) == 1:
            text = QCoreApplication.translate("Typing", "%1 is typing…").replace("%1", u[0])
        elif len(u) == 2:
            text = (
                QCoreApplication.translate("Typing", "%1 and %2 are typing…")
                .replace("%1", u[0])
                .replace("%2", u[1])
            )
        else:
            text = QCoreApplication.translate("Typing", "Several people are typing…")
        self.setText(text)

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        if e.type() == QEvent.Type.LanguageChange:
            self._render()
        elif e.type() == QEvent.Type.FontChange:  # zoom: a height for the old font cuts it off
            self.setFixedHeight(QFontMetrics(self.font()).height() + 6)


class Avatar(QWidget):
    """A round avatar with initials (and an optional presence dot) as a widget."""

    def __init__(self, name: str = "", size: int = 32, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.presence: str | None = None
        self.ring = ""
        self.kind = "user"  # or "public" / "private": a room badge instead of initials
        self.setFixedSize(QSize(size, size))

    def set_name(self, name: str, presence: str | None = None) -> None:
        self.name = name
        self.presence = presence
        said = f"{name} — {presence_label(presence)}" if presence is not None else name
        self.setToolTip(said if name else "")
        self.setAccessibleName(said)
        self.update()

    def paintEvent(self, e: QEvent) -> None:
        p = QPainter(self)
        if self.kind != "user":
            t = themes.current()
            r = QRectF(self.rect().adjusted(0, 0, -1, -1))
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(t.accent_soft))
            p.drawRoundedRect(r, r.width() * 0.28, r.width() * 0.28)
            inner = r.adjusted(
                r.width() * 0.22, r.width() * 0.22, -r.width() * 0.22, -r.width() * 0.22
            )
            paint_icon(p, "lock" if self.kind == "private" else "hash", inner, t.accent, 2.2)
            p.end()
            return
        paint_avatar(
            p, self.rect().adjusted(0, 0, -1, -1), self.name, presence=self.presence, ring=self.ring
        )
        p.end()


class Toast(QLabel):
    """A short message floating over the bottom of its parent, for a few seconds."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.setStyleSheet(
            "background: rgba(30,32,40,235); color: white; border-radius: 8px; padding: 8px 14px;"
        )
        f = QFont(self.font())
        self.setFont(f)
        self.hide()
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.hide)

    def show_message(self, text: str, ms: int = 4000) -> None:
        self.setText(text)
        parent = self.parentWidget()
        assert parent is not None
        w = min(parent.width() - 40, max(260, self.fontMetrics().horizontalAdvance(text) + 40))
        self.setFixedWidth(w)
        self.adjustSize()
        self.move((parent.width() - w) // 2, parent.height() - self.height() - 16)
        self.raise_()
        self.show()
        self._timer.start(ms)


def make_action(
    parent: QWidget, shortcut: QKeySequence | QKeySequence.StandardKey | str, slot: Any
) -> QAction:
    act = QAction(parent)
    act.setShortcut(QKeySequence(shortcut))
    act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    act.triggered.connect(slot)
    parent.addAction(act)
    return act
