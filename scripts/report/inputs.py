"""Measured inputs of the report, read from the files the project's own commands write.

| input | file | written by |
|---|---|---|
| test counts | (none: collected at build time) | ``.venv/bin/python -m pytest --collect-only -q`` |
| reliability figures | ``docs/reliability.json`` if present, else ``docs/reliability.md`` | ``make reliability`` |
| benchmark comparison | ``docs/benchmarks.md`` and ``docs/benchmarks/*.png`` | ``make bench`` |
| cluster benchmark | ``docs/benchmarks-cluster.md`` | ``python -m tertulia.bench.cluster`` |

A missing or unreadable input is a :class:`MissingInput` that names the file and the command
that produces it; the build stops on it rather than print a report with stale or invented
numbers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["MissingInput", "benchmarks", "cluster_bench", "reliability", "test_counts"]


class MissingInput(RuntimeError):
    def __init__(self, path: str, command: str, why: str = "does not exist") -> None:
        super().__init__(f"{path} {why}; produce it with `{command}`, then run `make report` again")
        self.path = path
        self.command = command


# --------------------------------------------------------------------------- tests

TEST_COMMAND = ".venv/bin/python -m pytest --collect-only -q"


def test_counts(root: Path) -> dict[str, Any]:
    """Collect (not run) the test suite; count the tests per folder and per file."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        env=_env_offscreen(),
        check=False,
    )
    ids = [ln.strip() for ln in proc.stdout.splitlines() if "::" in ln and ln.startswith("tests/")]
    m = re.search(r"(\d+) tests? collected", proc.stdout)
    if proc.returncode != 0 or not ids or m is None:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise RuntimeError(f"`{TEST_COMMAND}` failed (exit {proc.returncode}):\n{tail}")
    by_folder: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    for node in ids:
        path = node.split("::", 1)[0]
        parts = path.split("/")
        folder = parts[1] if len(parts) > 2 else "(top level)"
        by_folder[folder] += 1
        by_file[path] += 1
    total = int(m.group(1))
    if total != len(ids):
        raise RuntimeError(f"pytest reported {total} tests but listed {len(ids)}")
    return {
        "total": total,
        "by_folder": dict(by_folder),
        "by_file": dict(by_file),
        "files": len(by_file),
        "command": TEST_COMMAND,
    }


def _env_offscreen() -> dict[str, str]:
    import os

    return dict(os.environ, QT_QPA_PLATFORM="offscreen")


# --------------------------------------------------------------------------- reliability

REL_COMMAND = "make reliability"


def _num(text: str) -> int | float:
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _must(pattern: str, text: str, what: str) -> re.Match[str]:
    m = re.search(pattern, text, re.S)
    if m is None:
        raise MissingInput("docs/reliability.md", REL_COMMAND, f"has no {what} (format changed?)")
    return m


def reliability(root: Path) -> dict[str, Any]:
    """The reliability figures as ``{scenario: {key: value}}`` plus ``date`` and ``machine``.

    The keys are those ``scripts/reliability_report.py`` records. Prefers a machine-readable
    ``docs/reliability.json`` (a list of those records, or a mapping by scenario) when one
    exists; otherwise reads them back from the tables of ``docs/reliability.md``.
    """
    js = root / "docs" / "reliability.json"
    md_path = root / "docs" / "reliability.md"
    if not md_path.exists() and not js.exists():
        raise MissingInput("docs/reliability.md", REL_COMMAND)
    md = md_path.read_text() if md_path.exists() else ""
    out: dict[str, Any] = {}
    if md:
        m = _must(r"at full size on (\d{4}-\d\d-\d\d), on this machine \(([^)]*)\)", md, "run date")
        out["date"], out["machine"] = m.group(1), m.group(2)
    if js.exists():
        data = json.loads(js.read_text())
        rows = data if isinstance(data, list) else data.get("scenarios", data)
        if isinstance(rows, list):
            rows = {str(r["scenario"]): r for r in rows}
        out.update({k: dict(v) for k, v in rows.items() if isinstance(v, dict)})
        return out
    n = r"([\d.]+)"
    sr = _must(
        rf"pushes (\d+) messages of (\d+) characters.*?limit is (\d+) KiB.*?"
        rf"p50 latency \| {n} ms \| {n} ms.*?p99 latency \| {n} ms \| {n} ms.*?"
        rf"server RSS \| (\d+) KiB \| peak (\d+) KiB \(\+(-?\d+) KiB\)",
        md,
        "scenario 4 (stalled receiver) table",
    )
    g = [_num(x) for x in sr.groups()]
    out["stalled_receiver"] = {
        "messages": g[0],
        "message_bytes": g[1],
        "max_send_buffer_kib": g[2],
        "fast_p50_ms_at_rest": g[3],
        "fast_p50_ms_with_stalled": g[4],
        "fast_p99_ms_at_rest": g[5],
        "fast_p99_ms_with_stalled": g[6],
        "server_rss_kb_before": g[7],
        "server_rss_kb_peak": g[8],
        "server_rss_growth_kb": g[9],
    }
    rs = _must(
        rf"(\d+) connected clients; the server is stopped and started again {n} s later.*?"
        rf"\|---\|---\|---\|---\|\s*\| {n} s \| {n} s \| {n} s \| {n} s \|",
        md,
        "scenario 6 (reconnect storm) table",
    )
    g = [_num(x) for x in rs.groups()]
    out["reconnect_storm"] = dict(
        zip(
            (
                "clients",
                "restart_gap_s",
                "first_back_s",
                "p50_back_s",
                "p90_back_s",
                "all_back_after_s",
            ),
            g,
            strict=True,
        )
    )
    cd = _must(
        rf"(\d+) TLS connections \((\d+) at a time.*?dropped: {n} s in all.*?"
        rf"server tasks \| (\d+) \| [^|]* \| (\d+) \|.*?"
        rf"server RSS \| (\d+) KiB \| (\d+) KiB \| (\d+) KiB \|.*?"
        rf"left RSS at (\d+) KiB",
        md,
        "scenario 7 (connect and drop) table",
    )
    g = [_num(x) for x in cd.groups()]
    out["connect_drop"] = dict(
        zip(
            (
                "connections",
                "in_flight",
                "seconds",
                "tasks_baseline",
                "tasks_after",
                "rss_kb_baseline",
                "rss_kb_peak",
                "rss_kb_after",
                "rss_kb_after_second_wave",
            ),
            g,
            strict=True,
        )
    )
    tm = _must(
        rf"waves of (\d+) connections.*?: {n} KiB after the second wave, {n} KiB after the fourth",
        md,
        "tracemalloc leak check",
    )
    g = [_num(x) for x in tm.groups()]
    out["connect_drop_tracemalloc"] = {
        "connections_per_wave": g[0],
        "traced_kb_after_wave2": g[1],
        "traced_kb_after_wave4": g[2],
    }
    for line in re.findall(r"^- `(\w+)`: (.*)$", md, re.M):
        name, items = line
        rec: dict[str, Any] = {}
        for item in items.split(", "):
            k, _, v = item.partition("=")
            rec[k.strip()] = _num(v.strip()) if re.fullmatch(r"-?[\d.]+", v.strip()) else v
        out[name] = rec
    for needed in ("link_resets", "half_open", "sigkill_restarts"):
        if needed not in out:
            raise MissingInput("docs/reliability.md", REL_COMMAND, f"has no `{needed}` figures")
    return out


