"""Latency histograms and per-receiver correctness checks, cheap enough for the hot path.

A benchmark of half a million deliveries per second cannot keep every sample, so latencies go
into a log-bucketed histogram (about 2 % resolution, like HdrHistogram) that worker processes
merge by adding counts. Correctness is checked per receiver and per sender: each payload
carries its sender's id and a counter that rises by one per message, so a receiver can tell a
lost message (a jump), a duplicate (a repeat) and a reordering (a step back) apart at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Histogram", "StreamCheck", "format_payload", "parse_payload"]

_GROWTH = math.log(1.02)
_MIN_US = 1.0


class Histogram:
    """Counts of latencies (seconds) in buckets growing by 2 %; mergeable and JSON-friendly."""

    __slots__ = ("count", "counts", "max", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def record(self, seconds: float) -> None:
        us = seconds * 1e6
        idx = int(math.log(us) / _GROWTH) if us > _MIN_US else 0
        counts = self.counts
        counts[idx] = counts.get(idx, 0) + 1
        self.count += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds

    def merge(self, other: Histogram) -> None:
        for idx, n in other.counts.items():
            self.counts[idx] = self.counts.get(idx, 0) + n
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile in seconds (upper edge of its bucket), None if empty."""
        if not self.count:
            return None
        rank = max(1, math.ceil(self.count * p / 100.0))
        seen = 0
        for idx in sorted(self.counts):
            seen += self.counts[idx]
            if seen >= rank:
                return min(self.max, math.exp((idx + 1) * _GROWTH) / 1e6)
        return self.max

    def summary(self) -> dict[str, float | int | None]:
        """p50/p99/p999/max/mean in milliseconds, and the sample count."""

        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1e3, 3)

        return {
            "n": self.count,
            "p50_ms": ms(self.percentile(50)),
            "p99_ms": ms(self.percentile(99)),
            "p999_ms": ms(self.percentile(99.9)),
            "max_ms": ms(self.max if self.count else None),
            "mean_ms": ms(self.total / self.count if self.count else None),
        }

    def to_json(self) -> dict[str, object]:
        return {
            "counts": {str(k): v for k, v in self.counts.items()},
            "count": self.count,
            "total": self.total,
            "max": self.max,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Histogram:
        h = cls()
        raw = data.get("counts", {})
        assert isinstance(raw, dict)
        h.counts = {int(k): int(v) for k, v in raw.items()}
        h.count = int(data.get("count", 0))  # type: ignore[call-overload]
        h.total = float(data.get("total", 0.0))  # type: ignore[arg-type]
        h.max = float(data.get("max", 0.0))  # type: ignore[arg-type]
        return h


def format_payload(sender: int, counter: int, sent_ns: int, size: int) -> str:
    """The text of a benchmark message: ``sender:counter:monotonic_ns:`` padded to ``size``.

    ``time.monotonic_ns`` is CLOCK_MONOTONIC, shared by every process of the machine, so a
    receiver in another worker process can compute the latency.
    """
    head = f"{sender}:{counter}:{sent_ns}:"
    return head + "x" * max(0, size - len(head))


def parse_payload(text: str) -> tuple[int, int, int] | None:
    """``(sender, counter, sent_ns)`` of a benchmark payload, or None for foreign text."""
    parts = text.split(":", 3)
    if len(parts) < 4:
        return None
    try:
        return int(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        return None


@dataclass(slots=True)
class StreamCheck:
    """What one receiver saw from every sender: counters must rise by exactly one.

    ``next`` maps a sender to the counter expected next from it. The ``lost`` count is settled
    at the end against what each sender says it sent (:meth:`settle`), because messages still
    in flight when a run stops are not lost.
    """

    next: dict[int, int] = field(default_factory=dict)
    received: int = 0
    duplicated: int = 0
    reordered: int = 0
    gaps: int = 0
    #: server ``seq`` per room must also rise by one (Tertulia only; 0 = not checked)
    seq_errors: int = 0
    last_seq: dict[str, int] = field(default_factory=dict)

    def see(self, sender: int, counter: int) -> None:
        expected = self.next.get(sender, 0)
        if counter == expected:
            self.next[sender] = counter + 1
            self.received += 1
        elif counter > expected:
            self.gaps += counter - expected
            self.next[sender] = counter + 1
            self.received += 1
        else:
            # a step back: a duplicate, or the late arrival of a message already counted lost;
            # either way the stream was not delivered exactly once in order
            self.duplicated += 1
            self.reordered += 1 if counter not in range(expected - 1, expected) else 0

    def see_seq(self, room: str, seq: int) -> None:
        last = self.last_seq.get(room)
        if last is not None and seq != last + 1:
            self.seq_errors += 1
        self.last_seq[room] = seq

    def settle(self, sent: dict[int, int]) -> dict[str, int]:
        """Compare with ``sent`` (sender -> messages acknowledged) and count the missing ones."""
        lost = 0
        for sender, n in sent.items():
            got = self.next.get(sender, 0)
            if got < n:
                lost += n - got
        lost += self.gaps
        return {
            "received": self.received,
            "lost": lost,
            "duplicated": self.duplicated,
            "reordered": self.reordered + self.seq_errors,
        }
