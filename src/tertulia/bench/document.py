"""Writes ``docs/benchmarks.md`` from the results of a side-by-side run.

Everything in the document is computed from the results (tables, ratios, which targets are
met) except the hand-written analysis -- profiles, optimizations and their measured effect --
which is kept in ``scripts/bench/analysis.md`` and included verbatim, so ``make bench``
regenerates the whole file.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from tertulia.bench.report import KEY_METRICS, Summary, summarize

__all__ = ["machine_info", "render_document", "targets_met"]

DASH = "\u2013"
TIMES = "\u00d7"
NAMES = {"tertulia": "Tertulia", "inspircd": "InspIRCd", "ngircd": "ngIRCd"}


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "kernel": platform.release(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
    }


def _runs(results: list[dict[str, Any]], scenario: str, target: str) -> list[dict[str, Any]]:
    return [r for r in results if r["scenario"] == scenario and r["target"] == target]


def _sum(results: list[dict[str, Any]], scenario: str, target: str, path: str) -> Summary | None:
    return summarize(_runs(results, scenario, target), path)


def _ratio(a: Summary | None, b: Summary | None) -> str:
    if a is None or b is None or b.median == 0:
        return DASH
    return f"{a.median / b.median:.2f}{TIMES}"


def targets_met(results: list[dict[str, Any]], peers: list[str]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each goal of the issue, computed from the medians."""
    out: list[tuple[str, str, str]] = []

    def s(scenario: str, target: str, path: str) -> Summary | None:
        return _sum(results, scenario, target, path)

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "not met")

    ins = "inspircd" if "inspircd" in peers else None
    if ins:
        t_cpu = s("fanout", "tertulia", "server_cpu_us_per_delivery")
        i_cpu = s("fanout", ins, "server_cpu_us_per_delivery")
        ok = None if t_cpu is None or i_cpu is None else t_cpu.median <= i_cpu.median
        out.append(
            (
                f"Fan-out: server CPU per delivery ≤ 1.0{TIMES} InspIRCd",
                f"{_ratio(t_cpu, i_cpu)} ({_txt(t_cpu)} vs {_txt(i_cpu)} µs)",
                verdict(ok),
            )
        )
        t_d = s("fanout", "tertulia", "deliveries_per_s")
        i_d = s("fanout", ins, "deliveries_per_s")
        ok = None if t_d is None or i_d is None else t_d.median >= i_d.median
        out.append(
            (
                f"Fan-out: deliveries/s ≥ 1.0{TIMES} InspIRCd",
                f"{_ratio(t_d, i_d)} ({_txt(t_d)} vs {_txt(i_d)})",
                verdict(ok),
            )
        )
    t99 = s("latency", "tertulia", "latency.p99_ms")
    peer99 = [x for p in peers if (x := s("latency", p, "latency.p99_ms")) is not None]
    best = min(peer99, key=lambda x: x.median) if peer99 else None
    ok = None if t99 is None or best is None else t99.median <= best.median
    out.append(
        (
            "Latency: p99 ≤ best peer's p99",
            f"{_txt(t99)} ms vs {_txt(best)} ms",
            verdict(ok),
        )
    )
    t50 = s("latency", "tertulia", "latency.p50_ms")
    out.append(
        (
            "Latency: p50 ≤ 1.5 ms with durable acks",
            f"{_txt(t50)} ms",
            verdict(None if t50 is None else t50.median <= 1.5),
        )
    )
    if "ngircd" in peers:
        tc = s("connect", "tertulia", "elapsed_s")
        nc = s("connect", "ngircd", "elapsed_s")
        ok = None if tc is None or nc is None else tc.median <= 0.5 * nc.median
        peer_failed = s("connect", "ngircd", "failed")
        note = ""
        if peer_failed is not None and peer_failed.median > 0:
            note = (
                f"; ngIRCd had {_txt(peer_failed)} of the clients fail (median), so its time "
                "is the generator's 60 s timeout"
            )
        ti = s("connect", "inspircd", "elapsed_s")
        if ti is not None and tc is not None:
            note += f"; vs InspIRCd, which completed: {_ratio(tc, ti)} ({_txt(ti)} s)"
        out.append(
            (
                f"Connect storm (200 in flight): ≤ 0.5{TIMES} ngIRCd's time",
                f"{_ratio(tc, nc)} ({_txt(tc)} s vs {_txt(nc)} s{note})",
                verdict(ok),
            )
        )
    runs = _runs(results, "connect-all", "tertulia")
    failed = sum(int(r.get("metrics", {}).get("failed", 1)) for r in runs) if runs else None
    out.append(
        (
            "Connect storm, all at once: none failing",
            DASH if failed is None else f"{failed} failed over {len(runs)} runs",
            verdict(None if failed is None else failed == 0 and all(r.get("ok") for r in runs)),
        )
    )
    mem = s("memory", "tertulia", "rss_per_conn_kb")
    held = s("memory", "tertulia", "alive_after_hold")
    out.append(
        (
            "Memory: ≤ 20 KB RSS per idle TLS connection, 10,000 clients on one process",
            f"{_txt(mem)} KB, {_txt(held)} held",
            verdict(
                None
                if mem is None
                else mem.median <= 20 and (held is not None and held.median >= 10000)
            ),
        )
    )
    bad = [r for r in results if r["target"] == "tertulia" and not r.get("ok")]
    out.append(
        (
            "Correctness: zero lost, duplicated or reordered in every run",
            f"{len(bad)} of {sum(1 for r in results if r['target'] == 'tertulia')} Tertulia runs "
            "with any error",
            verdict(not bad),
        )
    )
    return out


