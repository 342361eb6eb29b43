"""Dialogs: log in / create account, trust a certificate, join a room, start a DM, set the
topic, settings, the Ctrl+K room switcher and help.

Every dialog is non-blocking (``open()``/``show()``, never ``exec()``): the application keeps
processing network events while one is up, and tests can drive them. Each has an object name,
and the chat dialogs a ``DialogTitle`` heading: the theme's style sheet styles them (background,
buttons, lists, check boxes) like the main window, light or dark.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    QSortFilterProxyModel,
    QStringListModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QIntValidator, QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tertulia.client import DEFAULT_PORT
from tertulia.gui.commands import COMMANDS
from tertulia.gui.i18n import LANGUAGES
from tertulia.gui.textfmt import plural

__all__ = [
    "ConnectForm",
    "ConnectWindow",
    "DmDialog",
    "HelpDialog",
    "JoinRoomDialog",
    "RoomSwitcher",
    "SettingsDialog",
    "TopicDialog",
    "TrustDialog",
]


def _titled(dialog: QDialog, name: str, title: str) -> tuple[QVBoxLayout, QLabel]:
    """The common frame of the chat dialogs: object name, window title, a heading."""
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    lay = QVBoxLayout(dialog)
    lay.setContentsMargins(22, 18, 22, 16)
    lay.setSpacing(10)
    head = QLabel(title, dialog)
    head.setObjectName("DialogTitle")
    lay.addWidget(head)
    return lay, head


def _primary(box: QDialogButtonBox, text: str) -> QPushButton:
    """The dialog's main action, in the accent colour. Named before it is added: a button box
    polishes its buttons when they are added, and a name given afterwards would not restyle
    it (so these buttons used to look like the others)."""
    button = QPushButton(text)
    button.setObjectName("Primary")
    box.addButton(button, QDialogButtonBox.ButtonRole.AcceptRole)
    return button


@dataclass(frozen=True)
class ConnectForm:
    host: str
    port: int
    user: str
    password: str
    register: bool
    remember: bool


class ConnectWindow(QWidget):
    """The first screen: server, port, user name, password; log in or create an account."""

    submitted = Signal(object)  # ConnectForm
    languageChosen = Signal(str)

    def __init__(self, *, keyring_available: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConnectWindow")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.resize(760, 640)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 24, 24, 16)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        card = QWidget(self)
        card.setObjectName("LoginCard")
        card.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        card.setFixedWidth(420)
        row.addWidget(card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)
        lay = QVBoxLayout(card)
        lay.setContentsMargins(36, 32, 36, 28)
        lay.setSpacing(10)
        self.logo = _Logo(card)
        lay.addWidget(self.logo, 0, Qt.AlignmentFlag.AlignHCenter)
        self.title = QLabel(card)
        self.title.setObjectName("LoginTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.subtitle = QLabel(card)
        self.subtitle.setObjectName("LoginSubtitle")
        self.subtitle.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.subtitle.setWordWrap(True)
        self.subtitle.setMinimumHeight(self.subtitle.fontMetrics().lineSpacing() * 2 + 4)
        lay.addWidget(self.title)
        lay.addWidget(self.subtitle)
        lay.addSpacing(8)
        # mode switch: log in / create account
        seg = QHBoxLayout()
        seg.setSpacing(0)
        self.mode_login = QPushButton(card)
        self.mode_register = QPushButton(card)
        self._mode = QButtonGroup(self)
        for i, b in enumerate((self.mode_login, self.mode_register)):
            b.setCheckable(True)
            b.setObjectName("Segment")
            b.setProperty("pos", "left" if i == 0 else "right")
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            self._mode.addButton(b, i)
            seg.addWidget(b)
        self.mode_login.setChecked(True)
        self._mode.idToggled.connect(self._mode_changed)
        lay.addLayout(seg)
        lay.addSpacing(6)
        # fields
        self.server_label = QLabel(card)
        self.server_label.setObjectName("FieldLabel")
        srv = QHBoxLayout()
        self.host = QLineEdit(card)
        self.host.setObjectName("host")
        self.port = PortEdit(card)
        self.port.setObjectName("port")
        self.port.setFixedWidth(96)
        srv.addWidget(self.host, 1)
        srv.addWidget(self.port)
        self.user_label = QLabel(card)
        self.user_label.setObjectName("FieldLabel")
        self.user = QLineEdit(card)
        self.user.setObjectName("user")
        self.password_label = QLabel(card)
        self.password_label.setObjectName("FieldLabel")
        self.password = QLineEdit(card)
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm_label = QLabel(card)
        self.confirm_label.setObjectName("FieldLabel")
        self.confirm = QLineEdit(card)
        self.confirm.setObjectName("confirm")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        for w in (
            self.server_label,
            srv,
            self.user_label,
            self.user,
            self.password_label,
            self.password,
            self.confirm_label,
            self.confirm,
        ):
            if isinstance(w, QHBoxLayout):
                lay.addLayout(w)
            else:
                lay.addWidget(w)
        self.keyring_available = keyring_available
        self.remember = QCheckBox(card)
        self.remember.setVisible(keyring_available)
        lay.addWidget(self.remember)
        self.error = QLabel(card)
        self.error.setObjectName("ErrorLabel")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        lay.addWidget(self.error)
        lay.addSpacing(6)
        self.submit = QPushButton(card)
        self.submit.setObjectName("Primary")
        self.submit.setDefault(True)
        self.submit.setCursor(Qt.CursorShape.PointingHandCursor)
        self.submit.clicked.connect(self._submit)
        lay.addWidget(self.submit)
        for w in (self.host, self.user, self.password, self.confirm):
            w.returnPressed.connect(self._submit)
        # language switch under the card
        foot = QHBoxLayout()
        foot.addStretch(1)
        self.lang_label = QLabel(self)
        self.lang_label.setObjectName("LoginSubtitle")
        self.language = QComboBox(self)
        self.language.setObjectName("language")
        self.language.addItem("System", "system")
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.activated.connect(
            lambda i: self.languageChosen.emit(self.language.itemData(i))
        )
        foot.addWidget(self.lang_label)
        foot.addWidget(self.language)
        foot.addStretch(1)
        outer.addLayout(foot)
        self._busy = False
        self.retranslate()
        self._mode_changed(0, True)

    # ------------------------------------------------------------------ behaviour

    @property
    def register_mode(self) -> bool:
        return self.mode_register.isChecked()

    def _mode_changed(self, _id: int, checked: bool) -> None:
        if not checked:
            return
        self.confirm_label.setVisible(self.register_mode)
        self.confirm.setVisible(self.register_mode)
        self.retranslate()

    def set_language_choice(self, code: str) -> None:
        i = self.language.findData(code)
        if i >= 0:
            self.language.setCurrentIndex(i)

    def fill(
        self, host: str, port: int, user: str, password: str = "", remember: bool = False
    ) -> None:
        """Prefill the form for logging in (an account just created now exists)."""
        self.mode_login.setChecked(True)
        self.confirm.clear()
        self.host.setText(host)
        self.port.setValue(port)
        self.user.setText(user)
        self.password.setText(password)
        self.remember.setChecked(remember)
        (self.password if user else self.user).setFocus()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        for w in (self.host, self.port, self.user, self.password, self.confirm, self.submit):
            w.setEnabled(not busy)
        self.retranslate()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _submit(self) -> None:
        if self._busy:
            return
        host = self.host.text().strip()
        user = self.user.text().strip()
        password = self.password.text()
        if not host or not user or not password:
            self.show_error(
                QCoreApplication.translate(
                    "ConnectWindow", "Fill in the server, your user name and password."
                )
            )
            return
        if self.register_mode and password != self.confirm.text():
            self.show_error(
                QCoreApplication.translate("ConnectWindow", "The two passwords do not match.")
            )
            return
        self.show_error("")
        self.submitted.emit(
            ConnectForm(
                host=host,
                port=self.port.value(),
                user=user,
                password=password,
                register=self.register_mode,
                # not remember.isVisible(): that is false too while the window is hidden
                remember=self.remember.isChecked() and self.keyring_available,
            )
        )

    # ------------------------------------------------------------------ texts

    def retranslate(self) -> None:
        self.setWindowTitle(QCoreApplication.translate("ConnectWindow", "Tertulia — Log in"))
        self.title.setText(QCoreApplication.translate("ConnectWindow", "Welcome to Tertulia"))
        self.subtitle.setText(
            QCoreApplication.translate(
                "ConnectWindow", "Create an account on a Tertulia server to start chatting."
            )
            if self.register_mode
            else QCoreApplication.translate("ConnectWindow", "Log in to your Tertulia server.")
        )
        self.mode_login.setText(QCoreApplication.translate("ConnectWindow", "Log in"))
        self.mode_register.setText(QCoreApplication.translate("ConnectWindow", "Create account"))
        self.server_label.setText(QCoreApplication.translate("ConnectWindow", "Server and port"))
        self.host.setPlaceholderText(
            QCoreApplication.translate("ConnectWindow", "chat.example.org")
        )
        self.user_label.setText(QCoreApplication.translate("ConnectWindow", "User name"))
        self.user.setPlaceholderText(QCoreApplication.translate("ConnectWindow", "e.g. ana"))
        self.password_label.setText(QCoreApplication.translate("ConnectWindow", "Password"))
        self.confirm_label.setText(QCoreApplication.translate("ConnectWindow", "Repeat password"))
        self.remember.setText(
            QCoreApplication.translate("ConnectWindow", "Remember password (in the system keyring)")
        )
        if self._busy:
            self.submit.setText(QCoreApplication.translate("ConnectWindow", "Connecting…"))
        else:
            self.submit.setText(
                QCoreApplication.translate("ConnectWindow", "Create account and log in")
                if self.register_mode
                else QCoreApplication.translate("ConnectWindow", "Log in")
            )
        self.lang_label.setText(QCoreApplication.translate("ConnectWindow", "Language:"))
        self.language.setItemText(0, QCoreApplication.translate("ConnectWindow", "System default"))

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        if e.type() == QEvent.Type.LanguageChange:
            self.retranslate()


class PortEdit(QLineEdit):
    """A TCP port field (a line edit: spin box arrows have no place here)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setValidator(QIntValidator(1, 65535, self))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setValue(DEFAULT_PORT)

    def value(self) -> int:
        try:
            return int(self.text())
        except ValueError:
            return DEFAULT_PORT

    def setValue(self, port: int) -> None:
        self.setText(str(port))


