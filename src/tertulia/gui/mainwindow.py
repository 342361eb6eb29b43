"""The main window: sidebar (rooms, DMs, you), header, connection banner, timeline, composer,
member list. It shows the :class:`~tertulia.gui.store.ChatStore` and forwards user intent to
it; it never touches the network.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QCloseEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tertulia.client import ConnectionStateChanged, ConnState
from tertulia.gui import theme as themes
from tertulia.gui.delegates import MemberDelegate, RoomDelegate
from tertulia.gui.dialogs import (
    DmDialog,
    HelpDialog,
    JoinRoomDialog,
    RoomSwitcher,
    TopicDialog,
)
from tertulia.gui.icons import icon
from tertulia.gui.invitations import InvitationBar, PendingInvitations
from tertulia.gui.models import Role
from tertulia.gui.store import ChatStore
from tertulia.gui.textfmt import plural
from tertulia.gui.widgets import (
    Avatar,
    Composer,
    ConnectionBanner,
    ElidedLabel,
    MessageView,
    Toast,
    TypingLabel,
    make_action,
)

__all__ = ["MainWindow"]

SEARCH_MAX_PAGES = 30
#: the timeline keeps at least this width: in a narrower window the member list folds away
CENTER_MIN_WIDTH = 360


def tr(text: str, n: int = -1) -> str:
    return QCoreApplication.translate("MainWindow", text, None, n)


class MainWindow(QMainWindow):
    settingsRequested = Signal()
    logoutRequested = Signal()
    zoomChanged = Signal(int)

    def __init__(self, store: ChatStore, *, server: str, zoom: int = 0) -> None:
        super().__init__()
        self.store = store
        self.server = server
        self.zoom = zoom
        self.setObjectName("MainWindow")
        self.resize(1180, 760)
        self.setMinimumSize(720, 480)
        self._members_wanted = True  # the members button's choice
        self._members_fit: bool | None = None  # whether the window has room for the list
        self._syncing_members = False
        root = QWidget(self)
        self.setCentralWidget(root)
        h = QHBoxLayout(root)
        h.setContentsMargins(0, 0, 0, 0)
        h.setSpacing(0)
        self.sidebar = self._build_sidebar()
        h.addWidget(self.sidebar)
        h.addWidget(self._build_center(), 1)
        h.addWidget(self._build_members())
        self.members_panel.setVisible(True)
        self._connect_store()
        self._shortcuts()
        self._apply_zoom()
        self.refresh_theme()
        self._search_rows: list[int] = []
        self._search_pos = -1
        self.retranslate()
        self._search_rows = []
        self._search_pos = -1
        if store.current is not None:
            self._current_changed(store.current)
        self._rooms_changed()

    # ------------------------------------------------------------------ building

    def _build_sidebar(self) -> QWidget:
        side = QWidget(self)
        side.setObjectName("Sidebar")
        side.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        side.setFixedWidth(260)
        v = QVBoxLayout(side)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        top = QHBoxLayout()
        top.setContentsMargins(18, 16, 10, 10)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        self.side_title = QLabel("Tertulia", side)
        self.side_title.setObjectName("SidebarTitle")
        self.side_server = ElidedLabel(self.server, side)
        self.side_server.setObjectName("SidebarServer")
        titles.addWidget(self.side_title)
        titles.addWidget(self.side_server)
        top.addLayout(titles, 1)
        self.add_button = QToolButton(side)
        self.add_button.setObjectName("SidebarButton")
        self.add_button.setIconSize(QSize(18, 18))
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self.add_button)
        self.act_join = self.add_menu.addAction("")
        self.act_join.triggered.connect(self.open_join_dialog)
        self.act_dm = self.add_menu.addAction("")
        self.act_dm.triggered.connect(self.open_dm_dialog)
        self.add_button.setMenu(self.add_menu)
        top.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignTop)
        v.addLayout(top)
        self.room_view = QListView(side)
        self.room_view.setObjectName("RoomList")
        self.room_view.setModel(self.store.room_list)
        self.room_view.setItemDelegate(RoomDelegate(self.room_view))
        self.room_view.setMouseTracking(True)
        self.room_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.room_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.room_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.room_view.selectionModel().currentChanged.connect(self._room_clicked)
        v.addWidget(self.room_view, 1)
        me = QWidget(side)
        me.setObjectName("MeBar")
        me.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        mh = QHBoxLayout(me)
        mh.setContentsMargins(14, 10, 8, 10)
        self.me_avatar = Avatar(self.store.me, 34, me)
        mh.addWidget(self.me_avatar)
        mv = QVBoxLayout()
        mv.setSpacing(0)
        self.me_name = ElidedLabel(self.store.me, me)
        self.me_name.setObjectName("MeName")
        self.me_status = ElidedLabel("", me)
        self.me_status.setObjectName("MeStatus")
        mv.addWidget(self.me_name)
        mv.addWidget(self.me_status)
        mh.addLayout(mv, 1)
        self.settings_button = QToolButton(me)
        self.settings_button.setObjectName("SidebarButton")
        self.settings_button.setIconSize(QSize(18, 18))
        self.settings_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.me_menu = QMenu(self.settings_button)
        self.act_settings = self.me_menu.addAction("")
        self.act_settings.triggered.connect(self.settingsRequested)
        self.act_help = self.me_menu.addAction("")
        self.act_help.triggered.connect(self.show_help)
        self.me_menu.addSeparator()
        self.act_logout = self.me_menu.addAction("")
        self.act_logout.triggered.connect(self.logoutRequested)
        self.settings_button.setMenu(self.me_menu)
        mh.addWidget(self.settings_button)
        v.addWidget(me)
        return side

    def _build_center(self) -> QWidget:
        center = QWidget(self)
        v = QVBoxLayout(center)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        # header
        header = QWidget(center)
        header.setObjectName("Header")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        # as tall as its texts need (they grow with the zoom), 62 px at least
        header.setMinimumHeight(62)
        header.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.header = header
        hh = QHBoxLayout(header)
        hh.setContentsMargins(20, 8, 12, 8)
        hh.setSpacing(12)
        self.room_avatar = Avatar("", 34, header)
        hh.addWidget(self.room_avatar)
        tv = QVBoxLayout()
        tv.setSpacing(1)
        # elided to the room they get, with the whole text as tooltip: a long topic or name,
        # or a long translation, never pushes the header wider than the window
        self.room_title = ElidedLabel("", header)
        self.room_title.setObjectName("RoomTitle")
        self.room_topic = ElidedLabel("", header)
        self.room_topic.setObjectName("RoomTopic")
        self.room_topic.setCursor(Qt.CursorShape.PointingHandCursor)
        self.room_topic.clicked.connect(self.edit_topic)
        tv.addWidget(self.room_title)
        tv.addWidget(self.room_topic)
        hh.addLayout(tv, 1)
        self.search_button = QToolButton(header)
        self.search_button.setObjectName("HeaderButton")
        self.search_button.setIconSize(QSize(18, 18))
        self.search_button.clicked.connect(self.open_search)
        self.members_button = QToolButton(header)
        self.members_button.setObjectName("HeaderButton")
        self.members_button.setCheckable(True)
        self.members_button.setIconSize(QSize(18, 18))
        self.members_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.members_button.setChecked(True)
        self.members_button.toggled.connect(self._members_toggled)
        hh.addWidget(self.search_button)
        hh.addWidget(self.members_button)
        v.addWidget(header)
        # banner
        self.banner = ConnectionBanner(center)
        self.banner.retryClicked.connect(self.store.retry_now)
        self.banner.loginClicked.connect(self.logoutRequested)
        v.addWidget(self.banner)
        # pending invitations: nothing changes until the user accepts one
        self.invitations = PendingInvitations(self.store.bridge, self)
        self.invitations.failed.connect(self.store.notice)
        self.invitation_bar = InvitationBar(self.invitations, center)
        v.addWidget(self.invitation_bar)
        self.invitations.refresh()
        # search bar
        self.search_bar = QFrame(center)
        self.search_bar.setObjectName("SearchBar")
        self._search_grid = QGridLayout(self.search_bar)
        self._search_grid.setContentsMargins(16, 6, 12, 6)
        self._search_grid.setHorizontalSpacing(6)
        self._search_grid.setVerticalSpacing(6)
        self._search_older_below: bool | None = None
        self.search_edit = QLineEdit(self.search_bar)
        self.search_edit.setObjectName("searchEdit")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._search_changed)
        self.search_edit.returnPressed.connect(lambda: self._search_step(-1))
        self.search_count = QLabel(self.search_bar)
        self.search_prev = QToolButton(self.search_bar)
        self.search_prev.setText("▲")
        self.search_prev.clicked.connect(lambda: self._search_step(-1))
        self.search_next = QToolButton(self.search_bar)
        self.search_next.setText("▼")
        self.search_next.clicked.connect(lambda: self._search_step(1))
        self.search_older = QPushButton(self.search_bar)
        self.search_older.clicked.connect(self._search_older)
        self.search_close = QToolButton(self.search_bar)
        self.search_close.setText("✕")
        self.search_close.clicked.connect(self.close_search)
        for col, w in enumerate(
            (
                self.search_edit,
                self.search_count,
                self.search_prev,
                self.search_next,
                self.search_older,
                self.search_close,
            )
        ):
            self._search_grid.addWidget(w, 0, col)
        self._search_grid.setColumnStretch(0, 1)
        self.search_bar.hide()
        v.addWidget(self.search_bar)
        # timeline
        self.area = QWidget(center)
        av = QVBoxLayout(self.area)
        av.setContentsMargins(0, 0, 0, 0)
        self.view = MessageView(self.area)
        self.view.nearTop.connect(self._near_top)
        self.view.atBottomChanged.connect(self._at_bottom_changed)
        self.view.actionClicked.connect(self._message_action)
        self.view.gapVisible.connect(self._gap_visible)
        av.addWidget(self.view)
        self.empty = QLabel(self.area)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setObjectName("LoginSubtitle")
        self.empty.hide()
        av.addWidget(self.empty)
        self.jump_unread = QPushButton(self.area)
        self.jump_unread.setObjectName("JumpButton")
        self.jump_unread.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump_unread.clicked.connect(self.jump_to_first_unread)
        self.jump_unread.hide()
        self.jump_latest = QPushButton(self.area)
        self.jump_latest.setObjectName("JumpButton")
        self.jump_latest.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump_latest.clicked.connect(self.jump_to_latest)
        self.jump_latest.hide()
        self.toast = Toast(self.area)
        self.area.installEventFilter(self)
        self.search_bar.installEventFilter(self)
        v.addWidget(self.area, 1)
        self.typing_label = TypingLabel(center)
        v.addWidget(self.typing_label)
        # composer
        wrap = QWidget(center)
        wl = QHBoxLayout(wrap)
        wl.setContentsMargins(16, 0, 16, 14)
        self.composer_frame = QFrame(wrap)
        self.composer_frame.setObjectName("ComposerFrame")
        cl = QHBoxLayout(self.composer_frame)
        cl.setContentsMargins(10, 6, 6, 6)
        self.composer = Composer(self.composer_frame)
        self.composer.submitted.connect(self._submit)
        self.composer.typing.connect(lambda: self.store.user_typing(self.composer.toPlainText()))
        self.composer.installEventFilter(self)
        self.send_button = QToolButton(self.composer_frame)
        self.send_button.setObjectName("SendButton")
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send_button.setIconSize(QSize(18, 18))
        self.send_button.clicked.connect(lambda: self._submit(self.composer.toPlainText()))
        cl.addWidget(self.composer, 1)
        cl.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        wl.addWidget(self.composer_frame)
        v.addWidget(wrap)
        return center

    def _build_members(self) -> QWidget:
        panel = QWidget(self)
        panel.setObjectName("MemberPanel")
        panel.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        panel.setFixedWidth(230)
        v = QVBoxLayout(panel)
        v.setContentsMargins(0, 16, 0, 0)
        self.members_title = ElidedLabel("", panel)
        self.members_title.setObjectName("PanelTitle")
        self.members_title.setContentsMargins(18, 0, 0, 6)
        v.addWidget(self.members_title)
        self.member_view = QListView(panel)
        self.member_view.setObjectName("MemberList")
        self.member_view.setItemDelegate(MemberDelegate(self.member_view))
        self.member_view.setMouseTracking(True)
        self.member_view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.member_view.doubleClicked.connect(
            lambda idx: self.store.open_dm(str(idx.data())) if idx.data() != self.store.me else None
        )
        v.addWidget(self.member_view, 1)
        self.members_panel = panel
        return panel

    def _connect_store(self) -> None:
        s = self.store
        s.currentRoomChanged.connect(self._current_changed)
        s.roomUpdated.connect(self._room_updated)
        s.membersChanged.connect(self._room_updated)
        s.typingChanged.connect(self._typing_changed)
        s.connectionChanged.connect(self._connection_changed)
        s.sessionEnded.connect(lambda reason: None)
        s.notice.connect(lambda text: self.toast.show_message(text))
        s.messageAdded.connect(self._message_added)
        s.roomsChanged.connect(self._rooms_changed)
        s.helpRequested.connect(self.show_help)
        s.historyLoaded.connect(self._history_loaded)
        s.room_list.modelReset.connect(self._rooms_changed)

    def _shortcuts(self) -> None:
        make_action(self, "Ctrl+K", self.open_switcher)
        make_action(self, "Alt+Up", lambda: self.step_room(-1))
        make_action(self, "Alt+Down", lambda: self.step_room(1))
        make_action(self, QKeySequence.StandardKey.Find, self.open_search)
        make_action(self, QKeySequence.StandardKey.ZoomIn, lambda: self.set_zoom(self.zoom + 1))
        make_action(self, "Ctrl+=", lambda: self.set_zoom(self.zoom + 1))
        make_action(self, QKeySequence.StandardKey.ZoomOut, lambda: self.set_zoom(self.zoom - 1))
        make_action(self, "Ctrl+0", lambda: self.set_zoom(0))
        make_action(self, "Ctrl+,", self.settingsRequested)
        make_action(self, "F1", self.show_help)

    def refresh_theme(self) -> None:
        """Recolour the drawn icons and repaint the views (after a theme change)."""
        t = themes.current()
        self.add_button.setIcon(icon("plus", t.sidebar_text))
        self.settings_button.setIcon(icon("gear", t.sidebar_muted))
        self.search_button.setIcon(icon("search", t.muted))
        self.members_button.setIcon(icon("people", t.muted))
        self.send_button.setIcon(icon("send", t.accent_text))
        self.me_avatar.ring = t.sidebar
        self.view.refresh_layout()
        for w in (self.room_view, self.member_view):
            w.viewport().update()
        self.update()

    # ------------------------------------------------------------------ texts

    def retranslate(self) -> None:
        self.invitation_bar.update_text()
        self.act_join.setText(QCoreApplication.translate("MainWindow", "Join or create a room…"))
        self.act_dm.setText(QCoreApplication.translate("MainWindow", "Start a direct message…"))
        self.add_button.setToolTip(
            QCoreApplication.translate("MainWindow", "Join a room or start a direct message")
        )
        self.add_button.setAccessibleName(
            QCoreApplication.translate("MainWindow", "Join a room or start a direct message")
        )
        self.act_settings.setText(QCoreApplication.translate("MainWindow", "Settings…"))
        self.act_help.setText(QCoreApplication.translate("MainWindow", "Commands and shortcuts"))
        self.act_logout.setText(QCoreApplication.translate("MainWindow", "Log out"))
        self.settings_button.setToolTip(QCoreApplication.translate("MainWindow", "Settings"))
        self.settings_button.setAccessibleName(QCoreApplication.translate("MainWindow", "Settings"))
        self.search_button.setToolTip(QCoreApplication.translate("MainWindow", "Search (Ctrl+F)"))
        self.search_button.setAccessibleName(QCoreApplication.translate("MainWindow", "Search"))
        self.search_edit.setPlaceholderText(
            QCoreApplication.translate("MainWindow", "Search this room")
        )
        self.search_older.setText(QCoreApplication.translate("MainWindow", "Search older messages"))
        self._search_older_below = None
        self._place_search_older()
        self.send_button.setToolTip(QCoreApplication.translate("MainWindow", "Send"))
        self.send_button.setAccessibleName(QCoreApplication.translate("MainWindow", "Send"))
        self.room_view.setAccessibleName(QCoreApplication.translate("MainWindow", "Rooms"))
        self.member_view.setAccessibleName(QCoreApplication.translate("MainWindow", "Members"))
        self.composer.setAccessibleName(QCoreApplication.translate("MainWindow", "Message"))
        self.jump_latest.setText(QCoreApplication.translate("MainWindow", "Jump to latest ↓"))
        self.empty.setText(
            QCoreApplication.translate(
                "MainWindow",
                "You are not in any room yet.\nJoin or create one with + (or type /join name).",
            )
        )
        self._update_status()
        self._room_updated(self.store.current or "")
        self._update_jump_unread()
        self._search_changed(self.search_edit.text())

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        if e.type() == QEvent.Type.LanguageChange:
            self.retranslate()
            self.view.refresh_layout()
            self.room_view.viewport().update()
        elif e.type() == QEvent.Type.ActivationChange:
            self.store.set_window_active(self.isActiveWindow())

    # ------------------------------------------------------------------ rooms

    def _room_clicked(self, current: QModelIndex, _prev: QModelIndex) -> None:
        name = current.data(Role.RoomName) if current.isValid() else ""
        if name and name != self.store.current:
            self.store.select_room(name)

    def _rooms_changed(self) -> None:
        self._select_in_list(self.store.current)
        has = bool(self.store.rooms)
        self.view.setVisible(has)
        self.empty.setVisible(not has)

    def _select_in_list(self, name: str | None) -> None:
        row = self.store.room_list.row_of(name) if name else None
        sm = self.room_view.selectionModel()
        sm.blockSignals(True)
        if row is None:
            sm.clearSelection()
        else:
            idx = self.store.room_list.index(row)
            sm.setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.room_view.scrollTo(idx)
        sm.blockSignals(False)
        self.room_view.viewport().update()

    def _current_changed(self, name: str) -> None:
        st = self.store.room(name)
        self.close_search()
        self._select_in_list(name)
        self.view.delegate.me = self.store.me
        self.view.set_room_model(st.model if st is not None else None)
        self.member_view.setModel(st.members if st is not None else None)
        self._room_updated(name)
        self._typing_changed(name)
        self._rooms_changed()
        if st is not None and st.model.first_unread is not None:
            row = st.model.first_unread_row()
            if row is not None and row > 0:
                QTimer.singleShot(0, lambda: self._show_unread_position(row))
        QTimer.singleShot(0, self._update_jump_unread)
        self.composer.setFocus()

    def _show_unread_position(self, row: int) -> None:
        """Open a room with unread messages at its bottom unless the divider would be off
        screen, in which case the jump button offers it."""
        self._update_jump_unread()

    def _room_updated(self, name: str) -> None:
        if name != self.store.current:
            return
        st = self.store.room(name)
        if st is None:
            self.room_title.setText("")
            self.room_topic.setText("")
            self.members_button.setText("")
            self.composer.set_placeholder("")
            return
        self.room_title.setText(st.label)
        self.room_avatar.kind = "user" if st.is_dm else st.visibility
        self.room_avatar.set_name(
            st.label if st.is_dm else st.name,
            self.store.presence.get(st.peer or "", "offline") if st.is_dm else None,
        )
        topic = st.topic or (
            QCoreApplication.translate("MainWindow", "Direct message")
            if st.is_dm
            else QCoreApplication.translate("MainWindow", "No topic yet — click to set one")
        )
        self.room_topic.setText(topic)  # elided to the label's own width, whole as tooltip
        count = st.member_count or st.members.rowCount()
        self.members_button.setText(str(count))
        self.members_button.setToolTip(
            plural(
                count,
                QCoreApplication.translate("MainWindow", "%n member"),
                QCoreApplication.translate("MainWindow", "%n members"),
            )
        )
        self.members_button.setAccessibleName(
            plural(
                count,
                QCoreApplication.translate("MainWindow", "%n member"),
                QCoreApplication.translate("MainWindow", "%n members"),
            )
        )
        online = st.members.online_count()
        self.members_title.setText(
            QCoreApplication.translate("MainWindow", "MEMBERS · %1 ONLINE").replace(
                "%1", f"{online}/{count}"
            )
        )
        self.composer.set_placeholder(
            QCoreApplication.translate("MainWindow", "Message %1").replace(
                "%1", st.label if st.is_dm else f"#{st.name}"
            )
        )

    def step_room(self, delta: int) -> None:
        names = self.store.room_list.names()
        if not names:
            return
        cur = self.store.current
        i = names.index(cur) if cur in names else -1
        self.store.select_room(names[(i + delta) % len(names)])

    def open_switcher(self) -> None:
        items = []
        for name in self.store.room_list.names():
            st = self.store.room(name)
            if st is not None:
                items.append((name, f"@{st.label}" if st.is_dm else f"#{name}"))
        dlg = RoomSwitcher(items, self)
        dlg.chosen.connect(self.store.select_room)
        g = self.geometry()
        dlg.move(g.center().x() - 230, g.top() + 90)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        dlg.filter.setFocus()
        self.switcher = dlg

    def open_join_dialog(self) -> None:
        dlg = JoinRoomDialog(self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.joinRequested.connect(lambda n: self.store.join(n, create=False))
        dlg.createRequested.connect(self.store.create_room)

        def got(rooms: list[Any]) -> None:
            try:
                dlg.set_rooms(
                    [
                        (r.name, r.topic, r.member_count)
                        for r in rooms
                        if not r.joined and r.visibility == "public"
                    ]
                )
            except RuntimeError:
                pass  # closed meanwhile

        self.store.list_public_rooms(got)
        dlg.open()
        self.join_dialog = dlg

    def open_dm_dialog(self) -> None:
        users = sorted(
            {u for st in self.store.rooms.values() for u in (st.member_map or {})} - {self.store.me}
        )
        dlg = DmDialog(users, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.startRequested.connect(self.store.open_dm)
        dlg.open()
        self.dm_dialog = dlg

    def edit_topic(self) -> None:
        st = self.store.room(self.store.current)
        if st is None or st.is_dm:
            return
        dlg = TopicDialog(st.name, st.topic, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.topicChosen.connect(lambda t: self.store.set_topic(st.name, t))
        dlg.open()

    def show_help(self) -> None:
        dlg = HelpDialog(self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        self.help_dialog = dlg

    # ------------------------------------------------------------------ timeline

    def _near_top(self) -> None:
        if self.store.current is not None:
            self.store.load_older(self.store.current)

    def _gap_visible(self, after: int) -> None:
        if self.store.current is not None:
            self.store.fill_gap(self.store.current, after)

    def _history_loaded(self, room: str, n: int) -> None:
        if room == self.store.current:
            self._update_jump_unread()

    def _message_added(self, room: str, own: bool) -> None:
        if room != self.store.current:
            return
        if own:
            self.view.scroll_to_end()
        self._update_jump_unread()

    def _at_bottom_changed(self, at_bottom: bool) -> None:
        self.jump_latest.setVisible(not at_bottom)
        self._place_overlays()
        self._update_jump_unread()

    def _message_action(self, msg_id: str, action: str) -> None:
        room = self.store.current
        if room is None:
            return
        if action == "retry":
            self.store.retry(room, msg_id)
        else:
            self.store.discard(room, msg_id)

    def _update_jump_unread(self) -> None:
        st = self.store.room(self.store.current)
        show = False
        if st is not None and st.model.first_unread is not None:
            count = max(0, st.last_seq - st.model.first_unread + 1)
            row = st.model.first_unread_row()
            if row is None:
                show = count > 0  # not loaded yet: older than what is on screen
            else:
                rect = self.view.visualRect(st.model.index(row))
                show = rect.top() < 0
            self.jump_unread.setText(
                plural(
                    count,
                    QCoreApplication.translate("MainWindow", "↑ %n new message — jump"),
                    QCoreApplication.translate("MainWindow", "↑ %n new messages — jump"),
                )
            )
        self.jump_unread.setVisible(show)
        self._place_overlays()

    def jump_to_first_unread(self) -> None:
        """One click: the first unread message at the top of the timeline (fetched directly
        if it is not loaded, however far back it is)."""
        st = self.store.room(self.store.current)
        if st is None or st.model.first_unread is None:
            return
        room = st.name
        self.jump_unread.setEnabled(False)

        def go(row: int | None) -> None:
            self.jump_unread.setEnabled(True)
            if self.store.current != room:
                return
            if row is not None:
                self.view.scroll_to_row(row, center=False)
            self.jump_unread.hide()

        self.store.jump_to_first_unread(room, go)

    def jump_to_latest(self) -> None:
        self.view.scroll_to_end()
        self.jump_latest.hide()

    def _place_overlays(self) -> None:
        a = self.area
        self.jump_unread.adjustSize()
        self.jump_unread.move((a.width() - self.jump_unread.width()) // 2, 12)
        self.jump_unread.raise_()
        self.jump_latest.adjustSize()
        self.jump_latest.move(
            a.width() - self.jump_latest.width() - 24, a.height() - self.jump_latest.height() - 12
        )
        self.jump_latest.raise_()

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:
        if obj is self.area and e.type() == QEvent.Type.Resize:
            self._place_overlays()
        if obj is self.search_bar and e.type() == QEvent.Type.Resize:
            self._place_search_older()
        if obj is self.composer and e.type() in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
            self.composer_frame.setProperty("focused", e.type() == QEvent.Type.FocusIn)
            self.composer_frame.style().unpolish(self.composer_frame)
            self.composer_frame.style().polish(self.composer_frame)
        return super().eventFilter(obj, e)

    def resizeEvent(self, e: QResizeEvent) -> None:
        super().resizeEvent(e)
        self._fit_members_panel()

    def _members_toggled(self, on: bool) -> None:
        if not self._syncing_members:
            self._members_wanted = on
            self.members_panel.setVisible(on)

    def _fit_members_panel(self) -> None:
        """Fold the member list away while the window is too narrow for it and a usable
        timeline (a tiling window manager, half of a small screen), and bring it back when
        there is room again, unless it was closed with the members button."""
        room = self.width() - self.sidebar.minimumWidth() - self.members_panel.minimumWidth()
        fits = room >= CENTER_MIN_WIDTH
        if fits == self._members_fit:
            return
        self._members_fit = fits
        show = fits and self._members_wanted
        self.members_panel.setVisible(show)
        self._syncing_members = True
        self.members_button.setChecked(show)
        self._syncing_members = False

    # ------------------------------------------------------------------ composer

    def _submit(self, text: str) -> None:
        if self.store.submit(text):
            self.composer.clear()

    def _typing_changed(self, room: str) -> None:
        if room == self.store.current:
            self.typing_label.set_users(self.store.typing_users(room))

    # ------------------------------------------------------------------ connection

    def _connection_changed(self, ev: ConnectionStateChanged) -> None:
        self.banner.set_state(ev)
        if ev.state is ConnState.CONNECTED:
            self.invitations.refresh()  # invitations made while we were away
        self._update_status()

    def _update_status(self) -> None:
        state = self.store.state
        text = {
            ConnState.CONNECTED: QCoreApplication.translate("MainWindow", "Online"),
            ConnState.CONNECTING: QCoreApplication.translate("MainWindow", "Connecting…"),
            ConnState.RECONNECTING: QCoreApplication.translate("MainWindow", "Reconnecting…"),
            ConnState.OFFLINE: QCoreApplication.translate("MainWindow", "Offline"),
        }[state]
        self.me_status.setText(text)
        self.me_avatar.set_name(
            self.store.me, "online" if state is ConnState.CONNECTED else "offline"
        )
        self.me_name.setText(self.store.me)

    # ------------------------------------------------------------------ search

    def open_search(self) -> None:
        self.search_bar.show()
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def search_open(self) -> bool:
        """Whether the search bar is open (also while the window itself is hidden)."""
        return not self.search_bar.isHidden()

    def close_search(self) -> None:
        if not self.search_open():
            return
        self.search_bar.hide()
        self.search_edit.blockSignals(True)
        self.search_edit.clear()
        self.search_edit.blockSignals(False)
        self._apply_search("")
        self.composer.setFocus()

    def _search_changed(self, text: str) -> None:
        if self.search_open():
            self._apply_search(text)

    def _apply_search(self, text: str) -> None:
        st = self.store.room(self.store.current)
        self.view.delegate.needle = text.strip()
        self.view.refresh_layout()
        if st is None:
            return
        self._search_rows = st.model.find(text)
        self._search_pos = len(self._search_rows) - 1
        self._show_match()

    def _show_match(self) -> None:
        st = self.store.room(self.store.current)
        if st is None:
            return
        rows = self._search_rows
        cur = rows[self._search_pos] if rows and 0 <= self._search_pos < len(rows) else None
        st.model.set_matches(rows, cur)
        if cur is not None:
            self.view.scroll_to_row(cur, center=True)
            self.search_count.setText(
                QCoreApplication.translate("MainWindow", "%1 of %2")
                .replace("%1", str(self._search_pos + 1))
                .replace("%2", str(len(rows)))
            )
        elif self.search_edit.text().strip():
            self.search_count.setText(QCoreApplication.translate("MainWindow", "No results"))
        else:
            self.search_count.setText("")
        self.search_older.setVisible(
            bool(self.search_edit.text().strip()) and self.store.has_more(st.name)
        )
        self._place_search_older()

    def _place_search_older(self) -> None:
        """ "Search older messages" beside the search field, or under it when the bar is too
        narrow for both (a narrow window, a longer translation): never squeezed and cut off."""
        g = self._search_grid
        m = g.contentsMargins()
        buttons = (
            self.search_count,
            self.search_prev,
            self.search_next,
            self.search_older,
            self.search_close,
        )
        need = (
            m.left()
            + m.right()
            + len(buttons) * g.horizontalSpacing()
            + sum(w.sizeHint().width() for w in buttons if not w.isHidden())
            + self.search_edit.fontMetrics().averageCharWidth() * 14
        )
        below = self.search_bar.width() < need
        if below == self._search_older_below:
            return
        self._search_older_below = below
        g.removeWidget(self.search_older)
        if below:
            g.addWidget(self.search_older, 1, 0, 1, 6, Qt.AlignmentFlag.AlignRight)
        else:
            g.addWidget(self.search_older, 0, 4)

    def _search_step(self, delta: int) -> None:
        if not self._search_rows:
            return
        self._search_pos = max(0, min(len(self._search_rows) - 1, self._search_pos + delta))
        self._show_match()

    def _search_older(self) -> None:
        st = self.store.room(self.store.current)
        if st is None:
            return
        needle = self.search_edit.text()
        before = len(st.model.find(needle))
        pages = 0
        self.search_older.setEnabled(False)

        def more(_n: int) -> None:
            nonlocal pages
            pages += 1
            found = st.model.find(needle)
            if len(found) == before and self.store.has_more(st.name) and pages < SEARCH_MAX_PAGES:
                self.store.load_more(st.name, more)
                return
            self.search_older.setEnabled(True)
            self._search_rows = found
            self._search_pos = max(0, len(found) - before - 1)
            self._show_match()

        self.store.load_more(st.name, more)

    def keyPressEvent(self, e: object) -> None:
        from PySide6.QtGui import QKeyEvent

        if isinstance(e, QKeyEvent) and e.key() == Qt.Key.Key_Escape and self.search_open():
            self.close_search()
            return
        super().keyPressEvent(e)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ zoom

    def set_zoom(self, zoom: int) -> None:
        self.zoom = max(-4, min(10, zoom))
        self._apply_zoom()
        self.zoomChanged.emit(self.zoom)

    def _apply_zoom(self) -> None:
        """Text size for the whole window (timeline, header, composer, room and member lists,
        banner, its dialogs) as the window's own style sheet: with an application style sheet
        Qt resets fonts set with ``setFont`` whenever it polishes a widget (a theme change,
        a state change of the banner) and does not pass them on to children."""
        from PySide6.QtWidgets import QApplication

        self.setStyleSheet(themes.zoom_sheet(QApplication.font(), self.zoom))
        self.view.refresh_layout()

    def closeEvent(self, e: QCloseEvent) -> None:
        super().closeEvent(e)
