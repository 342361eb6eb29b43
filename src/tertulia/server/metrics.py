"""Prometheus metrics: counters kept by the server, rendered in the text exposition format.

Nothing here is on the message path except :meth:`Histogram.observe` (a bisect and two adds).
Everything else is read from the server's own state when ``/metrics`` is scraped, so an unused
metrics endpoint costs nothing. Rates (messages/s, deliveries/s) are ``rate()`` over the
``_total`` counters in Prometheus; docs/operations.md lists what to alert on.
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tertulia.server.app import Server

__all__ = ["Histogram", "render_metrics"]

#: seconds; a group commit with fsync takes a few ms, PostgreSQL over a network a few more
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Histogram:
    """A cumulative Prometheus histogram with fixed buckets."""

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str) -> list[str]:
        out = []
        running = 0
        for bound, n in zip(self.buckets, self.counts, strict=False):
            running += n
            out.append(f'{name}_bucket{{le="{bound}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {self.sum:.6f}")
        out.append(f"{name}_count {self.count}")
        return out


_STARTED = time.monotonic()


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_: str, value: Any, **labels: str) -> None:
        self.head(name, kind, help_)
        self.sample(name, value, **labels)

    def head(self, name: str, kind: str, help_: str) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: Any, **labels: str) -> None:
        if labels:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            name = f"{name}{{{inner}}}"
        if isinstance(value, float):  # timestamps need all their digits, small values 6
            text = repr(round(value, 3)) if abs(value) >= 1e5 else f"{value:.6g}"
        else:
            text = str(value)
        self.lines.append(f"{name} {text}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _rss_bytes() -> int | None:
    try:
        with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def render_metrics(server: Server) -> str:
    """The ``/metrics`` page of ``server``."""
    out = _Out()
    hub = server.hub
    sessions = tuple(server.sessions)
    queued = [s.queued_bytes for s in sessions if not s.closing]
    out.metric("tertulia_up", "gauge", "1 while the server is running.", 1)
    out.metric(
        "tertulia_uptime_seconds", "gauge", "Seconds since start.", time.monotonic() - _STARTED
    )
    out.metric("tertulia_connections", "gauge", "Open client connections.", len(sessions))
    out.metric(
        "tertulia_connections_pre_login",
        "gauge",
        "Connections that have not logged in yet.",
        sum(1 for s in sessions if s.user is None),
    )
    held = sum(1 for u in hub.users.values() if u.held_since is not None)
    out.metric(
        "tertulia_users_present",
        "gauge",
        "Users with a session on this node (connected or held).",
        len(hub.users),
    )
    out.metric(
        "tertulia_sessions_held",
        "gauge",
        "Users held for the grace period after their last connection dropped.",
        held,
    )
    out.metric("tertulia_rooms_cached", "gauge", "Rooms held in memory.", len(hub.rooms))
    out.metric(
        "tertulia_messages_total", "counter", "Messages stored by this node.", hub.stats_messages
    )
    out.metric(
        "tertulia_fanout_deliveries_total",
        "counter",
        "Message frames written to client connections by this node.",
        hub.stats_deliveries,
    )
    out.metric(
        "tertulia_send_queue_bytes",
        "gauge",
        "Bytes waiting in all client send buffers.",
        sum(queued),
    )
    out.metric(
        "tertulia_send_queue_max_bytes",
        "gauge",
        "The largest single client send buffer (slow consumers are dropped at the limit).",
        max(queued, default=0),
    )
    out.metric(
        "tertulia_commits_pending",
        "gauge",
        "Messages handed to storage and not yet acknowledged and fanned out.",
        hub.pending_appends,
    )
    out.head(
        "tertulia_append_seconds", "histogram", "Time from handing a message to storage to commit."
    )
    out.lines.extend(hub.append_latency.lines("tertulia_append_seconds"))
    closes: dict[str, int] = dict(getattr(server, "closes", {}))
    out.metric(
        "tertulia_slow_consumer_drops_total",
        "counter",
        "Connections dropped because they did not read fast enough.",
        closes.get("slow_consumer", 0),
    )
    out.head(
        "tertulia_connections_closed_total", "counter", "Connections closed by the server, by code."
    )
    for code, n in sorted(closes.items()):
        out.sample("tertulia_connections_closed_total", n, code=code)
    out.head(
        "tertulia_tls_integrity_failures_total",
        "counter",
        "Connections ended by a TLS record that failed its integrity check (bad record MAC):"
        " detected here, or reported by the peer.",
    )
    integrity: dict[str, int] = dict(getattr(server, "tls_integrity_failures", {}))
    for where in ("here", "by_peer"):
        out.sample("tertulia_tls_integrity_failures_total", integrity.get(where, 0), detected=where)
    _error_metrics(out, server)
    _storage_metrics(out, server.storage)
    full = hub.storage_full
    out.metric(
        "tertulia_storage_full_refusals_total",
        "counter",
        "Requests answered storage_full: the store refused the write for lack of disk space.",
        full.refused,
    )
    out.metric(
        "tertulia_storage_full",
        "gauge",
        "1 while the last write failed because the disk was full (alert on it).",
        int(full.active),
    )
    _bus_metrics(out, server.bus)
    rss = _rss_bytes()
    if rss is not None:
        out.metric("tertulia_resident_memory_bytes", "gauge", "Resident memory.", rss)
    _process_metrics(out, rss)
    return "\n".join(out.lines) + "\n"


def _process_start_time() -> float:
    """When this process started, in Unix seconds: /proc/self/stat's start time after boot
    plus the boot time from /proc/stat, as Prometheus's client libraries compute it."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            btime = next(float(ln.split()[1]) for ln in fh if ln.startswith("btime "))
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _STARTED_WALL