class _Logo(QWidget):
    """The app mark: a speech bubble with three dots."""

    def __init__(self, parent: QWidget | None = None, size: int = 64) -> None:
        super().__init__(parent)
        self.setFixedSize(size, size)

    def paintEvent(self, e: QEvent) -> None:
        from PySide6.QtGui import QPainter

        from tertulia.gui.notify import paint_logo

        p = QPainter(self)
        paint_logo(p, self.rect())
        p.end()


class TrustDialog(QDialog):
    """First contact with a server: show its certificate fingerprint and ask whether to trust."""

    def __init__(
        self, fingerprint: str, host: str, port: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("TrustDialog")
        self.setWindowTitle(QCoreApplication.translate("TrustDialog", "Trust this server?"))
        self.setModal(True)
        self.setMinimumWidth(520)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        lay.setSpacing(12)
        title = QLabel(
            QCoreApplication.translate("TrustDialog", "First connection to %1").replace(
                "%1", f"{host}:{port}"
            ),
            self,
        )
        title.setObjectName("LoginTitle")
        title.setStyleSheet("font-size: 14pt;")
        lay.addWidget(title)
        text = QLabel(
            QCoreApplication.translate(
                "TrustDialog",
                "This server uses a certificate that no authority vouches for (normal for a "
                "self-hosted Tertulia server). Check that the fingerprint below is exactly the "
                "one the server's operator gives you (they see it with 'tertulia admin "
                "fingerprint'). If you trust it, it is remembered, and any later change is "
                "refused.",
            ),
            self,
        )
        text.setWordWrap(True)
        lay.addWidget(text)
        fp = QLabel(_wrap_fingerprint(fingerprint), self)
        fp.setObjectName("Fingerprint")
        fp.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(fp)
        self.fingerprint = fingerprint
        buttons = QDialogButtonBox(self)
        self.trust_button = _primary(
            buttons, QCoreApplication.translate("TrustDialog", "Trust and connect")
        )
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.cancel_button.setFocus()


def _wrap_fingerprint(fp: str) -> str:
    head, _, hexpart = fp.partition(":")
    pairs = hexpart.split(":")
    lines = [":".join(pairs[i : i + 16]) for i in range(0, len(pairs), 16)]
    return head + ":\n" + "\n".join(lines)


class ErrorDialog(QDialog):
    """A loud, explained refusal (used for a changed certificate)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ErrorDialog")
        self.setWindowTitle(title)
        self.setModal(True)
        self.setMinimumWidth(560)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        head = QLabel("⚠  " + title, self)
        head.setObjectName("ErrorLabel")
        head.setStyleSheet("font-size: 14pt; font-weight: 700;")
        lay.addWidget(head)
        body = QLabel(text, self)
        body.setWordWrap(True)
        body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)


class JoinRoomDialog(QDialog):
    """Join a public room from the list, or create a new one (public or private)."""

    joinRequested = Signal(str)
    createRequested = Signal(str, str, str)  # name, visibility, topic

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay, self.heading = _titled(
            self,
            "JoinRoomDialog",
            QCoreApplication.translate("JoinRoomDialog", "Join or create a room"),
        )
        self.setMinimumWidth(440)
        public = QLabel(QCoreApplication.translate("JoinRoomDialog", "Public rooms"), self)
        public.setObjectName("FieldLabel")
        lay.addWidget(public)
        self.list = QListWidget(self)
        self.list.setObjectName("publicRooms")
        self.list.itemActivated.connect(lambda it: self._join(it.data(Qt.ItemDataRole.UserRole)))
        lay.addWidget(self.list, 1)
        self.empty = QLabel(
            QCoreApplication.translate("JoinRoomDialog", "No other public rooms yet."), self
        )
        self.empty.setObjectName("LoginSubtitle")
        lay.addWidget(self.empty)
        form = QFormLayout()
        self.name = QLineEdit(self)
        self.name.setObjectName("roomName")
        self.name.setPlaceholderText(
            QCoreApplication.translate("JoinRoomDialog", "room name, e.g. plans")
        )
        self.topic = QLineEdit(self)
        self.topic.setPlaceholderText(QCoreApplication.translate("JoinRoomDialog", "optional"))
        self.private = QCheckBox(
            QCoreApplication.translate("JoinRoomDialog", "Private (invitation only)"), self
        )
        form.addRow(QCoreApplication.translate("JoinRoomDialog", "Name"), self.name)
        form.addRow(QCoreApplication.translate("JoinRoomDialog", "Topic"), self.topic)
        form.addRow("", self.private)
        lay.addLayout(form)
        buttons = QDialogButtonBox(self)
        self.go = _primary(buttons, QCoreApplication.translate("JoinRoomDialog", "Join or create"))
        self.cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._go)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._public: set[str] = set()
        self.name.setFocus()

    def set_rooms(self, rooms: list[tuple[str, str, int]]) -> None:
        """``(name, topic, member_count)`` of public rooms the user is not in."""
        self.list.clear()
        self._public = {r[0] for r in rooms}
        for name, topic, count in rooms:
            label = f"#{name}  ·  " + plural(
                count,
                QCoreApplication.translate("JoinRoomDialog", "%n member"),
                QCoreApplication.translate("JoinRoomDialog", "%n members"),
            )
            if topic:
                label += f"\n{topic}"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)
        self.empty.setVisible(not rooms)

    def _join(self, name: str) -> None:
        self.joinRequested.emit(name)
        self.accept()

    def _go(self) -> None:
        name = self.name.text().strip().lstrip("#")
        if not name:
            item = self.list.currentItem()
            if item is not None:
                self._join(item.data(Qt.ItemDataRole.UserRole))
            return
        if name.lower() in self._public:
            self._join(name)
            return
        vis = "private" if self.private.isChecked() else "public"
        self.createRequested.emit(name, vis, self.topic.text().strip())
        self.accept()


class DmDialog(QDialog):
    startRequested = Signal(str)

    def __init__(self, known_users: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay, self.heading = _titled(
            self, "DmDialog", QCoreApplication.translate("DmDialog", "Start a direct message")
        )
        self.setMinimumWidth(380)
        lay.addWidget(
            QLabel(QCoreApplication.translate("DmDialog", "Who do you want to talk to?"), self)
        )
        self.user = QLineEdit(self)
        self.user.setObjectName("dmUser")
        self.user.setPlaceholderText(QCoreApplication.translate("DmDialog", "user name"))
        from PySide6.QtWidgets import QCompleter

        self.user.setCompleter(QCompleter(known_users, self))
        lay.addWidget(self.user)
        buttons = QDialogButtonBox(self)
        self.start = _primary(buttons, QCoreApplication.translate("DmDialog", "Start"))
        self.cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._go)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def _go(self) -> None:
        user = self.user.text().strip().lstrip("@")
        if user:
            self.startRequested.emit(user)
            self.accept()


class TopicDialog(QDialog):
    topicChosen = Signal(str)

    def __init__(self, room: str, topic: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay, self.heading = _titled(
            self,
            "TopicDialog",
            QCoreApplication.translate("TopicDialog", "Topic of #%1").replace("%1", room),
        )
        self.setMinimumWidth(420)
        self.edit = QLineEdit(topic, self)
        self.edit.setMaxLength(512)
        lay.addWidget(self.edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self._go)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def _go(self) -> None:
        self.topicChosen.emit(self.edit.text().strip())
        self.accept()


class SettingsDialog(QDialog):
    """Language, theme, notifications. Changes apply at once."""

    languageChanged = Signal(str)
    themeChanged = Signal(str)
    notificationsChanged = Signal(bool)
    soundChanged = Signal(bool)

    def __init__(
        self,
        *,
        language: str,
        theme: str,
        notifications: bool,
        sound: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        lay, self.heading = _titled(self, "SettingsDialog", "")
        self.setMinimumWidth(400)
        self.form = QFormLayout()
        self.language = QComboBox(self)
        self.language.setObjectName("language")
        self.language.addItem("", "system")
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(language)))
        self.theme = QComboBox(self)
        self.theme.setObjectName("theme")
        for code in ("system", "light", "dark"):
            self.theme.addItem("", code)
        self.theme.setCurrentIndex(max(0, self.theme.findData(theme)))
        self.notifications = QCheckBox(self)
        self.notifications.setChecked(notifications)
        self.sound = QCheckBox(self)
        self.sound.setChecked(sound)
        self.lang_label = QLabel(self)
        self.theme_label = QLabel(self)
        self.form.addRow(self.lang_label, self.language)
        self.form.addRow(self.theme_label, self.theme)
        self.form.addRow("", self.notifications)
        self.form.addRow("", self.sound)
        lay.addLayout(self.form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        lay.addWidget(buttons)
        self.language.activated.connect(
            lambda i: self.languageChanged.emit(self.language.itemData(i))
        )
        self.theme.activated.connect(lambda i: self.themeChanged.emit(self.theme.itemData(i)))
        self.notifications.toggled.connect(self.notificationsChanged)
        self.sound.toggled.connect(self.soundChanged)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(QCoreApplication.translate("SettingsDialog", "Settings"))
        self.heading.setText(self.windowTitle())
        self.lang_label.setText(QCoreApplication.translate("SettingsDialog", "Language"))
        self.theme_label.setText(QCoreApplication.translate("SettingsDialog", "Theme"))
        self.language.setItemText(0, QCoreApplication.translate("SettingsDialog", "System default"))
        self.theme.setItemText(0, QCoreApplication.translate("SettingsDialog", "Follow the system"))
        self.theme.setItemText(1, QCoreApplication.translate("SettingsDialog", "Light"))
        self.theme.setItemText(2, QCoreApplication.translate("SettingsDialog", "Dark"))
        self.notifications.setText(
            QCoreApplication.translate(
                "SettingsDialog", "Desktop notifications for mentions and direct messages"
            )
        )
        self.sound.setText(
            QCoreApplication.translate("SettingsDialog", "Play a sound with notifications")
        )

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        if e.type() == QEvent.Type.LanguageChange:
            self.retranslate()


class RoomSwitcher(QDialog):
    """Ctrl+K: type a few letters of a room or person, Enter to go there."""

    chosen = Signal(str)

    def __init__(self, rooms: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        """``rooms``: ``(room name, label)`` in sidebar order."""
        super().__init__(parent, Qt.WindowType.Popup | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("Switcher")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(460)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 12, 12, 12)
        self.filter = QLineEdit(self)
        self.filter.setObjectName("switcherFilter")
        self.filter.setPlaceholderText(
            QCoreApplication.translate("RoomSwitcher", "Jump to a room or person…")
        )
        self.filter.installEventFilter(self)
        lay.addWidget(self.filter)
        self._names = {label: name for name, label in rooms}
        self.source = QStringListModel([label for _, label in rooms], self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.list = QListView(self)
        self.list.setObjectName("SwitcherList")
        self.list.setModel(self.proxy)
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.activated.connect(self._choose)
        lay.addWidget(self.list)
        self.filter.textChanged.connect(self._filter)
        self.filter.returnPressed.connect(lambda: self._choose(self.list.currentIndex()))
        self._filter("")

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip().lstrip("#@"))
        if self.proxy.rowCount():
            self.list.setCurrentIndex(self.proxy.index(0, 0))

    def _choose(self, index: object) -> None:
        from PySide6.QtCore import QModelIndex

        if isinstance(index, QModelIndex) and index.isValid():
            label = str(index.data())
            self.chosen.emit(self._names.get(label, label))
            self.accept()

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:
        if (
            obj is self.filter
            and isinstance(e, QKeyEvent)
            and e.type() == QEvent.Type.KeyPress
            and e.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up)
        ):
            row = self.list.currentIndex().row() + (1 if e.key() == Qt.Key.Key_Down else -1)
            if 0 <= row < self.proxy.rowCount():
                self.list.setCurrentIndex(self.proxy.index(row, 0))
            return True
        return super().eventFilter(obj, e)


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay, self.heading = _titled(
            self, "HelpDialog", QCoreApplication.translate("HelpDialog", "Commands and shortcuts")
        )
        self.setMinimumWidth(520)
        rows = [
            (
                COMMANDS["join"],
                QCoreApplication.translate(
                    "HelpDialog", "join a room, creating it if it does not exist"
                ),
            ),
            (
                COMMANDS["leave"],
                QCoreApplication.translate("HelpDialog", "leave this room (or the one named)"),
            ),
            (
                COMMANDS["me"],
                QCoreApplication.translate("HelpDialog", "say what you are doing: * ana waves"),
            ),
            (
                COMMANDS["msg"],
                QCoreApplication.translate("HelpDialog", "open a direct message with a user"),
            ),
            (COMMANDS["topic"], QCoreApplication.translate("HelpDialog", "set this room's topic")),
            (COMMANDS["help"], QCoreApplication.translate("HelpDialog", "show this help")),
            ("Enter / Shift+Enter", QCoreApplication.translate("HelpDialog", "send / new line")),
            ("Ctrl+K", QCoreApplication.translate("HelpDialog", "jump to a room or person")),
            ("Alt+↑ / Alt+↓", QCoreApplication.translate("HelpDialog", "previous / next room")),
            ("Ctrl+F", QCoreApplication.translate("HelpDialog", "search this room's history")),
            (
                "Ctrl++ / Ctrl+- / Ctrl+0",
                QCoreApplication.translate("HelpDialog", "bigger / smaller / normal text"),
            ),
            (":tada: :+1: :heart: …", QCoreApplication.translate("HelpDialog", "emoji shortcodes")),
        ]
        html = (
            "<table cellspacing='0' cellpadding='5'>"
            + "".join(f"<tr><td><code><b>{a}</b></code></td><td>{b}</td></tr>" for a, b in rows)
            + "</table>"
        )
        label = QLabel(html, self)
        label.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        lay.addWidget(buttons)
