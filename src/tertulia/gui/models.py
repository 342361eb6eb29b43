"""Qt item models: one item per message, per room, per member.

They hold plain data and know nothing of the network; :mod:`tertulia.gui.store` fills them.
Every model answers ``Qt.DisplayRole`` (and ``AccessibleTextRole``) with a complete sentence,
so a screen reader walking a view hears each message, room or member as one item.

Message ordering: confirmed messages (with a ``seq``) sort by ``seq``; local event lines
("bob joined") sort right after the message that was last when they happened; the user's own
messages not yet confirmed by a ``message`` event stay at the bottom in sending order. A
message is never shown twice: rows are keyed by ``seq`` and pending rows by ``msg_id``, and a
confirmed message replaces its pending row.

Gaps: a timeline may hold two stretches of history with unloaded messages between them (after a
jump to the first unread message, which fetches the history right after the read marker instead
of paging back to it). One ``"gap"`` row stands for the missing messages, right after the last
message before them; the store fills it page by page when it comes into view. Event lines whose
anchor is not loaded (older history, or inside a gap) wait, parked, until it is.

Presence: ``"online"``, ``"away"``, ``"offline"`` as the server says, or ``"unknown"`` while we
are not connected (nobody's presence can be known then; it is never shown as still online).
"""

from __future__ import annotations

import bisect
import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QDateTime,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from tertulia.gui.textfmt import mentions_user, plural

__all__ = [
    "GROUP_GAP_MS",
    "MemberModel",
    "MessageModel",
    "MessageRow",
    "Role",
    "RoomItem",
    "RoomListModel",
    "presence_label",
]

#: messages of one author closer together than this share one header
GROUP_GAP_MS = 5 * 60 * 1000
_PENDING_BASE = float("inf")
_counter = itertools.count()

Index = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    """Custom data roles shared by the models and delegates."""

    Kind = Qt.ItemDataRole.UserRole + 1  # "message" | "event" | "header" | "room" | "member"
    Sender = Qt.ItemDataRole.UserRole + 2
    Text = Qt.ItemDataRole.UserRole + 3
    Ts = Qt.ItemDataRole.UserRole + 4
    MsgKind = Qt.ItemDataRole.UserRole + 5  # "text" | "me"
    State = Qt.ItemDataRole.UserRole + 6  # "" | "pending" | "sending" | "sent" | "failed"
    Own = Qt.ItemDataRole.UserRole + 7
    Mention = Qt.ItemDataRole.UserRole + 8
    ShowHeader = Qt.ItemDataRole.UserRole + 9
    DayStart = Qt.ItemDataRole.UserRole + 10  # the row starts a new day: its local date
    UnreadDivider = Qt.ItemDataRole.UserRole + 11
    Seq = Qt.ItemDataRole.UserRole + 12
    MsgId = Qt.ItemDataRole.UserRole + 13
    Error = Qt.ItemDataRole.UserRole + 14
    Match = Qt.ItemDataRole.UserRole + 15  # 0 none, 1 match, 2 current match
    RoomName = Qt.ItemDataRole.UserRole + 20
    Unread = Qt.ItemDataRole.UserRole + 21
    Mentions = Qt.ItemDataRole.UserRole + 22
    IsDm = Qt.ItemDataRole.UserRole + 23
    Presence = Qt.ItemDataRole.UserRole + 24
    Topic = Qt.ItemDataRole.UserRole + 25
    Visibility = Qt.ItemDataRole.UserRole + 26
    Key = Qt.ItemDataRole.UserRole + 27  # a stable identity for caches
    GapAfter = Qt.ItemDataRole.UserRole + 28  # gap rows: the last loaded seq before the gap


def _tr(text: str, n: int = -1) -> str:
    return QCoreApplication.translate("Models", text, None, n)


def presence_label(presence: str) -> str:
    """The translated name of a presence value (for screen readers and tooltips)."""
    return {
        "online": QCoreApplication.translate("Models", "online"),
        "away": QCoreApplication.translate("Models", "away"),
        "offline": QCoreApplication.translate("Models", "offline"),
        "unknown": QCoreApplication.translate("Models", "presence unknown (reconnecting)"),
    }.get(presence, presence)