_STARTED_WALL = time.time()


def _process_metrics(out: _Out, rss: int | None) -> None:
    """The standard ``process_*`` metrics and ``tertulia_build_info`` (what dashboards for
    any Prometheus-instrumented service expect)."""
    import platform
    import resource

    from tertulia import __version__

    times = os.times()
    out.metric(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        float(times.user + times.system),
    )
    if rss is not None:
        out.metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss)
    try:
        with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as fh:
            vsize = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        out.metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize)
    except (OSError, ValueError, IndexError):
        pass
    try:
        fds = len(os.listdir("/proc/self/fd"))
        out.metric("process_open_fds", "gauge", "Number of open file descriptors.", fds)
    except OSError:
        pass
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY:
        out.metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", soft)
    out.metric(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        float(_process_start_time()),
    )
    out.metric(
        "tertulia_build_info",
        "gauge",
        "Always 1; the labels say which Tertulia and Python this is.",
        1,
        version=__version__,
        python=platform.python_version(),
        implementation=platform.python_implementation(),
    )


def _error_metrics(out: _Out, server: Server) -> None:
    errors = getattr(server, "error_log", None)
    if errors is None:
        return
    out.head(
        "tertulia_request_errors_total", "counter", "Error frames answered to clients, by code."
    )
    for code, n in sorted(errors.answered.items()):
        out.sample("tertulia_request_errors_total", n, code=code)
    out.metric(
        "tertulia_internal_errors_total",
        "counter",
        "Requests that failed unexpectedly (answered internal; a bug).",
        errors.internal,
    )
    out.metric(
        "tertulia_log_lines_suppressed_total",
        "counter",
        "Error log lines left out by the log rate limit.",
        errors.suppressed,
    )


def _storage_metrics(out: _Out, storage: Any) -> None:
    stats = getattr(storage, "stats", None)
    if stats is None:
        return
    out.metric(
        "tertulia_storage_commits_total", "counter", "Write transactions committed.", stats.commits
    )
    out.metric(
        "tertulia_storage_writes_total", "counter", "Write jobs in those commits.", stats.writes
    )
    out.metric(
        "tertulia_storage_failed_transactions_total",
        "counter",
        "Write transactions that failed as a whole.",
        stats.failed_transactions,
    )
    out.metric(
        "tertulia_storage_largest_batch",
        "gauge",
        "The most writes one group commit has carried.",
        stats.largest_batch,
    )


def _bus_metrics(out: _Out, bus: Any) -> None:
    if not hasattr(bus, "published"):
        return
    out.metric(
        "tertulia_bus_connected",
        "gauge",
        "1 while the cluster bus (Redis) is connected.",
        int(bool(bus.healthy)),
    )
    out.metric("tertulia_bus_backlog", "gauge", "Bus commands waiting to be sent.", bus.backlog)
    for name, help_ in (
        ("published", "Commands sent to the bus."),
        ("received", "Events received from other nodes."),
        ("dropped", "Commands dropped because the backlog was full."),
        ("reconnects", "Times the bus subscription was restored."),
        ("resyncs", "Times this node backfilled every room from storage."),
    ):
        out.metric(f"tertulia_bus_{name}_total", "counter", help_, getattr(bus, name))
