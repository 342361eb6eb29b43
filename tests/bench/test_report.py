"""Report, document and plots from synthetic results (no servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tertulia.bench.document import render_document, targets_met
from tertulia.bench.report import get_path, summarize, terminal_report


def _result(target: str, scenario: str, run: int, **metrics: Any) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "target": target,
        "run": run,
        "ok": True,
        "metrics": metrics,
        "correctness": {"lost": 0, "duplicated": 0, "reordered": 0},
    }


RESULTS = [
    _result("tertulia", "fanout", 1, deliveries_per_s=100.0, server_cpu_us_per_delivery=2.0),
    _result("tertulia", "fanout", 2, deliveries_per_s=300.0, server_cpu_us_per_delivery=1.0),
    _result("tertulia", "fanout", 3, deliveries_per_s=200.0, server_cpu_us_per_delivery=3.0),
    _result("inspircd", "fanout", 1, deliveries_per_s=400.0, server_cpu_us_per_delivery=0.5),
    _result("tertulia", "latency", 1, latency={"p50_ms": 1.0, "p99_ms": 5.0}),
    _result("inspircd", "latency", 1, latency={"p50_ms": 2.0, "p99_ms": 20.0}),
]


def test_summaries_are_medians_with_range() -> None:
    runs = [r for r in RESULTS if r["target"] == "tertulia" and r["scenario"] == "fanout"]
    s = summarize(runs, "deliveries_per_s")
    assert s is not None and (s.median, s.low, s.high, s.n) == (200.0, 100.0, 300.0, 3)
    assert get_path(RESULTS[4]["metrics"], "latency.p99_ms") == 5.0
    assert get_path(RESULTS[4]["metrics"], "latency.nope") is None


def test_terminal_report_lists_every_group() -> None:
    text = terminal_report(RESULTS)
    assert "fanout" in text and "inspircd" in text and "deliveries/s" in text


def test_targets_verdicts() -> None:
    verdicts = {goal: verdict for goal, _, verdict in targets_met(RESULTS, ["inspircd"])}
    cpu = next(v for g, v in verdicts.items() if "CPU per delivery" in g)
    p99 = next(v for g, v in verdicts.items() if "p99" in g)
    assert cpu == "not met" and p99 == "**met**"


def test_document_renders(tmp_path: Path) -> None:
    text = render_document(
        RESULTS,
        targets=["tertulia", "inspircd"],
        settings={
            "workers": 2,
            "clients": 100,
            "senders": 10,
            "size": 100,
            "window": 64,
            "duration": 5.0,
            "rate": 500.0,
            "idle": 1000,
        },
        versions={"tertulia": "Tertulia x", "inspircd": "InspIRCd y"},
        commands=["make bench"],
        plots=[],
        doc_dir=tmp_path,
        analysis="## Analysis\n\nhand-written",
        runs=3,
    )
    assert "| deliveries/s | 200 (100\u2013300) | 400 | 0.50\u00d7 |" in text
    assert text.rstrip().endswith("hand-written")
