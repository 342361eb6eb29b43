"""The outbox: every message the user sends waits here until the server has durably stored it.

Theory of operation. :meth:`Outbox.add` gives a message its ``msg_id`` (the idempotency key the
server stores with it) and a place in line. The client takes entries in that order with
:meth:`Outbox.next_pending`, sends them, and reports the outcome:

* ``sent`` ack -> :meth:`Outbox.mark_sent`: SENT, the entry leaves the outbox;
* connection lost before the ack -> :meth:`Outbox.requeue_sending`: back to PENDING, in the
  original order, and resent after the reconnect *with the same msg_id* -- if the first copy
  did reach the server, the server answers ``duplicate=true`` with the original seq and stores
  nothing, so each message is stored exactly once however often it is resent;
* a permanent refusal (``text_too_long``, ``not_member``...) -> :meth:`Outbox.mark_failed`:
  FAILED, kept (a GUI shows it with its error) but not resent until :meth:`Outbox.retry`;
* a transient refusal (``rate_limited``, ``storage_full``, ``internal``) -> :meth:`Outbox.requeue`.

States, as a GUI may show them::

    PENDING --next_pending--> SENDING --ack--> SENT
       ^                        |  \\
       +--- requeue(_sending) --+   +--permanent error--> FAILED --retry--> PENDING

Persistence (optional, ``path``): an append-only JSON-lines journal, one record per change,
``fsync``'ed after each new message, so a message typed while offline survives a crash or a
restart of the client; acks are appended without ``fsync`` (losing one only causes a harmless
duplicate resend). The journal is rewritten compactly -- to a temporary file, ``fsync``'ed,
then renamed over the old one -- when opened and whenever most of it is dead records. A torn
last line (a crash mid-write) is ignored. One client at a time per file.

Nothing here touches the network or needs an event loop, except :meth:`PendingMessage.acked`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from tertulia.client.connection import ServerError
from tertulia.proto import messages as m
from tertulia.transport.private_files import open_private, private_dir

__all__ = [
    "PERMANENT_SEND_ERRORS",
    "TRANSIENT_SEND_ERRORS",
    "EntryState",
    "Outbox",
    "PendingMessage",
    "new_msg_id",
]

log = logging.getLogger("tertulia.client.outbox")

#: Refusals that the same message cannot overcome by being sent again later.
PERMANENT_SEND_ERRORS = frozenset(
    {
        "text_too_long",
        "not_member",
        "room_not_found",
        "invalid_argument",
        "msg_id_conflict",
        "forbidden",
        "bad_message",
        "invalid_name",
        "unknown_type",
    }
)
#: Refusals worth another try after a pause.
TRANSIENT_SEND_ERRORS = frozenset({"rate_limited", "storage_full", "internal", "not_authenticated"})


def new_msg_id() -> str:
    """A fresh idempotency key: 32 hex digits of randomness (uuid4), unique per sender."""
    return uuid.uuid4().hex


class EntryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class PendingMessage:
    """One outbox entry. Read its attributes freely; only the :class:`Outbox` changes them.

    ``state`` is an :class:`EntryState`; ``sent`` holds the server's ack (``seq``, ``ts``) once
    SENT; ``error`` the :class:`ServerError` once FAILED. ``created`` is the local Unix time in
    seconds at which the user sent it.
    """

    __slots__ = (
        "_waiters",
        "created",
        "error",
        "kind",
        "msg_id",
        "ordinal",
        "room",
        "sent",
        "state",
        "text",
    )

    def __init__(
        self,
        *,
        msg_id: str,
        room: str,
        text: str,
        kind: m.MessageKind = "text",
        created: float | None = None,
        ordinal: int = 0,
    ) -> None:
        self.msg_id = msg_id
        self.room = room
        self.text = text
        self.kind: m.MessageKind = kind
        self.created = time.time() if created is None else created
        self.ordinal = ordinal
        self.state = EntryState.PENDING
        self.sent: m.Sent | None = None
        self.error: ServerError | None = None
        self._waiters: list[asyncio.Future[m.Sent]] = []

    def __repr__(self) -> str:
        extra = f" seq={self.sent.seq}" if self.sent else ""
        extra += f" error={self.error.code}" if self.error else ""
        return f"<PendingMessage {self.msg_id} {self.room} {self.state.value}{extra}>"

    @property
    def done(self) -> bool:
        """SENT or FAILED: nothing more will happen to it unless someone calls ``retry``."""
        return self.state in (EntryState.SENT, EntryState.FAILED)

    async def acked(self) -> m.Sent:
        """Wait for the server's ack and return it (``seq``, ``ts``, ``duplicate``).

        Raises the :class:`ServerError` if the server refused the message. Waits across
        reconnects: the outbox resends until the ack comes or a permanent error does.
        """
        if self.state is EntryState.SENT and self.sent is not None:
            return self.sent
        if self.state is EntryState.FAILED and self.error is not None:
            raise self.error
        fut: asyncio.Future[m.Sent] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            return await fut
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(fut)

    def _resolve(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if fut.done():
                continue
            if self.state is EntryState.SENT and self.sent is not None:
                fut.set_result(self.sent)
            elif self.error is not None:
                fut.set_exception(self.error)

    def _record(self) -> dict[str, Any]:
        return {
            "op": "add",
            "msg_id": self.msg_id,
            "room": self.room,
            "text": self.text,
            "kind": self.kind,
            "created": self.created,
        }


ChangeCallback = Callable[[PendingMessage], None]


class Outbox:
    """Ordered store of unacknowledged messages, optionally journaled to ``path``."""

    #: rewrite the journal when it holds more than this many dead records and more dead than live
    compact_threshold = 256

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, on_change: ChangeCallback | None = None
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.on_change = on_change
        self._entries: dict[str, PendingMessage] = {}
        self._heap: list[tuple[int, str]] = []
        self._ordinal = 0
        self._dead = 0
        self._file: IO[str] | None = None
        if self.path is not None:
            self._load(self.path)
            self._compact()

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for e in self._entries.values():
            counts[e.state.value] = counts.get(e.state.value, 0) + 1
        return f"<Outbox {self.path or 'memory'} {counts}>"

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[PendingMessage]:
        """Entries still in the outbox (pending, sending, failed), in sending order."""
        return iter(sorted(self._entries.values(), key=lambda e: e.ordinal))

    def get(self, msg_id: str) -> PendingMessage | None:
        return self._entries.get(msg_id)

    @property
    def unfinished(self) -> int:
        """How many entries are PENDING or SENDING (what a flush waits for)."""
        return sum(1 for e in self._entries.values() if not e.done)

    # ------------------------------------------------------------------ changes

    def add(
        self, room: str, text: str, kind: m.MessageKind = "text", *, msg_id: str | None = None
    ) -> PendingMessage:
        """Queue a message; it is on disk (if persistent) when this returns."""
        mid = msg_id or new_msg_id()
        if mid in self._entries:
            raise ValueError(f"msg_id {mid!r} is already in the outbox")
        entry = PendingMessage(msg_id=mid, room=room, text=text, kind=kind, ordinal=self._ordinal)
        self._ordinal += 1
        self._append(entry._record(), sync=True)
        self._entries[mid] = entry
        heapq.heappush(self._heap, (entry.ordinal, mid))
        self._changed(entry)
        return entry

    def next_pending(self) -> PendingMessage | None:
        """The oldest PENDING entry, now marked SENDING; ``None`` when there is none."""
        while self._heap:
            _, mid = heapq.heappop(self._heap)
            entry = self._entries.get(mid)
            if entry is not None and entry.state is EntryState.PENDING:
                entry.state = EntryState.SENDING
                self._changed(entry)
                return entry
        return None

    def has_pending(self) -> bool:
        return any(
            (e := self._entries.get(mid)) is not None and e.state is EntryState.PENDING
            for _, mid in self._heap
        )

    def mark_sent(self, msg_id: str, ack: m.Sent) -> None:
        """The server stored it (or had already: ``duplicate``); the entry leaves the outbox."""
        entry = self._entries.pop(msg_id, None)
        if entry is None:
            return
        entry.state = EntryState.SENT
        entry.sent = ack
        entry.error = None
        self._append({"op": "done", "msg_id": msg_id}, sync=False)
        self._dead += 2
        self._changed(entry)
        entry._resolve()
        self._maybe_compact()

    def mark_failed(self, msg_id: str, error: ServerError) -> None:
        """A permanent refusal: keep the entry, FAILED, and do not resend it by itself."""
        entry = self._entries.get(msg_id)
        if entry is None:
            return
        entry.state = EntryState.FAILED
        entry.error = error
        self._append(
            {
                "op": "failed",
                "msg_id": msg_id,
                "code": error.code,
                "message": error.message,
                "params": error.params,
            },
            sync=False,
        )
        self._dead += 1
        self._changed(entry)
        entry._resolve()

    def requeue(self, msg_id: str) -> None:
        """Back to PENDING, in its original place in line (after a transient error)."""
        entry = self._entries.get(msg_id)
        if entry is None or entry.state is not EntryState.SENDING:
            return
        entry.state = EntryState.PENDING
        heapq.heappush(self._heap, (entry.ordinal, msg_id))
        self._changed(entry)

    def requeue_sending(self) -> int:
        """After losing the connection: every SENDING entry is PENDING again. Returns how many."""
        n = 0
        for entry in list(self._entries.values()):
            if entry.state is EntryState.SENDING:
                self.requeue(entry.msg_id)
                n += 1
        return n

    def retry(self, msg_id: str) -> PendingMessage:
        """Queue a FAILED entry again (the user fixed the cause, e.g. joined the room)."""
        entry = self._entries.get(msg_id)
        if entry is None:
            raise KeyError(msg_id)
        if entry.state is not EntryState.FAILED:
            return entry
        entry.state = EntryState.PENDING
        entry.error = None
        self._append({"op": "retry", "msg_id": msg_id}, sync=False)
        self._dead += 1
        heapq.heappush(self._heap, (entry.ordinal, msg_id))
        self._changed(entry)
        return entry

    def discard(self, msg_id: str) -> None:
        """Drop an entry for good (a FAILED one the user gave up on)."""
        entry = self._entries.pop(msg_id, None)
        if entry is None:
            return
        self._append({"op": "done", "msg_id": msg_id}, sync=False)
        self._dead += 2
        self._maybe_compact()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the journal file (entries stay in memory)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    # ------------------------------------------------------------------ journal

    def _changed(self, entry: PendingMessage) -> None:
        if self.on_change is not None:
            try:
                self.on_change(entry)
            except Exception:
                log.exception("outbox change callback failed")

    def _append(self, record: dict[str, Any], *, sync: bool) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def _load(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for n, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
                self._apply(rec)
            except (ValueError, KeyError, TypeError) as exc:
                # a torn last line is expected after a crash; anything else is worth a warning
                if n != len(lines):
                    log.warning("%s:%d: skipping a bad outbox record (%s)", path, n, exc)

    def _apply(self, rec: dict[str, Any]) -> None:
        op = rec["op"]
        mid = str(rec["msg_id"])
        if op == "add":
            kind = rec.get("kind", "text")
            entry = PendingMessage(
                msg_id=mid,
                room=str(rec["room"]),
                text=str(rec["text"]),
                kind="me" if kind == "me" else "text",
                created=float(rec.get("created", time.time())),
                ordinal=self._ordinal,
            )
            self._ordinal += 1
            self._entries[mid] = entry
            heapq.heappush(self._heap, (entry.ordinal, mid))
        elif op == "done":
            self._entries.pop(mid, None)
        elif op == "failed" and (failed := self._entries.get(mid)) is not None:
            failed.state = EntryState.FAILED
            failed.error = ServerError(
                str(rec.get("code", "")), str(rec.get("message", "")), rec.get("params") or {}
            )
        elif op == "retry" and (retried := self._entries.get(mid)) is not None:
            retried.state = EntryState.PENDING
            retried.error = None
            heapq.heappush(self._heap, (retried.ordinal, mid))

    def _maybe_compact(self) -> None:
        if self.path is None:
            return  # in memory only: there is no journal to compact
        if self._dead > self.compact_threshold and self._dead > len(self._entries):
            self._compact()

    def _compact(self) -> None:
        """Rewrite the journal with only the live entries: temp file, fsync, rename, fsync dir."""
        assert self.path is not None
        self.close()
        private_dir(self.path.parent, tighten=False)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open_private(tmp) as f:
            for entry in self:
                f.write(json.dumps(entry._record(), ensure_ascii=False) + "\n")
                if entry.state is EntryState.FAILED and entry.error is not None:
                    rec = {
                        "op": "failed",
                        "msg_id": entry.msg_id,
                        "code": entry.error.code,
                        "message": entry.error.message,
                        "params": entry.error.params,
                    }
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self._dead = 0
        self._file = open_private(self.path, "a")  # lives with the outbox


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
