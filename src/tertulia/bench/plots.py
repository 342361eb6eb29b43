"""PNG charts of a comparison (matplotlib, the ``bench`` extra): one bar chart per key metric.

Bars are medians; error bars span min-max over the runs. matplotlib is imported lazily so the
rest of ``tertulia bench`` works without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tertulia.bench.report import summarize

__all__ = ["PLOTS", "write_plots"]

#: file stem -> (scenario, metric path, title, y label)
PLOTS: dict[str, tuple[str, str, str, str]] = {
    "fanout_deliveries": ("fanout", "deliveries_per_s", "Fan-out: deliveries/s", "deliveries/s"),
    "fanout_cpu": (
        "fanout",
        "server_cpu_us_per_delivery",
        "Fan-out: server CPU per delivery (lower is better)",
        "µs",
    ),
    "latency_p50": ("latency", "latency.p50_ms", "500 msg/s + 1,000 idle: latency p50", "ms"),
    "latency_p99": ("latency", "latency.p99_ms", "500 msg/s + 1,000 idle: latency p99", "ms"),
    "connect": ("connect", "elapsed_s", "2,000 connect+join, 200 in flight", "s"),
    "connect_all": ("connect-all", "elapsed_s", "2,000 connect+join, all at once", "s"),
    "memory": ("memory", "rss_per_conn_kb", "RSS per idle TLS connection", "KB"),
}


def write_plots(results: list[dict[str, Any]], targets: list[str], out_dir: Path) -> list[Path]:
    """Write one PNG per entry of :data:`PLOTS` that has data; return the paths written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    colors = {"tertulia": "#2a9d8f", "inspircd": "#e76f51", "ngircd": "#264653"}
    for stem, (scenario, path, title, ylabel) in PLOTS.items():
        names, medians, lows, highs = [], [], [], []
        for target in targets:
            runs = [r for r in results if r["scenario"] == scenario and r["target"] == target]
            s = summarize(runs, path)
            if s is None:
                continue
            names.append(target)
            medians.append(s.median)
            lows.append(s.median - s.low)
            highs.append(s.high - s.median)
        if not names:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=110)
        ax.bar(
            names,
            medians,
            yerr=[lows, highs],
            capsize=4,
            color=[colors.get(n, "#888888") for n in names],
        )
        for i, v in enumerate(medians):
            ax.annotate(f"{v:,.3g}", (i + 0.08, v), ha="left", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        dest = out_dir / f"{stem}.png"
        fig.savefig(dest)
        plt.close(fig)
        written.append(dest)
    return written