# --------------------------------------------------------------------------- benchmarks

BENCH_COMMAND = "make bench"


def _section(md: str, heading: str) -> str | None:
    """The text under ``heading`` (a Markdown heading line) up to the next heading of the
    same or a higher level."""
    lines = md.splitlines()
    for i, ln in enumerate(lines):
        if ln.strip() == heading:
            level = len(heading) - len(heading.lstrip("#"))
            body = []
            for nxt in lines[i + 1 :]:
                s = nxt.lstrip()
                if s.startswith("#"):
                    lvl = len(s) - len(s.lstrip("#"))
                    if lvl <= level:
                        break
                body.append(nxt)
            return "\n".join(body).strip()
    return None


def benchmarks(root: Path) -> dict[str, Any]:
    """The comparison written by ``make bench``: tables (verbatim) and plot files."""
    path = root / "docs" / "benchmarks.md"
    if not path.exists():
        raise MissingInput("docs/benchmarks.md", BENCH_COMMAND)
    md = path.read_text()
    targets = _section(md, "## Targets of the issue")
    results = _section(md, "## Results")
    machine = _section(md, "## Machine and versions")
    if targets is None or results is None:
        raise MissingInput(
            "docs/benchmarks.md",
            BENCH_COMMAND,
            "has no 'Targets of the issue' or 'Results' section",
        )
    generated = re.search(r"Generated (\d{4}-\d\d-\d\d[^.]*)\.", md)
    runs = re.search(r"median of (\d+) runs", md)
    plots = sorted((root / "docs" / "benchmarks").glob("*.png"))
    if not plots:
        raise MissingInput("docs/benchmarks/*.png", BENCH_COMMAND, "(the plots) do not exist")
    # the scenario subsections of Results, each with its own table
    scenarios: dict[str, str] = {}
    for m in re.finditer(r"^### (\S+)\n(.*?)(?=^### |\Z)", results, re.S | re.M):
        scenarios[m.group(1)] = m.group(2).strip()
    return {
        "targets_table": _table_only(targets),
        "machine_table": _table_only(machine or ""),
        "scenarios": scenarios,
        "generated": generated.group(1) if generated else "?",
        "runs": runs.group(1) if runs else "?",
        "plots": plots,
        "command": BENCH_COMMAND,
    }


def _table_only(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if ln.startswith("|"))


CLUSTER_COMMAND = "python -m tertulia.bench.cluster"


def cluster_bench(root: Path) -> dict[str, Any]:
    """The first (latest) table of ``docs/benchmarks-cluster.md``, with its load and machine."""
    path = root / "docs" / "benchmarks-cluster.md"
    if not path.exists():
        raise MissingInput("docs/benchmarks-cluster.md", CLUSTER_COMMAND)
    md = path.read_text()
    table: list[str] = []
    for ln in md.splitlines():
        if ln.startswith("|"):
            table.append(ln)
        elif table:
            break
    load = re.search(r"^Load: (.*)$", md, re.M)
    machine = re.search(r"^Machine: (.*)$", md, re.M)
    if len(table) < 3 or load is None:
        raise MissingInput("docs/benchmarks-cluster.md", CLUSTER_COMMAND, "has no result table")
    rows = {}
    for ln in table[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0].replace("-", "_")] = cells
    return {
        "table": "\n".join(table),
        "load": load.group(1).rstrip("."),
        "machine": machine.group(1).rstrip(".") if machine else "?",
        "rows": rows,
        "command": CLUSTER_COMMAND,
    }