def local_date(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000).astimezone()


def format_time(ts_ms: int) -> str:
    """The local time of day, in the current locale's short format."""
    dt = QDateTime.fromMSecsSinceEpoch(ts_ms).toLocalTime()
    return QLocale().toString(dt.time(), QLocale.FormatType.ShortFormat)


# --------------------------------------------------------------------------- messages


@dataclass(slots=True, eq=False)
class MessageRow:
    """One line of a room's timeline. Compared by identity (``rows.index(row)`` must not
    compare every field of thousands of rows)."""

    kind: str  # "message" | "event" | "gap"
    sender: str
    text: str
    ts: int  # Unix ms
    seq: int | None = None
    msg_id: str = ""
    msg_kind: str = "text"
    state: str = ""  # own messages: pending/sending/sent/failed
    error: str = ""
    own: bool = False
    mention: bool = False
    match: int = 0
    #: gap rows: the missing messages are those with ``gap[0] < seq < gap[1]``
    gap: tuple[int, int] | None = None
    # sort key: (seq or anchor seq, tiebreak)
    key: tuple[float, int] = (0.0, 0)
    uid: int = field(default_factory=lambda: next(_counter))
    #: the local date of ``ts`` (ISO), computed once: every layout asks for it
    day: str = ""

    def local_day(self) -> str:
        if not self.day:
            self.day = local_date(self.ts).date().isoformat()
        return self.day

    @property
    def pending(self) -> bool:
        return self.seq is None and self.kind == "message"


