"""A total-order checker for chaos tests: did every receiver see the same gap-free history?

Tertulia promises, per room, one total order: each stored message has a ``seq``
(1, 2, 3, ... without holes) and every member receives the messages in that order,
exactly once, across reconnections. Under faults the interesting failures are subtle
(a message replayed twice after a reconnect, one skipped by a cursor off by one, two
receivers disagreeing on what seq 7 is), so the scenario tests record everything they
receive here and ask for a verdict at the end.

Usage::

    checker = TotalOrderChecker()
    checker.expect("bob", ["general"])            # optional, see ``expect``
    checker.record("bob", "general", 1, "m-1")    # or record_message("bob", msg)
    checker.ack("m-1", "general", 1)              # or pass ``acked=`` to report()
    checker.assert_perfect(attempted={"m-1"})

Each delivery is classified once, in this order of precedence:

1. ``duplicated``: the same ``(seq, msg_id)`` was already delivered to this receiver;
2. ``mismatched``: this seq was already delivered with another msg_id;
3. ``duplicated``: this msg_id was already delivered under another seq;
4. ``mismatched``: it disagrees with the acknowledgements (``msg_id`` acked under another
   seq, or seq acked for another msg_id) or, for unacknowledged seqs, with the first
   receiver (alphabetical order) that received that seq;

and, independently, a delivery of a seq not seen before by that receiver is
``out_of_order`` if a higher seq was delivered before it. Then, per receiver and room:
``lost`` = acknowledged messages never delivered (``msg_id``-wise), ``gaps`` = seqs
missing between the first expected seq (see ``expect``) and the highest delivered one
(a hole at the tail can only be seen through ``lost``), and with
``attempted`` given, ``unexpected`` = msg_ids delivered that nobody ever sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "Delivery",
    "Gap",
    "Mismatch",
    "OrderReport",
    "OutOfOrder",
    "ReceiverReport",
    "TotalOrderChecker",
]


class Delivery(NamedTuple):
    room: str
    seq: int
    msg_id: str


class OutOfOrder(NamedTuple):
    room: str
    seq: int
    msg_id: str
    after_seq: int  # the highest seq delivered before it


class Gap(NamedTuple):
    room: str
    first: int  # first missing seq
    last: int  # last missing seq (inclusive)

    @property
    def size(self) -> int:
        return self.last - self.first + 1


class Mismatch(NamedTuple):
    room: str
    seq: int
    msg_id: str  # what was delivered
    expected_msg_id: str | None  # what this seq is elsewhere (None: unknown)
    expected_seq: int | None  # what seq this msg_id has elsewhere (None: unknown)


@dataclass
class ReceiverReport:
    """Everything wrong with one receiver's stream (all lists empty: perfect)."""

    receiver: str
    delivered: int = 0
    lost: list[Delivery] = field(default_factory=list)
    duplicated: list[Delivery] = field(default_factory=list)
    out_of_order: list[OutOfOrder] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    mismatched: list[Mismatch] = field(default_factory=list)
    unexpected: list[Delivery] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "out_of_order": len(self.out_of_order),
            "gaps": sum(g.size for g in self.gaps),
            "mismatched": len(self.mismatched),
            "unexpected": len(self.unexpected),
        }

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())


