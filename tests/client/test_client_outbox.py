"""The outbox on its own: ordering, states, acks, failures, and the journal on disk."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tertulia.client import EntryState, Outbox, PendingMessage, ServerError
from tertulia.proto import messages as m


def _ack(entry: PendingMessage, seq: int, *, duplicate: bool = False) -> m.Sent:
    return m.Sent(
        id=1, room=entry.room, msg_id=entry.msg_id, seq=seq, ts=1000 + seq, duplicate=duplicate
    )


def _take_all(box: Outbox) -> list[PendingMessage]:
    out = []
    while (e := box.next_pending()) is not None:
        out.append(e)
    return out


def test_entries_get_unique_ids_and_go_out_in_order() -> None:
    box = Outbox()
    entries = [box.add("general", f"m{i}") for i in range(5)]
    assert len({e.msg_id for e in entries}) == 5
    assert all(len(e.msg_id) == 32 for e in entries)
    assert all(e.state is EntryState.PENDING for e in entries)
    taken = _take_all(box)
    assert [e.text for e in taken] == [f"m{i}" for i in range(5)]
    assert all(e.state is EntryState.SENDING for e in taken)
    assert box.unfinished == 5


def test_duplicate_msg_id_is_refused() -> None:
    box = Outbox()
    box.add("r", "a", msg_id="x")
    with pytest.raises(ValueError):
        box.add("r", "b", msg_id="x")


async def test_ack_resolves_waiters_and_removes_the_entry() -> None:
    box = Outbox()
    entry = box.add("general", "hello")
    waiter = asyncio.ensure_future(entry.acked())
    await asyncio.sleep(0)
    assert box.next_pending() is entry
    box.mark_sent(entry.msg_id, _ack(entry, 7))
    sent = await waiter
    assert (sent.seq, entry.state, len(box)) == (7, EntryState.SENT, 0)
    assert (await entry.acked()).seq == 7  # after the fact too
    box.mark_sent(entry.msg_id, _ack(entry, 8))  # a late second ack changes nothing
    assert entry.sent is not None and entry.sent.seq == 7


async def test_permanent_failure_is_kept_not_resent_until_retry() -> None:
    box = Outbox()
    bad, good = box.add("r", "x" * 10), box.add("r", "fine")
    _take_all(box)
    box.mark_failed(bad.msg_id, ServerError("text_too_long", "too long", {"max": 4}))
    box.mark_sent(good.msg_id, _ack(good, 1))
    assert bad.state is EntryState.FAILED and bad.done
    with pytest.raises(ServerError) as info:
        await bad.acked()
    assert info.value.code == "text_too_long" and info.value.params == {"max": 4}
    box.requeue_sending()
    assert box.next_pending() is None  # FAILED is not resent by itself
    assert [e.msg_id for e in box] == [bad.msg_id]  # but stays visible
    retried = box.retry(bad.msg_id)
    assert retried is bad and str(retried.state) == "pending" and retried.error is None
    assert box.next_pending() is bad
    box.discard(bad.msg_id)
    assert len(box) == 0


def test_requeue_after_disconnect_restores_the_original_order() -> None:
    box = Outbox()
    entries = [box.add("r", f"m{i}") for i in range(6)]
    first = _take_all(box)[:4]  # m0..m3 in flight, m4, m5 taken too
    box.mark_sent(first[1].msg_id, _ack(first[1], 1))  # m1 acked before the link dropped
    assert box.requeue_sending() == 5
    again = _take_all(box)
    assert [e.text for e in again] == ["m0", "m2", "m3", "m4", "m5"]
    # a new message queued after the requeue still comes after the older ones
    box.requeue_sending()
    late = box.add("r", "late")
    assert [e.text for e in _take_all(box)] == ["m0", "m2", "m3", "m4", "m5", "late"]
    assert entries[0].state is EntryState.SENDING and late.state is EntryState.SENDING


def test_change_callback_sees_every_state() -> None:
    seen: list[tuple[str, EntryState]] = []
    box = Outbox(on_change=lambda e: seen.append((e.text, e.state)))
    e = box.add("r", "a")
    box.next_pending()
    box.requeue(e.msg_id)
    box.next_pending()
    box.mark_sent(e.msg_id, _ack(e, 1))
    assert [s for _, s in seen] == [
        EntryState.PENDING,
        EntryState.SENDING,
        EntryState.PENDING,
        EntryState.SENDING,
        EntryState.SENT,
    ]


def test_journal_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "outbox.jsonl"
    box = Outbox(path)
    a, b, c = box.add("r", "a"), box.add("r", "b", "me"), box.add("s", "c")
    d = box.add("r", "d")
    _take_all(box)
    box.mark_sent(a.msg_id, _ack(a, 1))
    box.mark_failed(c.msg_id, ServerError("not_member", "no", {}))
    box.close()

    again = Outbox(path)
    entries = list(again)
    assert [(e.msg_id, e.text, e.kind, e.state) for e in entries] == [
        (b.msg_id, "b", "me", EntryState.PENDING),  # SENDING when we stopped: pending again
        (c.msg_id, "c", "text", EntryState.FAILED),
        (d.msg_id, "d", "text", EntryState.PENDING),
    ]
    assert entries[1].error is not None and entries[1].error.code == "not_member"
    assert [e.msg_id for e in _take_all(again)] == [b.msg_id, d.msg_id]
    again.close()
    # opening compacts: only live records remain
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["op"] for r in recs] == ["add", "add", "failed", "add"]


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    box = Outbox(path)
    a = box.add("r", "kept")
    box.close()
    with open(path, "a") as f:
        f.write('{"op":"add","msg_id":"zz","room":"r","te')  # crash mid-write
    again = Outbox(path)
    assert [e.msg_id for e in again] == [a.msg_id]
    again.add("r", "after")  # the file is usable again
    again.close()
    with Outbox(path) as third:
        assert [e.text for e in third] == ["kept", "after"]


def test_journal_is_compacted_when_mostly_dead(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    box = Outbox(path)
    box.compact_threshold = 10
    keep = box.add("r", "keep")
    for i in range(40):
        e = box.add("r", f"m{i}")
        box.mark_sent(e.msg_id, _ack(e, i + 1))
    box.close()
    lines = path.read_text().splitlines()
    assert len(lines) < 30
    with Outbox(path) as again:
        assert [e.msg_id for e in again] == [keep.msg_id]


def test_many_acks_in_memory_do_not_touch_any_journal() -> None:
    box = Outbox()
    for i in range(1000):  # well past compact_threshold
        e = box.add("r", f"m{i}")
        assert box.next_pending() is e
        box.mark_sent(e.msg_id, _ack(e, i + 1))
    assert len(box) == 0 and box.unfinished == 0