class MessageModel(QAbstractListModel):
    """A room's timeline. See the module docstring for the ordering rules."""

    def __init__(self, room: str, me: str = "", parent: Any = None) -> None:
        super().__init__(parent)
        self.room = room
        self.me = me
        self.rows: list[MessageRow] = []
        self._keys: list[tuple[float, int]] = []
        self._seqs: set[int] = set()
        self._pending: dict[str, MessageRow] = {}
        self._gaps: dict[int, MessageRow] = {}  # gap rows by the seq they follow
        self._parked: list[tuple[int, MessageRow]] = []  # (anchor, event row) not shown yet
        self.first_unread: int | None = None

    # ------------------------------------------------------------------ Qt API

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.rows[index.row()].kind == "message":
            f |= Qt.ItemFlag.ItemIsEditable  # the read-only text selection overlay
        return f

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        i = index.row()
        r = self.rows[i]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.spoken(r)
        if role == Qt.ItemDataRole.ToolTipRole:
            dt = QDateTime.fromMSecsSinceEpoch(r.ts).toLocalTime()
            return QLocale().toString(dt, QLocale.FormatType.LongFormat)
        match role:
            case Role.Kind:
                return r.kind
            case Role.Sender:
                return r.sender
            case Role.Text:
                return r.text
            case Role.Ts:
                return r.ts
            case Role.MsgKind:
                return r.msg_kind
            case Role.State:
                return r.state
            case Role.Own:
                return r.own
            case Role.Mention:
                return r.mention
            case Role.ShowHeader:
                return self.show_header(i)
            case Role.DayStart:
                return self.day_start(i)
            case Role.UnreadDivider:
                return self.divider_at(i)
            case Role.Seq:
                return r.seq
            case Role.MsgId:
                return r.msg_id
            case Role.Error:
                return r.error
            case Role.Match:
                return r.match
            case Role.Key:
                return r.uid
            case Role.GapAfter:
                return r.gap[0] if r.gap is not None else None
        return None

    def spoken(self, r: MessageRow) -> str:
        if r.kind == "gap":
            return self.gap_text(r)
        when = format_time(r.ts)
        if r.kind == "event":
            return f"{when}: {r.text}"
        if r.msg_kind == "me":
            body = f"* {r.sender} {r.text}"
        else:
            body = (
                QCoreApplication.translate("Models", "%1 at %2: %3")
                .replace("%1", r.sender)
                .replace("%2", when)
            )
            body = body.replace("%3", r.text)
        status = {
            "pending": QCoreApplication.translate("Models", "sending"),
            "sending": QCoreApplication.translate("Models", "sending"),
            "failed": QCoreApplication.translate("Models", "failed"),
        }.get(r.state)
        return f"{body} ({status})" if status else body

    @staticmethod
    def gap_text(r: MessageRow) -> str:
        assert r.gap is not None
        n = max(0, r.gap[1] - r.gap[0] - 1)
        return plural(
            n,
            QCoreApplication.translate("Models", "%n more message, loading…"),
            QCoreApplication.translate("Models", "%n more messages, loading…"),
        )

    # ------------------------------------------------------------------ derived flags

    def day_start(self, i: int) -> str:
        """The ISO date if row ``i`` is the first of its local day, else ``""``."""
        if self.rows[i].kind == "gap":
            return ""
        d = self.rows[i].local_day()
        if i == 0 or self.rows[i - 1].local_day() != d:
            return d
        return ""

    def divider_at(self, i: int) -> bool:
        r = self.rows[i]
        if self.first_unread is None or r.seq is None or r.seq < self.first_unread:
            return False
        # the nearest earlier message (no slicing: this runs for every row of every layout)
        j = i - 1
        while j >= 0 and self.rows[j].seq is None:
            j -= 1
        prev = self.rows[j].seq if j >= 0 else None
        return prev is None or prev < self.first_unread

    def show_header(self, i: int) -> bool:
        r = self.rows[i]
        if r.kind != "message" or r.msg_kind == "me" or i == 0:
            return True
        p = self.rows[i - 1]
        return (
            p.kind != "message"
            or p.msg_kind == "me"
            or p.sender != r.sender
            or r.ts - p.ts > GROUP_GAP_MS
            or bool(self.day_start(i))
            or self.divider_at(i)
        )

    # ------------------------------------------------------------------ changes

    def _insert(self, row: MessageRow) -> int:
        pos = bisect.bisect_right(self._keys, row.key)
        self.beginInsertRows(QModelIndex(), pos, pos)
        self.rows.insert(pos, row)
        self._keys.insert(pos, row.key)
        self.endInsertRows()
        self._touch(pos + 1)
        return pos

    def _remove(self, pos: int) -> None:
        self.beginRemoveRows(QModelIndex(), pos, pos)
        del self.rows[pos]
        del self._keys[pos]
        self.endRemoveRows()
        self._touch(pos)

    def _touch(self, pos: int) -> None:
        if 0 <= pos < len(self.rows):
            idx = self.index(pos)
            self.dataChanged.emit(idx, idx)

    def _is_mention(self, sender: str, text: str) -> bool:
        return sender != self.me and mentions_user(text, self.me)

    def has_seq(self, seq: int) -> bool:
        return seq in self._seqs

    @property
    def min_seq(self) -> int | None:
        return next((r.seq for r in self.rows if r.seq is not None), None)

    @property
    def max_seq(self) -> int:
        return max(self._seqs, default=0)

    def add_messages(self, msgs: list[Any]) -> list[MessageRow]:
        """Merge confirmed messages (protocol ``Message`` structs) by seq; return the new rows.

        A message whose ``msg_id`` is one of our pending rows replaces that row. Our own
        confirmed messages are ``"sent"`` whichever way they came (live, or from history after
        a restart of the app): the server has stored them.
        """
        new = [msg for msg in msgs if msg.seq not in self._seqs]
        if not new:
            return []
        new.sort(key=lambda msg: msg.seq)
        # a block with no loaded row among it (a history page, older or filling a gap): one
        # insert, not one per row
        first, last = (float(new[0].seq), 0), (float(new[-1].seq), 0)
        pos = bisect.bisect_left(self._keys, first)
        if (
            len(new) > 1
            and pos == bisect.bisect_right(self._keys, last)
            and not any(msg.msg_id in self._pending for msg in new)
        ):
            rows = [self._row_of(msg) for msg in new]
            self.beginInsertRows(QModelIndex(), pos, pos + len(rows) - 1)
            self.rows[pos:pos] = rows
            self._keys[pos:pos] = [r.key for r in rows]
            self._seqs.update(msg.seq for msg in new)
            self.endInsertRows()
            self._touch(pos + len(rows))
            self._unpark()
            return rows
        added: list[MessageRow] = []
        for msg in new:
            row = self._row_of(msg)
            pending = self._pending.pop(msg.msg_id, None) if msg.sender == self.me else None
            if pending is not None:
                self._remove(self.rows.index(pending))
            self._seqs.add(msg.seq)
            self._insert(row)
            added.append(row)
        self._unpark()
        return added

    def _row_of(self, msg: Any) -> MessageRow:
        own = msg.sender == self.me
        return MessageRow(
            kind="message",
            sender=msg.sender,
            text=msg.text,
            ts=msg.ts,
            seq=msg.seq,
            msg_id=msg.msg_id,
            msg_kind=msg.kind,
            state="sent" if own else "",
            own=own,
            mention=self._is_mention(msg.sender, msg.text),
            key=(float(msg.seq), 0),
        )

    def add_event(self, text: str, ts: int | None = None, *, anchor: int | None = None) -> None:
        """A local line such as "bob joined", placed after the message ``anchor`` (default:
        the latest loaded one). If that message is not loaded (older history, or inside a gap),
        the line waits until it is."""
        a = self.max_seq if anchor is None else anchor
        row = MessageRow(
            kind="event",
            sender="",
            text=text,
            ts=ts if ts is not None else int(time.time() * 1000),
            key=(float(a), 1 + next(_counter)),
        )
        if self._covers(a):
            self._insert(row)
        else:
            self._parked.append((a, row))

    def _covers(self, anchor: int) -> bool:
        """Whether the line after message ``anchor`` has its place among the loaded rows."""
        if anchor >= self.max_seq:
            return True  # after everything loaded (also: nothing loaded yet)
        if anchor == 0:
            return self.min_seq == 1
        return anchor in self._seqs

    def _unpark(self) -> None:
        if not self._parked:
            return
        ready = [(a, r) for a, r in self._parked if self._covers(a)]
        if not ready:
            return
        self._parked = [(a, r) for a, r in self._parked if not self._covers(a)]
        for _a, row in ready:
            self._insert(row)

    def parked_events(self) -> int:
        return len(self._parked)

    # ------------------------------------------------------------------ gaps

    def gaps(self) -> list[tuple[int, int]]:
        """The unloaded stretches, newest first: ``(after, before)``, exclusive bounds."""
        return sorted((r.gap for r in self._gaps.values() if r.gap is not None), reverse=True)

    def set_gap(self, after: int, before: int) -> None:
        """Messages ``after < seq < before`` exist but are not loaded: one row stands for them
        (replacing the gap that started at ``after``, if any)."""
        self.remove_gap(after)
        if before <= after + 1:
            return
        prev = self.rows[self.row_of_seq(after) or 0] if after in self._seqs else None
        row = MessageRow(
            kind="gap",
            sender="",
            text="",
            ts=prev.ts if prev is not None else int(time.time() * 1000),
            gap=(after, before),
            key=(after + 0.5, 0),
        )
        self._gaps[after] = row
        self._insert(row)

    def row_of_gap(self, after: int) -> int | None:
        row = self._gaps.get(after)
        return self.rows.index(row) if row is not None else None

    def remove_gap(self, after: int) -> None:
        row = self._gaps.pop(after, None)
        if row is not None:
            self._remove(self.rows.index(row))

    def next_loaded_after(self, seq: int) -> int | None:
        """The smallest loaded seq above ``seq``."""
        pos = bisect.bisect_right(self._keys, (float(seq), 1 << 62))
        return next((r.seq for r in self.rows[pos:] if r.seq is not None), None)

    def upsert_pending(
        self,
        *,
        msg_id: str,
        text: str,
        kind: str,
        state: str,
        created: float,
        error: str = "",
        ordinal: int | None = None,
    ) -> None:
        """Add or update one of our own messages that is not confirmed yet."""
        row = self._pending.get(msg_id)
        if row is None:
            if any(r.msg_id == msg_id and r.seq is not None for r in self.rows):
                return  # already confirmed: a late outbox notification
            row = MessageRow(
                kind="message",
                sender=self.me,
                text=text,
                ts=int(created * 1000),
                msg_id=msg_id,
                msg_kind=kind,
                state=state,
                error=error,
                own=True,
                key=(_PENDING_BASE, ordinal if ordinal is not None else next(_counter)),
            )
            self._pending[msg_id] = row
            self._insert(row)
            return
        row.state = state
        row.error = error
        self._touch(self.rows.index(row))

    def pending_rows(self) -> list[MessageRow]:
        return list(self._pending.values())

    def remove_pending(self, msg_id: str) -> None:
        row = self._pending.pop(msg_id, None)
        if row is not None:
            self._remove(self.rows.index(row))

    def set_first_unread(self, seq: int | None) -> None:
        """Where the "new messages" divider goes (None: nowhere)."""
        if seq == self.first_unread:
            return
        self.first_unread = seq
        if self.rows:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1))

    def row_of_seq(self, seq: int) -> int | None:
        pos = bisect.bisect_left(self._keys, (float(seq), 0))
        if pos < len(self.rows) and self.rows[pos].seq == seq:
            return pos
        return None

    def row_of_msg_id(self, msg_id: str) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r.msg_id == msg_id), None)

    def first_unread_row(self) -> int | None:
        if self.first_unread is None:
            return None
        return next(
            (
                i
                for i, r in enumerate(self.rows)
                if r.seq is not None and r.seq >= self.first_unread
            ),
            None,
        )

    def set_matches(self, rows: list[int], current: int | None) -> None:
        """Mark search results (``rows``) and the current one."""
        wanted = set(rows)
        for i, r in enumerate(self.rows):
            m = 2 if i == current else (1 if i in wanted else 0)
            if r.match != m:
                r.match = m
                self._touch(i)

    def find(self, needle: str) -> list[int]:
        """Rows whose text or author contains ``needle`` (case-insensitive), oldest first."""
        n = needle.casefold().strip()
        if not n:
            return []
        return [
            i
            for i, r in enumerate(self.rows)
            if r.kind == "message" and (n in r.text.casefold() or n in r.sender.casefold())
        ]