@dataclass
class OrderReport:
    """The verdict: one ``ReceiverReport`` per receiver, plus contradictory acks."""

    receivers: dict[str, ReceiverReport]
    #: two msg_ids acknowledged under the same (room, seq), or one msg_id under two seqs
    ack_conflicts: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Totals over all receivers (``gaps`` counts missing seqs, not holes)."""
        total: dict[str, int] = dict.fromkeys(
            ("lost", "duplicated", "out_of_order", "gaps", "mismatched", "unexpected"), 0
        )
        for rep in self.receivers.values():
            for key, value in rep.counts.items():
                total[key] += value
        total["ack_conflicts"] = len(self.ack_conflicts)
        return total

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts,
            "ack_conflicts": [list(c) for c in self.ack_conflicts],
            "receivers": {name: asdict(rep) for name, rep in self.receivers.items()},
        }

    def summary(self, max_examples: int = 5) -> str:
        """A readable multi-line summary, at most ``max_examples`` examples per kind."""
        if self.ok:
            n = sum(r.delivered for r in self.receivers.values())
            return f"total order OK: {len(self.receivers)} receivers, {n} deliveries"
        lines = ["total order violated: " + _fmt_counts(self.counts)]
        if self.ack_conflicts:
            lines.append("  contradictory acks (msg_id, room, seq):")
            lines += [f"    {c}" for c in self.ack_conflicts[:max_examples]]
        for name in sorted(self.receivers):
            rep = self.receivers[name]
            if rep.ok:
                continue
            lines.append(f"  receiver {name!r} ({rep.delivered} deliveries): ")
            lines[-1] += _fmt_counts(rep.counts)
            for kind in ("lost", "duplicated", "out_of_order", "gaps", "mismatched", "unexpected"):
                items: list[Any] = getattr(rep, kind)
                if items:
                    shown = ", ".join(_fmt_item(x) for x in items[:max_examples])
                    more = (
                        f" (+{len(items) - max_examples} more)" if len(items) > max_examples else ""
                    )
                    lines.append(f"    {kind}: {shown}{more}")
        return "\n".join(lines)


def _fmt_counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in counts.items() if v) or "nothing"


def _fmt_item(item: tuple[Any, ...]) -> str:
    if isinstance(item, Gap):
        span = f"{item.first}" if item.first == item.last else f"{item.first}..{item.last}"
        return f"{item.room}#{span}"
    if isinstance(item, OutOfOrder):
        return f"{item.room}#{item.seq}={item.msg_id} after #{item.after_seq}"
    if isinstance(item, Mismatch):
        exp = []
        if item.expected_msg_id is not None:
            exp.append(f"#{item.seq} is {item.expected_msg_id}")
        if item.expected_seq is not None:
            exp.append(f"{item.msg_id} is #{item.expected_seq}")
        return f"{item.room}#{item.seq}={item.msg_id} (expected {'; '.join(exp) or '?'})"
    if isinstance(item, Delivery):
        return f"{item.room}#{item.seq}={item.msg_id}"
    return repr(item)


@dataclass
class _Expectation:
    rooms: set[str] | None  # None: every room with an acked message or a delivery
    after: dict[str, int]  # per room: seqs <= after are not expected


class TotalOrderChecker:
    """Record deliveries per receiver and room; judge them against the acknowledgements."""

    def __init__(self) -> None:
        self._deliveries: dict[str, dict[str, list[tuple[int, str]]]] = {}
        self._order: list[str] = []  # receivers in first-seen order
        self._expect: dict[str, _Expectation] = {}
        self._acked: list[tuple[str, str, int]] = []
        self._attempted: set[str] = set()

    # ------------------------------------------------------------------ recording

    def expect(
        self,
        receiver: str,
        rooms: Iterable[str] | None = None,
        *,
        after: Mapping[str, int] | None = None,
    ) -> None:
        """Declare what ``receiver`` must get (else: every acked message of every room).

        ``rooms``: the rooms it is a member of (None: all rooms that have an acked
        message or a delivery to it). ``after``: per room, the seq it started after (it
        joined late, or synced from that cursor): lower seqs are neither lost nor gaps;
        missing rooms default to 0, so a declared receiver must see seq 1 onwards, while
        an undeclared one is only checked from the first seq it received.
        Declaring a receiver also makes it reported when it received nothing at all.
        """
        self._expect[receiver] = _Expectation(
            None if rooms is None else set(rooms), dict(after or {})
        )
        self._deliveries.setdefault(receiver, {})

    def record(self, receiver: str, room: str, seq: int, msg_id: str) -> None:
        """``receiver`` got message ``msg_id`` as ``seq`` of ``room`` (in arrival order)."""
        self._deliveries.setdefault(receiver, {}).setdefault(room, []).append((seq, msg_id))

    def record_message(self, receiver: str, message: Any) -> None:
        """Record anything with ``.room``, ``.seq`` and ``.msg_id`` (e.g. ``m.Message``)."""
        self.record(receiver, message.room, message.seq, message.msg_id)

    def ack(self, msg_id: str, room: str, seq: int) -> None:
        """A sender got the acknowledgement: ``msg_id`` is stored as ``seq`` in ``room``."""
        self._acked.append((msg_id, room, seq))
        self._attempted.add(msg_id)

    def attempt(self, msg_id: str) -> None:
        """A sender tried to send ``msg_id`` (acked or not)."""
        self._attempted.add(msg_id)

    def deliveries(self, receiver: str, room: str) -> list[tuple[int, str]]:
        """What ``receiver`` got in ``room``, ``(seq, msg_id)`` in arrival order."""
        return list(self._deliveries.get(receiver, {}).get(room, []))

    # ------------------------------------------------------------------ verdict

    def report(
        self,
        acked: Mapping[str, tuple[str, int]] | None = None,
        attempted: Iterable[str] | None = None,
    ) -> OrderReport:
        """Judge every receiver. ``acked``: msg_id -> (room, seq), merged with ``ack()``.

        ``attempted``: every msg_id any sender tried (merged with ``ack()``/``attempt()``);
        when neither is given, deliveries of unknown msg_ids are not reported.
        """
        acks = list(self._acked)
        if acked is not None:
            acks += [(mid, room, seq) for mid, (room, seq) in acked.items()]
        known: set[str] | None = None
        if attempted is not None or self._attempted:
            known = set(self._attempted) | set(attempted or ()) | {a[0] for a in acks}

        # canonical maps from the acks, contradictions aside
        seq_of: dict[str, tuple[str, int]] = {}
        id_at: dict[tuple[str, int], str] = {}
        conflicts: list[tuple[str, str, int]] = []
        for mid, room, seq in acks:
            if seq_of.get(mid, (room, seq)) != (room, seq) or id_at.get((room, seq), mid) != mid:
                if (mid, room, seq) not in conflicts:
                    conflicts.append((mid, room, seq))
                continue
            seq_of[mid] = (room, seq)
            id_at[(room, seq)] = mid
        acked_rooms: dict[str, list[tuple[int, str]]] = {}
        for mid, (room, seq) in seq_of.items():
            acked_rooms.setdefault(room, []).append((seq, mid))

        # unacked seqs: the first receiver (alphabetically) that got them is the reference
        for receiver in sorted(self._deliveries):
            for room, items in self._deliveries[receiver].items():
                for seq, mid in items:
                    id_at.setdefault((room, seq), mid)
                    seq_of.setdefault(mid, (room, seq))

        reports = {
            receiver: self._judge(receiver, seq_of, id_at, acked_rooms, known)
            for receiver in sorted(self._deliveries)
        }
        return OrderReport(reports, conflicts)

    def assert_perfect(
        self,
        acked: Mapping[str, tuple[str, int]] | None = None,
        attempted: Iterable[str] | None = None,
        *,
        max_examples: int = 5,
    ) -> OrderReport:
        """Raise AssertionError with a readable summary unless the report is perfect."""
        rep = self.report(acked, attempted)
        if not rep.ok:
            raise AssertionError(rep.summary(max_examples))
        return rep

    def _judge(
        self,
        receiver: str,
        seq_of: Mapping[str, tuple[str, int]],
        id_at: Mapping[tuple[str, int], str],
        acked_rooms: Mapping[str, list[tuple[int, str]]],
        known: set[str] | None,
    ) -> ReceiverReport:
        rep = ReceiverReport(receiver)
        streams = self._deliveries.get(receiver, {})
        exp = self._expect.get(receiver, _Expectation(None, {}))
        rooms = set(exp.rooms) if exp.rooms is not None else set(acked_rooms) | set(streams)
        for room in sorted(rooms | set(streams)):
            items = streams.get(room, [])
            rep.delivered += len(items)
            seen_at: dict[int, str] = {}  # seq -> msg_id, first delivery
            seen_ids: dict[str, int] = {}  # msg_id -> seq, first delivery
            top = 0
            for seq, mid in items:
                d = Delivery(room, seq, mid)
                if known is not None and mid not in known:
                    rep.unexpected.append(d)
                if seen_at.get(seq) == mid:
                    rep.duplicated.append(d)
                elif seq in seen_at:
                    rep.mismatched.append(Mismatch(room, seq, mid, seen_at[seq], None))
                elif mid in seen_ids:
                    rep.duplicated.append(d)
                else:
                    want_id = id_at.get((room, seq))
                    where = seq_of.get(mid)
                    if want_id != mid or where != (room, seq):
                        other_id = want_id if want_id != mid else None
                        other_seq = (
                            where[1] if where and where[0] == room and where[1] != seq else None
                        )
                        rep.mismatched.append(Mismatch(room, seq, mid, other_id, other_seq))
                if seq not in seen_at:
                    if seq < top:
                        rep.out_of_order.append(OutOfOrder(room, seq, mid, top))
                    seen_at[seq] = mid
                seen_ids.setdefault(mid, seq)
                top = max(top, seq)

            if room not in rooms:
                continue  # deliveries from a room it should not be in: judged, not expected
            # declared receivers must get everything after their cursor (default: from 1)
            floor = exp.after.get(room, 0) if receiver in self._expect else None
            # lost: acked, expected, never delivered (by msg_id)
            for seq, mid in sorted(acked_rooms.get(room, [])):
                if (floor is None or seq > floor) and mid not in seen_ids:
                    rep.lost.append(Delivery(room, seq, mid))
            # gaps: holes between the first expected seq and the highest delivered
            have = sorted(s for s in seen_at if floor is None or s > floor)
            if not have:
                continue
            start = floor + 1 if floor is not None else have[0]
            prev = start - 1
            for s in have:
                if s > prev + 1:
                    rep.gaps.append(Gap(room, prev + 1, s - 1))
                prev = max(prev, s)
        return rep