def _txt(s: Summary | None) -> str:
    return DASH if s is None else s.text(spread=False)


def render_document(
    results: list[dict[str, Any]],
    *,
    targets: list[str],
    settings: dict[str, Any],
    versions: dict[str, str],
    commands: list[str],
    plots: list[Path],
    doc_dir: Path,
    analysis: str = "",
    runs: int = 1,
) -> str:
    peers = [t for t in targets if t != "tertulia"]
    info = machine_info()
    lines: list[str] = []
    add = lines.append
    add("# Benchmarks: Tertulia side by side with InspIRCd and ngIRCd")
    add("")
    add(
        "Generated by `make bench` (`tertulia bench --compare`); do not edit by hand -- the "
        "analysis section comes from `scripts/bench/analysis.md`. Every figure is the median "
        f"of {runs} runs, with the min{DASH}max range in parentheses; the targets were run "
        "alternately (run 1 of each, then run 2 of each, ...) so drift affects all alike."
    )
    add("")
    add(f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")
    loads = [r["loadavg_before"] for r in results if "loadavg_before" in r]
    if loads:
        add("")
        add(
            f"Machine load (1-minute load average) at the start of each run: median "
            f"{sorted(loads)[len(loads) // 2]:.1f}, max {max(loads):.1f} on {info['cores']} "
            "cores. A load above the benchmark's own share means other processes were "
            "competing for the CPU: wall-clock figures (rates, latencies, times) suffer from "
            "it, CPU time per delivery much less."
        )
    add("")
    add("## Machine and versions")
    add("")
    add("| | |")
    add("|---|---|")
    for key in ("cpu", "cores", "memory", "os", "kernel", "python"):
        add(f"| {key} | {info[key]} |")
    for target in targets:
        add(f"| {NAMES.get(target, target)} | {versions.get(target, '?')} |")
    add("")
    add(
        "All servers listen on 127.0.0.1 with TLS (self-signed certificate); the load generator "
        f"runs in {settings.get('workers')} processes on uvloop on the same machine. Server CPU "
        "time comes from `/proc/PID/stat` of the server process over the measured window; the "
        "generator's own CPU time is reported beside it. IRC peers run with flood control "
        "disabled (`scripts/bench/*.conf.in`); Tertulia runs with its defaults except a cheap "
        "argon2id cost (time_cost=1, memory_cost=256 KiB) so logins measure the server, not the "
        "password hash (the IRC peers have no passwords at all), and every message is stored in "
        "SQLite with `synchronous=FULL` and acknowledged after its commit."
    )
    add("")
    add("## Targets of the issue")
    add("")
    add("| target | measured (Tertulia vs peer, medians) | verdict |")
    add("|---|---|---|")
    for goal, measured, verdict in targets_met(results, peers):
        add(f"| {goal} | {measured} | {verdict} |")
    add("")
    add("## Results")
    add("")
    for scenario, metrics in KEY_METRICS.items():
        present = [t for t in targets if _runs(results, scenario, t)]
        if not present:
            continue
        add(f"### {scenario}")
        add("")
        add(_DESCRIPTIONS.get(scenario, "").format(**settings))
        add("")
        head = ["metric", *(NAMES.get(t, t) for t in present)]
        head += [f"Tertulia/{NAMES.get(p, p)}" for p in present if p != "tertulia"]
        add("| " + " | ".join(head) + " |")
        add("|" + "---|" * len(head))
        for metric in metrics:
            sums = {t: _sum(results, scenario, t, metric.path) for t in present}
            if all(v is None for v in sums.values()):
                continue
            unit = f" ({metric.unit})" if metric.unit else ""
            row = [f"{metric.label}{unit}"]
            row += [DASH if sums[t] is None else sums[t].text() for t in present]  # type: ignore[union-attr]
            if "tertulia" in present:
                row += [_ratio(sums["tertulia"], sums[p]) for p in present if p != "tertulia"]
            add("| " + " | ".join(row) + " |")
        add("")
        add("Correctness (all runs): " + _correctness_line(results, scenario, present))
        add("")
    if plots:
        add("## Plots")
        add("")
        for p in plots:
            rel = os.path.relpath(p, doc_dir)
            add(f"![{p.stem}]({rel})")
        add("")
    add("## Settings")
    add("")
    add("```json")
    import json

    add(json.dumps(settings, indent=1, sort_keys=True))
    add("```")
    add("")
    add("## Commands")
    add("")
    add("```sh")
    lines.extend(commands)
    add("```")
    add("")
    if analysis.strip():
        lines.append(analysis.rstrip())
        add("")
    return "\n".join(lines)


def _correctness_line(results: list[dict[str, Any]], scenario: str, targets: list[str]) -> str:
    parts = []
    for t in targets:
        runs = _runs(results, scenario, t)
        totals: dict[str, int] = {}
        failures = 0
        for r in runs:
            if "failure" in r:
                failures += 1
            for k, v in r.get("correctness", {}).items():
                if k in ("lost", "duplicated", "reordered", "failed", "dropped"):
                    totals[k] = totals.get(k, 0) + int(v)
        text = ", ".join(f"{k} {v}" for k, v in totals.items()) or "n/a"
        if failures:
            text += f", {failures} runs failed"
        parts.append(f"{NAMES.get(t, t)}: {text}")
    return "; ".join(parts) + "."


_DESCRIPTIONS = {
    "fanout": (
        "One room of {clients} clients; {senders} of them send {size}-character messages as "
        "fast as a window of {window} unacknowledged messages allows (Tertulia: `sent` acks "
        "after the commit; IRC: a PING after every 8 PRIVMSG, its PONG acknowledges them), "
        "for {duration} s. A delivery is one message received by one other member."
    ),
    "latency": (
        "{rate} msg/s in total from {senders} senders into a room of {clients} clients, while "
        "{idle} more clients stay connected and idle, for {duration} s. Latency: from the "
        "sender's write to each receiver's read; ack latency: to the sender's `sent` (Tertulia, "
        "durable) or PONG (IRC)."
    ),
    "connect": (
        "{storm} clients each open TCP+TLS, log in (IRC: NICK/USER until 001) and join a room "
        "(IRC: until end of NAMES), at most {in_flight} at a time."
    ),
    "connect-all": "The same {storm} clients, all at once.",
    "memory": (
        "{memory_clients} idle clients connected and logged in on one server process; RSS "
        "growth over the baseline divided by the connections."
    ),
    "reconnect": (
        "{reconnect_clients} clients in a room see 200 messages, the server restarts (SIGTERM, "
        "start), 200 more messages arrive, then every client reconnects ({in_flight} in flight), "
        "logs in with the resume token of its last `login_ok` (`resume`; a password login "
        "only if the server issued none) and catches up with `sync` from its last seq; every "
        "receiver must end with every message exactly once, in order. Tertulia only."
    ),
    "history": (
        "{history_clients} clients replay a room of {history} stored messages with `sync` "
        "from seq 0, concurrently. Tertulia only."
    ),
}
