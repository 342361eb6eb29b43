"""The benchmark scenarios: what is set up, what is measured, and what must hold.

Each scenario starts a fresh server (``make_target``), drives the generator workers through its
phases and returns a result dict: ``metrics`` (figures), ``correctness`` (lost, duplicated,
reordered: all must be zero) and ``errors``. Server CPU comes from ``/proc/PID/stat`` over the
measured window; the generator's own CPU is reported beside it.

Scenarios (``SCENARIOS``):

* ``fanout`` -- one room of ``clients``, ``senders`` of them sending as fast as their window of
  unacknowledged messages allows: deliveries/s and server CPU per delivery.
* ``latency`` -- ``rate`` msg/s in total into that room while ``idle`` more clients stay
  connected: delivery latency p50/p99/p999 and ack latency.
* ``connect`` / ``connect-all`` -- ``storm`` clients connect, log in and join a room, at most
  ``in_flight`` at once / all at once: total time, per-client time, failures.
* ``reconnect`` -- clients that saw part of a room, a server restart, new messages, then every
  client comes back at once and catches up (resume token if the server issues one, else login
  + ``sync``): time, and exactly-once delivery across the restart.
* ``memory`` -- ``memory_clients`` idle TLS connections on one process: RSS per connection.
* ``history`` -- ``history_clients`` clients replay a room of ``history`` messages with
  ``sync``: replay time and messages/s.

``reconnect`` and ``history`` use Tertulia features IRC does not have; IRC targets skip them.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tertulia.bench.pool import WorkerPool, split
from tertulia.bench.procstat import sample
from tertulia.bench.seed import HISTORY_SENDER, Seed, seed_database
from tertulia.bench.stats import Histogram
from tertulia.bench.targets import (
    BENCH_PASSWORD,
    BENCH_PASSWORDS,
    IrcTarget,
    Target,
    TertuliaTarget,
)

__all__ = [
    "IRC_SCENARIOS",
    "SCENARIOS",
    "Progress",
    "ScenarioSettings",
    "make_target",
    "run_scenario",
]

ROOM = "bench"


@dataclass
class ScenarioSettings:
    """Sizes of every scenario; the defaults are the ones of the issue's comparison."""

    workers: int = 2
    clients: int = 100
    senders: int = 10
    duration: float = 5.0
    window: int = 64
    batch: int = 16
    size: int = 100
    rate: float = 500.0
    idle: int = 1000
    storm: int = 2000
    in_flight: int = 200
    memory_clients: int = 10000
    memory_hold: float = 3.0
    reconnect_clients: int = 1000
    history: int = 20000
    history_clients: int = 20
    timeout: float = 60.0
    #: directory for py-spy profiles of the server during measured windows ("" = none)
    profile: str = ""
    #: a TOML file whose settings are added to the Tertulia server's configuration
    server_config: str = ""

    @classmethod
    def quick(cls) -> ScenarioSettings:
        """Tiny sizes that finish in seconds (tests, a smoke check of an installation)."""
        return cls(
            workers=2,
            clients=10,
            senders=2,
            duration=0.5,
            window=16,
            batch=4,
            rate=100.0,
            idle=10,
            storm=30,
            in_flight=10,
            memory_clients=40,
            memory_hold=0.3,
            reconnect_clients=12,
            history=300,
            history_clients=3,
            timeout=20.0,
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Progress:
    """Where the run is; the default prints one line per phase to a callback (stderr)."""

    def __init__(self, emit: Callable[[str], None] | None = None) -> None:
        self.emit = emit or (lambda text: None)
        self.prefix = ""

    def phase(self, text: str) -> None:
        self.emit(f"{self.prefix}{text}")

    def tick(self) -> None:
        """Called a few times a second while workers are busy (a live display may redraw)."""


# ---------------------------------------------------------------------------- targets


def make_target(
    kind: str,
    workdir: Path,
    seed: Seed | None,
    templates: Path,
    *,
    size: int = 100,
    server_src: Path | None = None,
    server_config: str = "",
) -> Target:
    """A fresh server of ``kind`` in ``workdir``; Tertulia's database is seeded first."""
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "tertulia":
        extra = Path(server_config).read_text() if server_config else ""
        target = TertuliaTarget(workdir, extra, server_src=server_src)
        if seed is not None:
            seed_database(target.data_dir, seed, BENCH_PASSWORDS, size=size, server_src=server_src)
        return target
    return IrcTarget(kind, workdir, templates)


# ---------------------------------------------------------------------------- helpers


class _Run:
    """Shared plumbing of one scenario run: the target, the pool, CPU and time windows."""

    def __init__(self, target: Target, pool: WorkerPool, s: ScenarioSettings, p: Progress):
        self.target = target
        self.pool = pool
        self.s = s
        self.p = p
        self.errors: list[str] = []

    def profiler(self, name: str, seconds: float) -> subprocess.Popen[bytes] | None:
        """Start py-spy on the server for ``seconds`` if ``--set profile=DIR`` asked for it."""
        if not self.s.profile:
            return None
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists() or self.target.protocol != "tertulia":
            return None
        out = Path(self.s.profile)
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"{name}-{self.target.name}-{int(time.time())}"
        cmd = [spy, "record", "-p", str(self.target.pid), "-d", str(max(1, int(seconds)))]
        cmd += ["-r", "200", "--format", "raw", "-o", f"{stem}.txt"]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def call(self, method: str, per: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
        return self.pool.call(method, per, tick=self.p.tick, **kw)

    def open(
        self,
        group: str,
        ids: list[int],
        *,
        rooms: list[str],
        receive: bool,
        concurrency: int,
        cursors: bool = False,
    ) -> dict[str, Any]:
        parts = split(ids, self.pool.count)
        per_worker = max(1, concurrency // self.pool.count)
        results = self.call(
            "open",
            [{"ids": part} for part in parts],
            group=group,
            kind=self.target.protocol,
            host=self.target.host,
            port=self.target.port,
            password=BENCH_PASSWORD,
            rooms=rooms,
            receive=receive,
            concurrency=per_worker,
            timeout=self.s.timeout,
            cursors=cursors,
        )
        times = Histogram()
        for r in results:
            times.merge(Histogram.from_json(r["times"]))
            self.errors.extend(r["errors"])
        return {
            "connected": sum(r["connected"] for r in results),
            "failed": sum(r["failed"] for r in results),
            "times": times,
            "replayed": sum(r["replayed"] for r in results),
            "resumed": sum(r["resumed"] for r in results),
        }

    def senders_of(self, ids: list[int]) -> list[dict[str, Any]]:
        """Per-worker sender lists, matching how ``open`` dealt the ids."""
        return [{"senders": part} for part in split(ids, self.pool.count)]

    def collect(self, group: str, sent: dict[str, int]) -> dict[str, Any]:
        results = self.call("collect", group=group, sent=sent, timeout=self.s.timeout)
        latency = Histogram()
        out: dict[str, Any] = {"received": 0, "lost": 0, "duplicated": 0, "reordered": 0}
        for r in results:
            latency.merge(Histogram.from_json(r["latency"]))
            for key in out:
                out[key] += r[key]
        out["closed_clients"] = sum(r["closed_clients"] for r in results)
        firsts = [r["first_ns"] for r in results if r["first_ns"]]
        out["first_ns"] = min(firsts) if firsts else 0
        out["last_ns"] = max(r["last_ns"] for r in results)
        out["latency"] = latency
        return out

    def send_results(self, results: list[dict[str, Any]]) -> tuple[dict[str, int], Histogram, int]:
        sent: dict[str, int] = {}
        ack = Histogram()
        for r in results:
            sent.update(r["sent"])
            ack.merge(Histogram.from_json(r["ack"]))
            self.errors.extend(r["errors"])
        started = min(r["started_ns"] for r in results)
        return sent, ack, started


def _correctness(c: dict[str, Any], expected: int) -> dict[str, Any]:
    return {
        "expected": expected,
        "received": c["received"],
        "lost": c["lost"],
        "duplicated": c["duplicated"],
        "reordered": c["reordered"],
    }


def _times(h: Histogram) -> dict[str, Any]:
    return {k: v for k, v in h.summary().items() if k != "n"}


# ---------------------------------------------------------------------------- scenarios


def _seed_room(s: ScenarioSettings, users: int, members: int, history: int = 0) -> Seed:
    return Seed(users, BENCH_PASSWORD).room(ROOM, range(members), history)


def fanout(r: _Run) -> dict[str, Any]:
    s = r.s
    ids = list(range(s.clients))
    r.p.phase(f"connecting {len(ids)} clients")
    opened = r.open("room", ids, rooms=[ROOM], receive=True, concurrency=s.in_flight)
    senders = ids[: s.senders]
    r.p.phase(f"{s.senders} senders at max rate for {s.duration:.1f} s")
    spy = r.profiler("fanout", s.duration)
    cpu0, gen0 = sample(r.target.pid).cpu, r.pool.cpu_seconds()
    res = r.call(
        "blast",
        r.senders_of(senders),
        group="room",
        room=ROOM,
        duration=s.duration,
        window=s.window,
        batch=s.batch,
        size=s.size,
    )
    sent, ack, started = r.send_results(res)
    c = r.collect("room", sent)
    cpu1, gen1 = sample(r.target.pid).cpu, r.pool.cpu_seconds()
    if spy is not None:
        spy.wait(30)
    messages = sum(sent.values())
    expected = messages * (opened["connected"] - 1)
    deliveries = c["received"]
    elapsed = max(1e-9, (c["last_ns"] - started) / 1e9)
    server_cpu = cpu1 - cpu0
    return {
        "metrics": {
            "messages": messages,
            "deliveries": deliveries,
            "elapsed_s": round(elapsed, 3),
            "deliveries_per_s": round(deliveries / elapsed),
            "messages_per_s": round(messages / elapsed),
            "server_cpu_s": round(server_cpu, 3),
            "server_cpu_us_per_delivery": round(server_cpu / max(1, deliveries) * 1e6, 3),
            "server_cpu_util": round(server_cpu / elapsed, 3),
            "generator_cpu_s": round(gen1 - gen0, 3),
            "latency": _times(c["latency"]),
            "ack_latency": _times(ack),
        },
        "correctness": _correctness(c, expected),
    }


def latency(r: _Run) -> dict[str, Any]:
    s = r.s
    room_ids = list(range(s.clients))
    idle_ids = list(range(s.clients, s.clients + s.idle))
    r.p.phase(f"connecting {len(idle_ids)} idle clients")
    idle = r.open("idle", idle_ids, rooms=[], receive=False, concurrency=s.in_flight)
    r.p.phase(f"connecting {len(room_ids)} room clients")
    opened = r.open("room", room_ids, rooms=[ROOM], receive=True, concurrency=s.in_flight)
    senders = room_ids[: s.senders]
    r.p.phase(f"{s.rate:.0f} msg/s for {s.duration:.1f} s")
    cpu0, gen0 = sample(r.target.pid).cpu, r.pool.cpu_seconds()
    res = r.call(
        "pace",
        r.senders_of(senders),
        group="room",
        room=ROOM,
        duration=s.duration,
        rate=s.rate / len(senders),
        size=s.size,
    )
    sent, ack, started = r.send_results(res)
    c = r.collect("room", sent)
    cpu1, gen1 = sample(r.target.pid).cpu, r.pool.cpu_seconds()
    messages = sum(sent.values())
    elapsed = max(1e-9, (c["last_ns"] - started) / 1e9)
    alive = sum(x["alive"] for x in r.call("alive", group="idle"))
    return {
        "metrics": {
            "messages": messages,
            "deliveries": c["received"],
            "idle_connected": idle["connected"],
            "idle_alive_after": alive,
            "latency": _times(c["latency"]),
            "ack_latency": _times(ack),
            "server_cpu_s": round(cpu1 - cpu0, 3),
            "server_cpu_util": round((cpu1 - cpu0) / elapsed, 3),
            "generator_cpu_s": round(gen1 - gen0, 3),
        },
        "correctness": _correctness(c, messages * (opened["connected"] - 1)),
    }


def _storm(r: _Run, cap: int | None) -> dict[str, Any]:
    s = r.s
    ids = list(range(1, s.storm + 1))
    concurrency = cap if cap else len(ids)
    r.p.phase(f"{len(ids)} clients connect+login+join, {cap or 'all'} in flight")
    spy = r.profiler("connect" if cap else "connect-all", 8)
    cpu0, gen0 = sample(r.target.pid).cpu, r.pool.cpu_seconds()
    t0 = time.monotonic()
    opened = r.open("storm", ids, rooms=[ROOM], receive=False, concurrency=concurrency)
    elapsed = time.monotonic() - t0
    cpu1, gen1 = sample(r.target.pid).cpu, r.pool.cpu_seconds()
    if spy is not None:
        spy.wait(30)
    return {
        "metrics": {
            "clients": len(ids),
            "in_flight": cap or len(ids),
            "connected": opened["connected"],
            "failed": opened["failed"],
            "elapsed_s": round(elapsed, 3),
            "connects_per_s": round(opened["connected"] / elapsed, 1),
            "connect_time": _times(opened["times"]),
            "server_cpu_s": round(cpu1 - cpu0, 3),
            "server_cpu_ms_per_connect": round((cpu1 - cpu0) / max(1, len(ids)) * 1e3, 3),
            "generator_cpu_s": round(gen1 - gen0, 3),
        },
        "correctness": {"failed": opened["failed"]},
    }


def connect(r: _Run) -> dict[str, Any]:
    return _storm(r, r.s.in_flight)


def connect_all(r: _Run) -> dict[str, Any]:
    return _storm(r, None)


def memory(r: _Run) -> dict[str, Any]:
    s = r.s
    r.p.phase("baseline")
    r.open("probe", [0], rooms=[], receive=False, concurrency=1)
    time.sleep(1.0)
    rss0 = sample(r.target.pid).rss
    ids = list(range(1, s.memory_clients + 1))
    r.p.phase(f"{len(ids)} idle TLS connections")
    t0 = time.monotonic()
    opened = r.open("idle", ids, rooms=[], receive=False, concurrency=s.in_flight)
    elapsed = time.monotonic() - t0
    time.sleep(s.memory_hold)
    rss1 = sample(r.target.pid).rss
    alive = sum(x["alive"] for x in r.call("alive", group="idle"))
    per = (rss1 - rss0) / max(1, opened["connected"])
    return {
        "metrics": {
            "clients": len(ids),
            "connected": opened["connected"],
            "alive_after_hold": alive,
            "connect_elapsed_s": round(elapsed, 3),
            "rss_before_mb": round(rss0 / 2**20, 1),
            "rss_after_mb": round(rss1 / 2**20, 1),
            "rss_per_conn_kb": round(per / 1024, 2),
        },
        "correctness": {"failed": opened["failed"], "dropped": opened["connected"] - alive},
    }


def reconnect(r: _Run) -> dict[str, Any]:
    s = r.s
    n = s.reconnect_clients
    ids = list(range(n))
    writer = n  # seeded as a member too
    r.p.phase(f"connecting {n} clients")
    r.open("room", ids, rooms=[ROOM], receive=True, concurrency=s.in_flight)
    r.p.phase("traffic before the restart")
    first = r.call(
        "pace", r.senders_of([0]), group="room", room=ROOM, duration=1.0, rate=200.0, size=s.size
    )
    sent, _, _ = r.send_results(first)
    r.collect("room", sent)
    r.p.phase("server restart")
    r.call("drop", group="room")
    r.target.stop()
    r.target.start()
    r.open("writer", [writer], rooms=[ROOM], receive=False, concurrency=1)
    second = r.call(
        "pace",
        r.senders_of([writer]),
        group="writer",
        room=ROOM,
        duration=1.0,
        rate=200.0,
        size=s.size,
    )
    sent2, _, _ = r.send_results(second)
    sent.update(sent2)
    r.p.phase(f"{n} clients reconnect and catch up, {s.in_flight} in flight")
    cpu0 = sample(r.target.pid).cpu
    t0 = time.monotonic()
    back = r.open("room", ids, rooms=[ROOM], receive=True, concurrency=s.in_flight, cursors=True)
    elapsed = time.monotonic() - t0
    cpu1 = sample(r.target.pid).cpu
    c = r.collect("room", sent)
    messages = sum(sent.values())
    expected_total = sum(v * (n - 1 if int(k) < n else n) for k, v in sent.items())
    return {
        "metrics": {
            "clients": n,
            "reconnected": back["connected"],
            "failed": back["failed"],
            "elapsed_s": round(elapsed, 3),
            "reconnects_per_s": round(back["connected"] / elapsed, 1),
            "reconnect_time": _times(back["times"]),
            "replayed_messages": back["replayed"],
            "messages": messages,
            "resumed_with_token": back["resumed"],
            "method": "resume token + sync"
            if back["resumed"]
            else "login + sync (the server issued no resume token)",
            "server_cpu_s": round(cpu1 - cpu0, 3),
        },
        "correctness": {**_correctness(c, expected_total), "failed": back["failed"]},
    }


def history(r: _Run) -> dict[str, Any]:
    s = r.s
    ids = list(range(s.history_clients))
    r.open("hist", ids, rooms=[], receive=True, concurrency=s.in_flight)
    r.p.phase(f"{len(ids)} clients replay {s.history} messages")
    cpu0, gen0 = sample(r.target.pid).cpu, r.pool.cpu_seconds()
    res = r.call(
        "sync_all", group="hist", cursors={ROOM: 0}, concurrency=s.in_flight, timeout=s.timeout
    )
    cpu1, gen1 = sample(r.target.pid).cpu, r.pool.cpu_seconds()
    elapsed = max(x["elapsed"] for x in res)
    times = Histogram()
    for x in res:
        times.merge(Histogram.from_json(x["times"]))
        r.errors.extend(x["errors"])
    c = r.collect("hist", {str(HISTORY_SENDER): s.history})
    total = s.history * len(ids)
    return {
        "metrics": {
            "clients": len(ids),
            "history": s.history,
            "elapsed_s": round(elapsed, 3),
            "messages_per_s": round(c["received"] / elapsed),
            "sync_time": _times(times),
            "server_cpu_s": round(cpu1 - cpu0, 3),
            "server_cpu_us_per_message": round((cpu1 - cpu0) / max(1, total) * 1e6, 3),
            "generator_cpu_s": round(gen1 - gen0, 3),
        },
        "correctness": {**_correctness(c, total), "failed": sum(x["failed"] for x in res)},
    }


Scenario = Callable[[_Run], dict[str, Any]]

#: name -> (function, seed for Tertulia given the settings)
SCENARIOS: dict[str, tuple[Scenario, Callable[[ScenarioSettings], Seed]]] = {
    "fanout": (fanout, lambda s: _seed_room(s, s.clients, s.clients)),
    "latency": (latency, lambda s: _seed_room(s, s.clients + s.idle, s.clients)),
    "connect": (connect, lambda s: _seed_room(s, s.storm + 1, 1)),
    "connect-all": (connect_all, lambda s: _seed_room(s, s.storm + 1, 1)),
    "reconnect": (
        reconnect,
        lambda s: _seed_room(s, s.reconnect_clients + 1, s.reconnect_clients + 1),
    ),
    "memory": (memory, lambda s: Seed(s.memory_clients + 1, BENCH_PASSWORD)),
    "history": (history, lambda s: _seed_room(s, s.history_clients, s.history_clients, s.history)),
}
#: scenarios that make sense for an IRC server
IRC_SCENARIOS = ("fanout", "latency", "connect", "connect-all", "memory")


def run_scenario(
    name: str,
    kind: str,
    settings: ScenarioSettings,
    workdir: Path,
    *,
    pool: WorkerPool,
    templates: Path,
    progress: Progress | None = None,
    server_src: Path | None = None,
) -> dict[str, Any]:
    """Run scenario ``name`` against a fresh server of ``kind``; always stops the server."""
    func, seeder = SCENARIOS[name]
    p = progress or Progress()
    p.phase("preparing server")
    seed = seeder(settings) if kind == "tertulia" else None
    target = make_target(kind, workdir, seed, templates, size=settings.size, server_src=server_src)
    started = time.time()
    result: dict[str, Any] = {
        "scenario": name,
        "target": kind,
        "version": target.version(),
        "started": started,
        # other processes competing for the CPU make every figure worse: say so in the result
        "loadavg_before": round(os.getloadavg()[0], 2),
    }
    run = _Run(target, pool, settings, p)
    try:
        target.start()
        result.update(func(run))
    except Exception as exc:
        result["failure"] = f"{type(exc).__name__}: {exc}"
        result.setdefault("metrics", {})
        result.setdefault("correctness", {})
    finally:
        for group in ("room", "idle", "probe", "storm", "writer", "hist"):
            try:
                pool.call("close", group=group, wait=120.0)
            except Exception as exc:
                run.errors.append(f"close {group}: {exc}")
        rc = target.stop()
        result["server_exit"] = rc
    result["loadavg_after"] = round(os.getloadavg()[0], 2)
    result["errors"] = run.errors[:10]
    result["duration_s"] = round(time.time() - started, 1)
    result["ok"] = "failure" not in result and _all_zero(result["correctness"])
    return result


def _all_zero(correctness: dict[str, Any]) -> bool:
    keys = ("lost", "duplicated", "reordered", "failed", "dropped")
    return all(not correctness.get(k) for k in keys)
