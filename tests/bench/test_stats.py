"""The generator's histogram and per-receiver exactly-once check."""

from __future__ import annotations

from tertulia.bench.stats import Histogram, StreamCheck, format_payload, parse_payload


def test_histogram_percentiles_within_two_percent() -> None:
    h = Histogram()
    for i in range(1, 1001):
        h.record(i / 1000.0)  # 1 ms .. 1 s
    p50 = h.percentile(50)
    p99 = h.percentile(99)
    assert p50 is not None and abs(p50 - 0.5) / 0.5 < 0.03
    assert p99 is not None and abs(p99 - 0.99) / 0.99 < 0.03
    assert h.summary()["n"] == 1000


def test_histogram_merge_and_json_round_trip() -> None:
    a, b = Histogram(), Histogram()
    a.record(0.001)
    b.record(0.002)
    a.merge(Histogram.from_json(b.to_json()))
    assert a.count == 2
    assert a.max == 0.002


def test_payload_round_trip_and_padding() -> None:
    text = format_payload(7, 42, 123456789, 100)
    assert len(text) == 100
    assert parse_payload(text) == (7, 42, 123456789)
    assert parse_payload("hello") is None


def test_stream_check_counts_loss_duplicates_and_reordering() -> None:
    c = StreamCheck()
    for n in (0, 1, 2):
        c.see(1, n)
    assert c.settle({1: 3}) == {"received": 3, "lost": 0, "duplicated": 0, "reordered": 0}
    c.see(1, 2)  # duplicate
    c.see(1, 5)  # 3 and 4 lost
    c.see(1, 3)  # late: reordered
    result = c.settle({1: 7})
    assert result["lost"] == 2 + 1  # the gap, and 6 never arrived
    assert result["duplicated"] == 2
    assert result["reordered"] >= 1


def test_stream_check_server_seq_must_rise_by_one() -> None:
    c = StreamCheck()
    c.see_seq("r", 1)
    c.see_seq("r", 2)
    c.see_seq("r", 4)
    assert c.settle({})["reordered"] == 1
