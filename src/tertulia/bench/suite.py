"""A whole benchmark session: scenarios x targets x runs, alternating targets, with progress.

Runs are interleaved -- run 1 of every target, then run 2 of every target -- so slow drift of
the machine (thermal, page cache, another process) spreads over all targets instead of
favouring whichever ran first. One worker pool serves the whole session.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tertulia.bench.pool import WorkerPool
from tertulia.bench.scenarios import (
    IRC_SCENARIOS,
    SCENARIOS,
    Progress,
    ScenarioSettings,
    run_scenario,
)
from tertulia.bench.targets import IrcTarget, TertuliaTarget

__all__ = ["LiveProgress", "Plan", "run_plan"]


@dataclass
class Plan:
    scenarios: list[str]
    targets: list[str]
    settings: ScenarioSettings
    runs: int = 1
    templates: Path = Path("scripts/bench")
    server_src: Path | None = None
    workdir: Path | None = None
    keep: bool = False
    steps: list[tuple[int, str, str]] = field(default_factory=list)

    def build(self) -> list[tuple[int, str, str]]:
        self.steps = [
            (run, scenario, target)
            for run in range(1, self.runs + 1)
            for scenario in self.scenarios
            for target in self.targets
            if target == "tertulia" or scenario in IRC_SCENARIOS
        ]
        return self.steps


class LiveProgress(Progress):
    """One status line on a terminal (redrawn in place), plain lines otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, quiet: bool = False) -> None:
        super().__init__()
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.text = ""
        self.since = time.monotonic()

    def phase(self, text: str) -> None:
        if self.quiet:
            return
        self.text = f"{self.prefix}{text}"
        self.since = time.monotonic()
        if self.tty:
            self.stream.write(f"\r\x1b[2K{self.text}")
        else:
            self.stream.write(self.text + "\n")
        self.stream.flush()

    def tick(self) -> None:
        if self.quiet or not self.tty:
            return
        spent = time.monotonic() - self.since
        self.stream.write(f"\r\x1b[2K{self.text} [{spent:4.1f} s]")
        self.stream.flush()

    def done(self, text: str) -> None:
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()


class _StopOnSignal:
    """SIGINT/SIGTERM end the session after the running scenario (its servers are stopped
    by PID as usual); a second signal interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def versions(plan: Plan) -> dict[str, str]:
    out: dict[str, str] = {}
    for target in plan.targets:
        with tempfile.TemporaryDirectory() as tmp:
            if target == "tertulia":
                out[target] = TertuliaTarget(Path(tmp), server_src=plan.server_src).version()
            else:
                out[target] = IrcTarget(target, Path(tmp), plan.templates).version()
    return out


def run_plan(
    plan: Plan,
    progress: LiveProgress,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every step of ``plan``; return the results in the order they were produced."""
    steps = plan.build()
    root = plan.workdir or Path(tempfile.mkdtemp(prefix="tertulia-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    stop = _StopOnSignal()
    try:
        with stop, WorkerPool(plan.settings.workers) as pool:
            for i, (run, scenario, target) in enumerate(steps, start=1):
                if stop.requested:
                    progress.done(f"stopped by signal after {i - 1} of {len(steps)} steps")
                    break
                progress.prefix = f"[{i}/{len(steps)}] {scenario} · {target} · run {run}: "
                workdir = root / f"{i:03d}-{scenario}-{target}-{run}"
                result = run_scenario(
                    scenario,
                    target,
                    plan.settings,
                    workdir,
                    pool=pool,
                    templates=plan.templates,
                    progress=progress,
                    server_src=plan.server_src,
                )
                result["run"] = run
                results.append(result)
                status = "ok" if result["ok"] else "ERRORS"
                if "failure" in result:
                    status = f"FAILED: {result['failure']}"
                progress.done(f"{progress.prefix}{status} ({result['duration_s']} s)")
                if on_result is not None:
                    on_result(result)
                if result["ok"] and not plan.keep:
                    shutil.rmtree(workdir, ignore_errors=True)
    finally:
        if not plan.keep and plan.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    return results


def all_scenarios() -> list[str]:
    return list(SCENARIOS)