# --------------------------------------------------------------------------- rooms


@dataclass(slots=True)
class RoomItem:
    name: str
    visibility: str = "public"
    topic: str = ""
    peer: str | None = None
    unread: int = 0
    mentions: int = 0
    presence: str = "offline"

    @property
    def is_dm(self) -> bool:
        return self.visibility == "dm"

    @property
    def label(self) -> str:
        return self.peer or self.name if self.is_dm else self.name


class RoomListModel(QAbstractListModel):
    """The sidebar: a "Rooms" section header, the rooms, a "Direct messages" header, the DMs.

    Header rows are not selectable. Rooms keep alphabetical order.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[RoomItem | str] = []
        self._items: dict[str, RoomItem] = {}
        self._rebuild_rows()

    def _rebuild_rows(self) -> None:
        rooms = sorted((r for r in self._items.values() if not r.is_dm), key=lambda r: r.name)
        dms = sorted((r for r in self._items.values() if r.is_dm), key=lambda r: r.label)
        self._rows = ["rooms", *rooms, "dms", *dms]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if isinstance(self._rows[index.row()], str):
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        item = self._rows[index.row()]
        if isinstance(item, str):
            title = (
                QCoreApplication.translate("Models", "Rooms")
                if item == "rooms"
                else QCoreApplication.translate("Models", "Direct messages")
            )
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return title
            if role == Role.Kind:
                return "header"
            if role == Role.RoomName:
                return ""
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.label
        if role == Qt.ItemDataRole.AccessibleTextRole:
            parts = [item.label]
            if item.is_dm:
                parts.append(presence_label(item.presence))
            if item.unread:
                parts.append(
                    plural(
                        item.unread,
                        QCoreApplication.translate("Models", "%n unread message"),
                        QCoreApplication.translate("Models", "%n unread messages"),
                    )
                )
            if item.mentions:
                parts.append(
                    plural(
                        item.mentions,
                        QCoreApplication.translate("Models", "%n mention"),
                        QCoreApplication.translate("Models", "%n mentions"),
                    )
                )
            return ", ".join(parts)
        if role == Qt.ItemDataRole.ToolTipRole:
            if item.is_dm:
                return f"{item.label} — {presence_label(item.presence)}"
            return item.topic or item.label
        match role:
            case Role.Kind:
                return "room"
            case Role.RoomName:
                return item.name
            case Role.Unread:
                return item.unread
            case Role.Mentions:
                return item.mentions
            case Role.IsDm:
                return item.is_dm
            case Role.Presence:
                return item.presence
            case Role.Topic:
                return item.topic
            case Role.Visibility:
                return item.visibility
        return None

    # ------------------------------------------------------------------ changes

    def item(self, name: str) -> RoomItem | None:
        return self._items.get(name)

    def names(self) -> list[str]:
        """Room names in display order."""
        return [r.name for r in self._rows if isinstance(r, RoomItem)]

    def upsert(self, item: RoomItem) -> None:
        """Add a room or replace its item. The item shown (``_rows``) and the item counted
        (``_items``, the tray's total) are always the same object: replacing one without the
        other froze the sidebar's badges after every reconnect."""
        if item.name in self._items:
            old = self._items[item.name]
            if old.label == item.label and old.visibility == item.visibility:
                row = self.row_of(item.name)
                self._items[item.name] = item
                if row is not None:
                    self._rows[row] = item
                    idx = self.index(row)
                    self.dataChanged.emit(idx, idx)
                return
        self.beginResetModel()
        self._items[item.name] = item
        self._rebuild_rows()
        self.endResetModel()

    def remove(self, name: str) -> None:
        if name not in self._items:
            return
        self.beginResetModel()
        del self._items[name]
        self._rebuild_rows()
        self.endResetModel()

    def update(self, name: str, **changes: Any) -> None:
        item = self._items.get(name)
        if item is None:
            return
        dirty = False
        for key, value in changes.items():
            if getattr(item, key) != value:
                setattr(item, key, value)
                dirty = True
        if dirty:
            self._changed(name)

    def set_presence(self, user: str, status: str) -> None:
        for item in self._items.values():
            if item.peer == user and item.presence != status:
                item.presence = status
                self._changed(item.name)

    def forget_presence(self) -> None:
        """Every peer's presence becomes ``"unknown"`` (we are not connected)."""
        for item in self._items.values():
            if item.is_dm and item.presence != "unknown":
                item.presence = "unknown"
                self._changed(item.name)

    def _changed(self, name: str) -> None:
        row = self.row_of(name)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def row_of(self, name: str) -> int | None:
        for i, r in enumerate(self._rows):
            if isinstance(r, RoomItem) and r.name == name:
                return i
        return None

    def total_unread(self) -> tuple[int, int]:
        """(unread messages, mentions and DM messages) over all rooms."""
        unread = sum(r.unread for r in self._items.values())
        loud = sum(r.mentions for r in self._items.values())
        return unread, loud


# --------------------------------------------------------------------------- members


class MemberModel(QAbstractListModel):
    """A room's members with their presence: online first, then away, then offline."""

    _ORDER = {"online": 0, "away": 1, "offline": 2, "unknown": 3}

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._members: list[tuple[str, str]] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._members)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._members):
            return None
        user, presence = self._members[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return user
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{user}, {presence_label(presence)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{user} — {presence_label(presence)}"
        if role == Role.Presence:
            return presence
        if role == Role.Kind:
            return "member"
        return None

    def set_members(self, members: dict[str, str]) -> None:
        self.beginResetModel()
        self._members = sorted(members.items(), key=lambda kv: (self._ORDER.get(kv[1], 3), kv[0]))
        self.endResetModel()

    def users(self) -> list[str]:
        return [u for u, _ in self._members]

    def online_count(self) -> int:
        return sum(1 for _, p in self._members if p == "online")
