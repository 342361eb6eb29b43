"""Pending invitations in the desktop client: what is pending, and a bar to accept or decline.

An invitation changes nothing until the user accepts it (issue 12: invitations without
consent filled victims' room quotas). :class:`PendingInvitations` keeps the list -- read once
after login, then kept up to date from the ``invitation`` and ``invitation_removed`` events --
and :class:`InvitationBar` shows the oldest one above the timeline: "ana invited you to
plans (private)" with Accept and Decline. Accepting makes the server send ``room_added``,
which the store handles like any room that appears.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from tertulia.client import Invitation, InvitationEvent, InvitationRemoved
from tertulia.gui.bridge import ClientBridge
from tertulia.gui.textfmt import plural

__all__ = ["InvitationBar", "PendingInvitations"]


class PendingInvitations(QObject):
    """The user's pending invitations, oldest first (owned here, on the GUI thread)."""

    changed = Signal()
    #: a translated line for the status bar when accepting or declining failed
    failed = Signal(str)

    def __init__(self, bridge: ClientBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.items: list[Invitation] = []
        bridge.eventReceived.connect(self._on_event)

    def refresh(self) -> None:
        """Read the list from the server (after login)."""
        self.bridge.call(lambda c: c.invitations(), self._set, lambda _exc: None)

    def _set(self, items: list[Invitation]) -> None:
        self.items = list(items)
        self.changed.emit()

    def _on_event(self, ev: object) -> None:
        if isinstance(ev, InvitationEvent):
            if all(i.room != ev.invitation.room for i in self.items):
                self.items.append(ev.invitation)
                self.changed.emit()
        elif isinstance(ev, InvitationRemoved):
            self._drop(ev.room)

    def _drop(self, room: str) -> None:
        before = len(self.items)
        self.items = [i for i in self.items if i.room != room]
        if len(self.items) != before:
            self.changed.emit()

    def accept(self, room: str) -> None:
        self._drop(room)
        self.bridge.call(lambda c: c.accept_invitation(room), None, self._failed(room))

    def decline(self, room: str) -> None:
        self._drop(room)
        self.bridge.call(lambda c: c.decline_invitation(room), None, self._failed(room))

    def _failed(self, room: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            self.failed.emit(
                QCoreApplication.translate(
                    "Invitations", "Could not answer the invitation to %1: %2"
                )
                .replace("%1", room)
                .replace("%2", str(exc))
            )

        return report


class InvitationBar(QFrame):
    """Above the timeline while an invitation is pending: who, where, Accept, Decline."""

    def __init__(self, pending: PendingInvitations, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.setProperty("severity", "info")
        self.pending = pending
        h = QHBoxLayout(self)
        h.setContentsMargins(16, 7, 12, 7)
        h.setSpacing(8)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.accept_button = QPushButton(self)
        self.decline_button = QPushButton(self)
        for b in (self.accept_button, self.decline_button):
            b.setObjectName("BannerButton")
            b.setCursor(Qt.CursorShape.PointingHandCursor)
        h.addWidget(self.label, 1)
        h.addWidget(self.accept_button)
        h.addWidget(self.decline_button)
        self.accept_button.clicked.connect(lambda: self._answer(pending.accept))
        self.decline_button.clicked.connect(lambda: self._answer(pending.decline))
        pending.changed.connect(self.update_text)
        self.update_text()

    def _answer(self, how: Callable[[str], None]) -> None:
        if self.pending.items:
            how(self.pending.items[0].room)

    def update_text(self) -> None:
        """Show the oldest pending invitation (and how many more), or hide."""
        items = self.pending.items
        if not items:
            self.hide()
            return
        first = items[0]
        if first.visibility == "private":
            text = QCoreApplication.translate(
                "Invitations", "%1 invited you to the private room %2"
            )
        else:
            text = QCoreApplication.translate("Invitations", "%1 invited you to the room %2")
        text = text.replace("%1", first.by).replace("%2", first.room)
        if len(items) > 1:
            text += " " + plural(
                len(items) - 1,
                QCoreApplication.translate("Invitations", "(one more pending)"),
                QCoreApplication.translate("Invitations", "(%n more pending)"),
            )
        self.label.setText(text)
        self.accept_button.setText(QCoreApplication.translate("Invitations", "Accept"))
        self.decline_button.setText(QCoreApplication.translate("Invitations", "Decline"))
        self.setAccessibleName(QCoreApplication.translate("Invitations", "Pending invitation"))
        self.show()
