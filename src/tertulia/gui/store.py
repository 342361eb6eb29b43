"""The GUI's state: rooms, their timelines and members, unread counts, the connection state.

:class:`ChatStore` lives on the GUI thread and is the single owner of everything the views
show. It is fed by the :class:`~tertulia.gui.bridge.ClientBridge` signals (events, outbox
changes) and by the results of the requests it makes through the bridge; widgets call its
methods and listen to its signals, and never talk to the network themselves.

Unread counting: per room, ``unread = last_seq - read_seq``. ``last_seq`` is the highest seq
seen (from ``RoomInfo`` or a message); ``read_seq`` is our read marker, moved forward when the
room is on screen in an active window (then sent with ``mark_read``, debounced), when we post in
the room ourselves, or by a ``read`` event from another of our devices. Mentions of our name
and messages in direct-message rooms above ``read_seq`` are counted separately: they are the
loud badge and the desktop notifications.

While the connection is down nobody's presence can be known: everyone else is shown as
``"unknown"`` until a fresh member list (asked for after the reconnect) or a ``presence`` event
says otherwise. Local event lines ("bob joined the room", topic changes) are kept on disk by an
:class:`~tertulia.gui.eventlog.EventLog`, so they come back with the messages after a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from tertulia.client import (
    Client,
    ConnectionStateChanged,
    ConnState,
    HistoryPage,
    Member,
    MemberEvent,
    Message,
    PresenceEvent,
    ReadEvent,
    RoomAdded,
    RoomInfo,
    TopicEvent,
    TypingEvent,
    normalize_name,
)
from tertulia.gui import commands
from tertulia.gui.bridge import ClientBridge, OutboxItem, SessionInfo
from tertulia.gui.eventlog import EventLog, EventRecord
from tertulia.gui.i18n import describe_error, error_text
from tertulia.gui.models import MemberModel, MessageModel, RoomItem, RoomListModel
from tertulia.gui.textfmt import replace_shortcodes

__all__ = ["ChatStore", "RoomState", "event_text"]

log = logging.getLogger("tertulia.gui.store")

#: seconds a "typing" notice stays shown without a new one
TYPING_TTL = 6.0
#: seconds between our own typing notices
TYPING_INTERVAL = 3.0
HISTORY_PAGE = 100


def _tr(text: str, n: int = -1) -> str:
    return QCoreApplication.translate("ChatStore", text, None, n)


@dataclass
class RoomState:
    name: str
    visibility: str
    model: MessageModel
    members: MemberModel
    topic: str = ""
    peer: str | None = None
    member_count: int = 0
    read_seq: int = 0
    last_seq: int = 0
    loud_seqs: set[int] = field(default_factory=set)
    member_map: dict[str, str] | None = None
    typing: dict[str, float] = field(default_factory=dict)
    more_history: bool = True
    loading: bool = False
    #: gaps being filled (by the seq they follow)
    filling: set[int] = field(default_factory=set)

    @property
    def is_dm(self) -> bool:
        return self.visibility == "dm"

    @property
    def label(self) -> str:
        return (self.peer or self.name) if self.is_dm else self.name

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.read_seq)

    @property
    def loud(self) -> int:
        return sum(1 for s in self.loud_seqs if s > self.read_seq)


class ChatStore(QObject):
    """See the module docstring."""

    roomsChanged = Signal()
    currentRoomChanged = Signal(str)
    roomUpdated = Signal(str)
    membersChanged = Signal(str)
    typingChanged = Signal(str)
    connectionChanged = Signal(object)  # ConnectionStateChanged
    sessionEnded = Signal(str)  # translated reason
    notice = Signal(str)  # a translated message for the status line
    notify = Signal(str, str, str, str)  # room name, title, sender, text
    unreadChanged = Signal(int, int)  # unread, loud
    historyLoaded = Signal(str, int)  # room, rows added at the top
    messageAdded = Signal(str, bool)  # room, own
    helpRequested = Signal()

    def __init__(
        self,
        bridge: ClientBridge,
        parent: QObject | None = None,
        *,
        event_log: EventLog | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.event_log = event_log
        self.me = ""
        self.limits: Any = None
        self.rooms: dict[str, RoomState] = {}
        self.room_list = RoomListModel(self)
        self.presence: dict[str, str] = {}
        self.current: str | None = None
        self.window_active = True
        self.state = ConnState.CONNECTING
        self._started = False
        self._last_typing = 0.0
        self._to_mark: set[str] = set()
        self._mark_timer = QTimer(self, singleShot=True, interval=400)
        self._mark_timer.timeout.connect(self._flush_marks)
        self._typing_timer = QTimer(self, interval=1000)
        self._typing_timer.timeout.connect(self._expire_typing)
        bridge.eventReceived.connect(self._on_event)
        bridge.outboxChanged.connect(self._on_outbox)

    # ------------------------------------------------------------------ session

    def start(self, session: SessionInfo, prefer: str = "") -> None:
        """Fill the state from a fresh login; open ``prefer`` (the last room open) if it is
        still one of ours, else the first room."""
        self.me = session.user
        self.limits = session.limits
        self._started = True
        self.state = ConnState.CONNECTED
        for info in session.rooms:
            if info.joined:
                self._add_room(info)
        for name, page in session.pages.items():
            self._apply_page(name, page)
        for item in session.outbox:
            self._on_outbox(item)
        self._restore_events()
        self.roomsChanged.emit()
        self._emit_unread()
        names = self.room_list.names()
        if names:
            self.select_room(prefer if prefer in self.rooms else names[0])

    def room(self, name: str | None) -> RoomState | None:
        return self.rooms.get(name) if name is not None else None

    def _add_room(self, info: RoomInfo) -> RoomState:
        st = self.rooms.get(info.name)
        if st is None:
            st = RoomState(
                name=info.name,
                visibility=info.visibility,
                model=MessageModel(info.name, self.me, self),
                members=MemberModel(self),
                more_history=info.last_seq > 0,
            )
            self.rooms[info.name] = st
        st.topic = info.topic
        st.peer = info.peer
        st.member_count = info.member_count
        st.read_seq = max(st.read_seq, info.read_seq)
        st.last_seq = max(st.last_seq, info.last_seq)
        self.room_list.upsert(self._item(st))
        return st

    def _item(self, st: RoomState) -> RoomItem:
        return RoomItem(
            name=st.name,
            visibility=st.visibility,
            topic=st.topic,
            peer=st.peer,
            unread=st.unread if st.name != self.current or not self.window_active else 0,
            mentions=st.loud,
            presence=self.presence.get(st.peer or "", "offline"),
        )

    def _refresh_item(self, st: RoomState) -> None:
        unread = st.unread
        self.room_list.update(st.name, unread=unread, mentions=st.loud, topic=st.topic)
        self._emit_unread()

    def _emit_unread(self) -> None:
        unread, loud = self.room_list.total_unread()
        self.unreadChanged.emit(unread, loud)

    # ------------------------------------------------------------------ current room

    def select_room(self, name: str) -> None:
        st = self.rooms.get(name)
        if st is None or name == self.current:
            return
        previous = self.room(self.current)
        if previous is not None and previous is not st:
            previous.model.set_first_unread(None)
        self.current = name
        st.model.set_first_unread(st.read_seq + 1 if st.unread else None)
        self.currentRoomChanged.emit(name)
        if st.member_map is None:
            self.load_members(name)
        if st.model.rowCount() < 30 and st.more_history:
            self.load_older(name)
        if self.window_active:
            self.mark_read(name)

    def set_window_active(self, active: bool) -> None:
        self.window_active = active
        if active and self.current is not None:
            self.mark_read(self.current)

    def mark_read(self, name: str) -> None:
        st = self.rooms.get(name)
        if st is None:
            return
        if st.last_seq > st.read_seq:
            st.read_seq = st.last_seq
            self._to_mark.add(name)
            self._mark_timer.start()
        self._refresh_item(st)

    def _flush_marks(self) -> None:
        for name in self._to_mark:
            st = self.rooms.get(name)
            if st is not None and st.read_seq > 0:
                self.bridge.call(partial(_mark_read, name, st.read_seq), on_error=_ignore)
        self._to_mark.clear()

    # ------------------------------------------------------------------ incoming

    def _on_event(self, ev: object) -> None:
        if isinstance(ev, Message):
            self._on_message(ev)
        elif isinstance(ev, ConnectionStateChanged):
            self._on_state(ev)
        elif isinstance(ev, PresenceEvent):
            self._set_presence(ev.user, ev.status)
        elif isinstance(ev, TypingEvent):
            st = self.rooms.get(ev.room)
            if st is not None and ev.user != self.me:
                st.typing[ev.user] = time.monotonic() + TYPING_TTL
                self._typing_timer.start()
                self.typingChanged.emit(ev.room)
        elif isinstance(ev, MemberEvent):
            self._on_member(ev)
        elif isinstance(ev, TopicEvent):
            st = self.rooms.get(ev.room)
            if st is not None:
                st.topic = ev.topic
                self._local_event(st, "topic", ev.by, ev.topic)
                self._refresh_item(st)
                self.roomUpdated.emit(ev.room)
        elif isinstance(ev, RoomAdded):
            if ev.room.name not in self.rooms and ev.room.joined:
                self._add_room(ev.room)
                self.roomsChanged.emit()
                self.load_older(ev.room.name)
                self._emit_unread()
        elif isinstance(ev, ReadEvent):
            st = self.rooms.get(ev.room)
            if st is not None and ev.seq > st.read_seq:
                st.read_seq = ev.seq
                self._refresh_item(st)

    def _on_message(self, msg: Message) -> None:
        st = self.rooms.get(msg.room)
        if st is None:
            # a room we did not know (joined from another device): fetch its description
            st = self._add_room(RoomInfo(name=msg.room, visibility="public", last_seq=msg.seq - 1))
            self.roomsChanged.emit()
            self._refresh_room_info(msg.room)
        added = st.model.add_messages([msg])
        st.typing.pop(msg.sender, None)
        if msg.seq > st.last_seq:
            st.last_seq = msg.seq
        own = msg.sender == self.me
        visible = msg.room == self.current and self.window_active
        if added and not own and (added[0].mention or st.is_dm) and msg.seq > st.read_seq:
            st.loud_seqs.add(msg.seq)
            if not visible:
                title = st.label if st.is_dm else f"#{st.name}"
                self.notify.emit(st.name, title, msg.sender, replace_shortcodes(msg.text))
        if own or visible:
            self.mark_read(msg.room)
        else:
            self._refresh_item(st)
        if added:
            self.messageAdded.emit(msg.room, own)
            self.typingChanged.emit(msg.room)

    def _on_member(self, ev: MemberEvent) -> None:
        st = self.rooms.get(ev.room)
        if st is None:
            return
        if ev.action == "joined":
            st.member_count += 1
            if st.member_map is not None:
                st.member_map[ev.user] = self.presence.get(ev.user, "online")
        elif ev.action == "left":
            st.member_count = max(0, st.member_count - 1)
            if st.member_map is not None:
                st.member_map.pop(ev.user, None)
        else:
            if st.member_map is not None:
                st.member_map.setdefault(ev.user, self.presence.get(ev.user, "offline"))
        self._local_event(st, ev.action if ev.action in ("joined", "left") else "invited", ev.user)
        if st.member_map is not None:
            st.members.set_members(st.member_map)
        self.membersChanged.emit(ev.room)
        self.roomUpdated.emit(ev.room)

    def _local_event(self, st: RoomState, event: str, user: str, topic: str = "") -> None:
        """Show a local event line after the room's latest message, and keep it on disk."""
        rec = EventRecord(
            room=st.name,
            event=event,
            user=user,
            ts=int(time.time() * 1000),
            anchor=max(st.last_seq, st.model.max_seq),
            topic=topic,
        )
        st.model.add_event(event_text(rec), rec.ts, anchor=rec.anchor)
        if self.event_log is not None:
            self.event_log.append(rec)

    def _restore_events(self) -> None:
        """The event lines of earlier sessions, each after the message it followed (shown
        when that message is loaded)."""
        if self.event_log is None:
            return
        for name, recs in self.event_log.load().items():
            st = self.rooms.get(name)
            if st is None:
                continue
            for rec in recs:
                st.model.add_event(event_text(rec), rec.ts, anchor=rec.anchor)

    def _set_presence(self, user: str, status: str) -> None:
        self.presence[user] = status
        self.room_list.set_presence(user, status)
        for st in self.rooms.values():
            if st.member_map is not None and user in st.member_map:
                st.member_map[user] = status
                st.members.set_members(st.member_map)
                self.membersChanged.emit(st.name)

    def _on_state(self, ev: ConnectionStateChanged) -> None:
        was = self.state
        self.state = ev.state
        self.connectionChanged.emit(ev)
        if not self._started:
            return
        if ev.state is not ConnState.CONNECTED:
            for st in self.rooms.values():  # nobody's typing can be known while offline
                if st.typing:
                    st.typing.clear()
                    self.typingChanged.emit(st.name)
            if was is ConnState.CONNECTED:
                self._forget_presence()
        if ev.state is ConnState.CONNECTED and was is not ConnState.CONNECTED:
            self._resync()
        elif ev.state is ConnState.OFFLINE and ev.error is not None:
            self.sessionEnded.emit(describe_error(ev.error))

    def _forget_presence(self) -> None:
        """Offline: nobody else's presence is known any more (never shown as still online)."""
        for user in self.presence:
            self.presence[user] = "offline" if user == self.me else "unknown"
        self.room_list.forget_presence()
        for st in self.rooms.values():
            if st.member_map:
                for user in st.member_map:
                    st.member_map[user] = "offline" if user == self.me else "unknown"
                st.members.set_members(st.member_map)
                self.membersChanged.emit(st.name)
        if self.current is not None:
            self.roomUpdated.emit(self.current)

    def _expire_typing(self) -> None:
        now = time.monotonic()
        for st in self.rooms.values():
            stale = [u for u, t in st.typing.items() if t <= now]
            for u in stale:
                del st.typing[u]
            if stale:
                self.typingChanged.emit(st.name)
        if not any(st.typing for st in self.rooms.values()):
            self._typing_timer.stop()

    def typing_users(self, name: str) -> list[str]:
        st = self.rooms.get(name)
        return sorted(st.typing) if st is not None else []

    # ------------------------------------------------------------------ outbox

    def _on_outbox(self, item: OutboxItem) -> None:
        st = self.rooms.get(item.room)
        if st is None:
            return
        if item.state == "sent" and item.seq is not None and st.model.has_seq(item.seq):
            return  # the message event came first and replaced the pending row
        error = error_text(item.error_code, item.error_params) if item.error_code else ""
        st.model.upsert_pending(
            msg_id=item.msg_id,
            text=item.text,
            kind=item.kind,
            state=item.state,
            created=item.created,
            error=error,
        )

    def retry(self, room: str, msg_id: str) -> None:
        st = self.rooms.get(room)
        if st is not None:
            row = next((r for r in st.model.pending_rows() if r.msg_id == msg_id), None)
            if row is not None:
                st.model.upsert_pending(
                    msg_id=msg_id, text=row.text, kind=row.msg_kind, state="pending", created=0
                )
        self.bridge.retry(msg_id)

    def discard(self, room: str, msg_id: str) -> None:
        st = self.rooms.get(room)
        if st is not None:
            st.model.remove_pending(msg_id)
        self.bridge.discard(msg_id)

    # ------------------------------------------------------------------ requests

    def _fail(self, prefix: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            self.notice.emit(f"{prefix} {describe_error(exc)}".strip())

        return report

    def _apply_page(self, name: str, page: HistoryPage) -> int:
        st = self.rooms.get(name)
        if st is None:
            return 0
        before = st.model.rowCount()
        self._add_page_messages(st, page)
        if not page.more or not page.messages:
            st.more_history = False
        if (m := st.model.min_seq) is not None and m <= 1:
            st.more_history = False
        self._refresh_item(st)
        return st.model.rowCount() - before

    def _add_page_messages(self, st: RoomState, page: HistoryPage) -> None:
        added = st.model.add_messages(list(page.messages))
        if page.messages:
            st.last_seq = max(st.last_seq, page.messages[-1].seq)
        for row in added:
            loud = row.mention or st.is_dm
            if row.seq is not None and row.seq > st.read_seq and loud and not row.own:
                st.loud_seqs.add(row.seq)

    def jump_to_first_unread(self, name: str, on_done: Callable[[int | None], None]) -> None:
        """Make the first unread message of ``name`` loaded; ``on_done(row)`` (None if there
        is none). If it is older than what is loaded, fetch the page that starts with it (the
        protocol's ``history after``) instead of paging back to it: one request whatever the
        number of unread messages. What lies between that page and the loaded messages becomes
        a gap, filled as it comes into view."""
        st = self.rooms.get(name)
        target = st.model.first_unread if st is not None else None
        if st is None or target is None:
            on_done(None)
            return
        room = st
        loaded_from = st.model.min_seq
        if loaded_from is not None and loaded_from <= target:
            on_done(st.model.first_unread_row())
            return

        def done(page: HistoryPage) -> None:
            before = room.model.rowCount()
            self._add_page_messages(room, page)
            if page.messages and page.more:
                last = page.messages[-1].seq
                nxt = room.model.next_loaded_after(last)
                if nxt is not None and nxt > last + 1:
                    room.model.set_gap(last, nxt)
            if (m := room.model.min_seq) is not None and m <= 1:
                room.more_history = False
            self._refresh_item(room)
            self.historyLoaded.emit(name, room.model.rowCount() - before)
            on_done(room.model.first_unread_row())

        def failed(exc: BaseException) -> None:
            self._fail("")(exc)
            on_done(room.model.first_unread_row())

        self.bridge.call(
            lambda c: c.history(name, after=target - 1, before=loaded_from, limit=HISTORY_PAGE),
            done,
            failed,
        )

    def fill_gap(self, name: str, after: int, on_done: Callable[[int], None] | None = None) -> None:
        """Load the next page of the gap that follows message ``after``."""
        st = self.rooms.get(name)
        gap = next((g for g in st.model.gaps() if g[0] == after), None) if st else None
        if st is None or gap is None or after in st.filling:
            if on_done is not None:
                on_done(0)
            return
        room = st
        room.filling.add(after)

        def done(page: HistoryPage) -> None:
            room.filling.discard(after)
            rows = room.model.rowCount()
            self._add_page_messages(room, page)
            room.model.remove_gap(after)
            if page.messages and page.more:
                last = page.messages[-1].seq
                nxt = room.model.next_loaded_after(last)
                if nxt is not None and nxt > last + 1:
                    room.model.set_gap(last, nxt)
            self._refresh_item(room)
            n = room.model.rowCount() - rows
            self.historyLoaded.emit(name, n)
            if on_done is not None:
                on_done(n)

        def failed(exc: BaseException) -> None:
            room.filling.discard(after)
            if on_done is not None:
                on_done(0)

        self.bridge.call(
            lambda c: c.history(name, after=gap[0], before=gap[1], limit=HISTORY_PAGE),
            done,
            failed,
        )

    def has_more(self, name: str) -> bool:
        """Whether older history or a gap is still to be loaded."""
        st = self.rooms.get(name)
        return st is not None and (st.more_history or bool(st.model.gaps()))

    def load_more(self, name: str, on_done: Callable[[int], None]) -> None:
        """The next page of what is not loaded yet, newest first: a gap, else older history
        (search walks back through a room's whole history this way)."""
        st = self.rooms.get(name)
        gaps = st.model.gaps() if st is not None else []
        if gaps:
            self.fill_gap(name, gaps[0][0], on_done)
        else:
            self.load_older(name, on_done)

    def load_older(self, name: str, on_done: Callable[[int], None] | None = None) -> None:
        """Fetch the page of history before the oldest loaded message."""
        st = self.rooms.get(name)
        if st is None or st.loading or not st.more_history:
            if on_done is not None:
                on_done(0)
            return
        st.loading = True
        before = st.model.min_seq

        def done(page: HistoryPage) -> None:
            st.loading = False
            n = self._apply_page(name, page)
            self.historyLoaded.emit(name, n)
            if on_done is not None:
                on_done(n)

        def failed(exc: BaseException) -> None:
            st.loading = False
            if on_done is not None:
                on_done(0)

        self.bridge.call(lambda c: c.history(name, before=before, limit=HISTORY_PAGE), done, failed)

    def load_members(self, name: str) -> None:
        def done(members: list[Member]) -> None:
            st = self.rooms.get(name)
            if st is None or self.state is not ConnState.CONNECTED:
                return  # a list from before the connection dropped is not news
            st.member_map = {m.user: m.presence for m in members}
            st.member_count = len(members)
            for m in members:
                self.presence[m.user] = m.presence
                self.room_list.set_presence(m.user, m.presence)
            st.members.set_members(st.member_map)
            self.membersChanged.emit(name)
            self.roomUpdated.emit(name)

        self.bridge.call(lambda c: c.members(name), done, _ignore)

    def _refresh_room_info(self, name: str) -> None:
        def done(rooms: list[RoomInfo]) -> None:
            for info in rooms:
                if info.name == name:
                    self._add_room(info)
                    self.roomUpdated.emit(name)

        self.bridge.call(lambda c: c.list_rooms(), done, _ignore)

    def _resync(self) -> None:
        """After a reconnect: new rooms, topics, read markers; members of the open room."""

        def done(rooms: list[RoomInfo]) -> None:
            known = set(self.rooms)
            for info in rooms:
                if not info.joined:
                    continue
                new = info.name not in self.rooms
                st = self._add_room(info)
                if new:
                    self.bridge.call(partial(_follow, info.name), None, _ignore)
                    self.load_older(info.name)
                self._refresh_item(st)
            gone = known - {r.name for r in rooms if r.joined}
            for name in gone:
                self._drop_room(name)
            self.roomsChanged.emit()
            # presence missed while offline: the open room's members and every DM peer (the
            # sidebar's dots) now; other rooms' lists when they are opened
            for name, st in self.rooms.items():
                if name == self.current or st.is_dm:
                    self.load_members(name)
                else:
                    st.member_map = None
            if self.current is not None and self.window_active:
                self.mark_read(self.current)

        self.bridge.call(lambda c: c.list_rooms(), done, _ignore)

    def _drop_room(self, name: str) -> None:
        self.rooms.pop(name, None)
        self.room_list.remove(name)
        if self.current == name:
            self.current = None
            names = self.room_list.names()
            if names:
                self.select_room(names[0])
            else:
                self.currentRoomChanged.emit("")
        self.roomsChanged.emit()
        self._emit_unread()

    def list_public_rooms(self, on_done: Callable[[list[RoomInfo]], None]) -> None:
        self.bridge.call(lambda c: c.list_rooms(), on_done, self._fail(""))

    def join(self, name: str, *, create: bool = True) -> None:
        """Join (or create) a room and switch to it."""
        room = normalize_name(name.strip().lstrip("#"))
        if not room:
            return

        def done(info: RoomInfo) -> None:
            self._add_room(info)
            self.roomsChanged.emit()
            self.select_room(info.name)

        self.bridge.call(lambda c: c.join(room, create=create), done, self._fail(""))

    def create_room(self, name: str, visibility: str = "public", topic: str = "") -> None:
        room = normalize_name(name.strip().lstrip("#"))

        def done(info: RoomInfo) -> None:
            self._add_room(info)
            self.roomsChanged.emit()
            self.select_room(info.name)

        self.bridge.call(
            lambda c: c.create_room(room, visibility=visibility, topic=topic),
            done,
            self._fail(""),
        )

    def leave(self, name: str) -> None:
        self.bridge.call(lambda c: c.leave(name), lambda _: self._drop_room(name), self._fail(""))

    def open_dm(self, user: str, text: str = "") -> None:
        peer = normalize_name(user.strip().lstrip("@"))

        def done(info: RoomInfo) -> None:
            self._add_room(info)
            self.roomsChanged.emit()
            self.select_room(info.name)
            if text:
                self.send_message(info.name, text)

        self.bridge.call(lambda c: c.open_dm(peer), done, self._fail(""))

    def set_topic(self, name: str, topic: str) -> None:
        self.bridge.call(lambda c: c.set_topic(name, topic), None, self._fail(""))

    # ------------------------------------------------------------------ composer

    def submit(self, raw: str) -> bool:
        """Run what the composer holds (a message or a slash command) in the current room.

        Returns False if nothing was done (the composer should then keep its text).
        """
        cmd = commands.parse(raw)
        if cmd is None:
            return False
        room = self.current
        if cmd.name == "say":
            if room is None:
                return False
            self.send_message(room, cmd.text)
        elif cmd.name == "me":
            if room is None:
                return False
            self.send_message(room, cmd.text, kind="me")
        elif cmd.name == "join":
            self.join(cmd.arg)
        elif cmd.name == "leave":
            target = normalize_name(cmd.arg) if cmd.arg else room
            if target is None:
                return False
            self.leave(target)
        elif cmd.name == "msg":
            self.open_dm(cmd.arg, cmd.text)
        elif cmd.name == "topic":
            if room is None:
                return False
            self.set_topic(room, cmd.text)
        elif cmd.name == "help":
            self.helpRequested.emit()
        else:
            if cmd.arg.startswith("/"):
                self.notice.emit(
                    QCoreApplication.translate("ChatStore", "Usage: %1").replace("%1", cmd.arg)
                )
            else:
                self.notice.emit(
                    QCoreApplication.translate(
                        "ChatStore", "Unknown command /%1. Type /help for the list."
                    ).replace("%1", cmd.arg)
                )
            return False
        return True

    def send_message(self, room: str, text: str, kind: str = "text") -> str | None:
        """Queue a message: shown at once as "sending…", delivered whenever connected."""
        st = self.rooms.get(room)
        if st is None:
            return None
        text = replace_shortcodes(text)
        max_text = getattr(self.limits, "max_text", None)
        if max_text is not None and len(text) > max_text:
            self.notice.emit(error_text("text_too_long", {"max": max_text}))
            return None
        msg_id = self.bridge.send(room, text, kind)
        st.model.upsert_pending(
            msg_id=msg_id, text=text, kind=kind, state="pending", created=time.time()
        )
        self.messageAdded.emit(room, True)
        return msg_id

    def user_typing(self, draft: str) -> None:
        """The user is typing ``draft`` in the current room (a notice at most every few
        seconds). Not for a slash command: ``/msg bob``, ``/join big`` are not for the room."""
        now = time.monotonic()
        if self.current is None or now - self._last_typing < TYPING_INTERVAL:
            return
        if not commands.is_message(draft):
            return
        if self.state is not ConnState.CONNECTED:
            return
        self._last_typing = now
        self.bridge.typing(self.current)

    def retry_now(self) -> None:
        self.bridge.retry_now()


def event_text(rec: EventRecord) -> str:
    """The line shown for a local event, in the current language."""
    if rec.event == "topic":
        if rec.topic:
            return (
                QCoreApplication.translate("ChatStore", "%1 changed the topic to “%2”")
                .replace("%1", rec.user)
                .replace("%2", rec.topic)
            )
        return QCoreApplication.translate("ChatStore", "%1 cleared the topic").replace(
            "%1", rec.user
        )
    text = {
        "joined": QCoreApplication.translate("ChatStore", "%1 joined the room"),
        "left": QCoreApplication.translate("ChatStore", "%1 left the room"),
    }.get(rec.event) or QCoreApplication.translate("ChatStore", "%1 was invited")
    return text.replace("%1", rec.user)


async def _mark_read(room: str, seq: int, client: Client) -> None:
    await client.mark_read(room, seq)


async def _follow(room: str, client: Client) -> RoomInfo:
    return await client.join(room, create=False)


def _ignore(exc: BaseException) -> None:
    log.info("background request failed: %s", exc)
