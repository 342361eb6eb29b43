"""Turning run results into figures: key metrics per scenario, medians, tables, JSON.

A result is the dict returned by :func:`tertulia.bench.scenarios.run_scenario`. Several runs
of the same scenario and target are summarised by their median and min-max, which is what the
comparison tables show; a metric path like ``latency.p99_ms`` reaches into nested dicts.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KEY_METRICS",
    "Metric",
    "Summary",
    "format_table",
    "get_path",
    "summarize",
    "terminal_report",
]


@dataclass(frozen=True)
class Metric:
    path: str
    label: str
    #: "lower" or "higher" is better
    better: str
    unit: str = ""


KEY_METRICS: dict[str, list[Metric]] = {
    "fanout": [
        Metric("deliveries_per_s", "deliveries/s", "higher"),
        Metric("server_cpu_us_per_delivery", "server CPU per delivery", "lower", "µs"),
        Metric("latency.p50_ms", "latency p50", "lower", "ms"),
        Metric("latency.p99_ms", "latency p99", "lower", "ms"),
        Metric("ack_latency.p50_ms", "ack latency p50", "lower", "ms"),
        Metric("generator_cpu_s", "generator CPU", "lower", "s"),
    ],
    "latency": [
        Metric("latency.p50_ms", "latency p50", "lower", "ms"),
        Metric("latency.p99_ms", "latency p99", "lower", "ms"),
        Metric("latency.p999_ms", "latency p99.9", "lower", "ms"),
        Metric("ack_latency.p50_ms", "ack latency p50", "lower", "ms"),
        Metric("ack_latency.p99_ms", "ack latency p99", "lower", "ms"),
        Metric("server_cpu_util", "server CPU use", "lower", "cores"),
    ],
    "connect": [
        Metric("elapsed_s", "total time", "lower", "s"),
        Metric("connect_time.p50_ms", "per client p50", "lower", "ms"),
        Metric("connect_time.p99_ms", "per client p99", "lower", "ms"),
        Metric("server_cpu_ms_per_connect", "server CPU per client", "lower", "ms"),
        Metric("failed", "failed", "lower"),
    ],
    "connect-all": [
        Metric("elapsed_s", "total time", "lower", "s"),
        Metric("connect_time.p99_ms", "per client p99", "lower", "ms"),
        Metric("failed", "failed", "lower"),
    ],
    "memory": [
        Metric("rss_per_conn_kb", "RSS per idle TLS connection", "lower", "KB"),
        Metric("alive_after_hold", "connections held", "higher"),
        Metric("connect_elapsed_s", "time to connect all", "lower", "s"),
    ],
    "reconnect": [
        Metric("elapsed_s", "all reconnected and caught up", "lower", "s"),
        Metric("reconnect_time.p50_ms", "per client p50", "lower", "ms"),
        Metric("reconnect_time.p99_ms", "per client p99", "lower", "ms"),
        Metric("replayed_messages", "messages replayed", "higher"),
        Metric("resumed_with_token", "clients back with a resume token", "higher"),
    ],
    "history": [
        Metric("messages_per_s", "replayed messages/s", "higher"),
        Metric("elapsed_s", "time", "lower", "s"),
        Metric("server_cpu_us_per_message", "server CPU per message", "lower", "µs"),
    ],
}


def get_path(data: dict[str, Any], path: str) -> float | None:
    cur: Any = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return float(cur) if isinstance(cur, int | float) and not isinstance(cur, bool) else None


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    n: int

    def text(self, spread: bool = True) -> str:
        if not spread or self.n < 2 or self.low == self.high:
            return _fmt(self.median)
        return f"{_fmt(self.median)} ({_fmt(self.low)}\u2013{_fmt(self.high)})"


def _fmt(v: float) -> str:
    a = abs(v)
    if v.is_integer() and a < 10000:
        return f"{int(v):,}"
    if a >= 10000:
        return f"{v / 1000:,.0f}k"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def summarize(results: Iterable[dict[str, Any]], path: str) -> Summary | None:
    values = [v for r in results if (v := get_path(r.get("metrics", {}), path)) is not None]
    if not values:
        return None
    return Summary(statistics.median(values), min(values), max(values), len(values))


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain text table with aligned columns (terminal output)."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _correct(r: dict[str, Any]) -> str:
    c = r.get("correctness", {})
    if "failure" in r:
        return "FAILED: " + str(r["failure"])[:60]
    parts = [f"{k}={c[k]}" for k in ("lost", "duplicated", "reordered", "failed") if k in c]
    return ("ok " if r.get("ok") else "ERRORS ") + " ".join(parts)


def terminal_report(results: list[dict[str, Any]]) -> str:
    """One table: every key metric of every result (median over runs), with correctness."""
    rows: list[list[str]] = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["scenario"], r["target"]), []).append(r)
    for (scenario, target), runs in groups.items():
        first = True
        for metric in KEY_METRICS.get(scenario, []):
            s = summarize(runs, metric.path)
            if s is None:
                continue
            unit = f" {metric.unit}" if metric.unit else ""
            rows.append(
                [
                    scenario if first else "",
                    target if first else "",
                    metric.label,
                    s.text() + unit,
                    _correct(runs[-1]) if first else "",
                ]
            )
            first = False
        if first:
            rows.append([scenario, target, "-", "-", _correct(runs[-1])])
    return format_table(["scenario", "target", "metric", "value", "correctness"], rows)
