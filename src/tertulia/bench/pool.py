"""The parent's handle on the generator processes: start, command, measure, stop.

Commands go to every worker at once and the parent waits for all answers, polling so that it
can refresh the progress display (and sample the server) meanwhile. Worker processes are
started with ``spawn`` (no forked event-loop state) and stopped by PID.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable, Sequence
from typing import Any

from tertulia.bench.procstat import sample
from tertulia.bench.worker import worker_main

__all__ = ["WorkerError", "WorkerPool", "split"]


class WorkerError(RuntimeError):
    """A worker reported an exception or died."""


def split(ids: Sequence[int], parts: int) -> list[list[int]]:
    """Deal ``ids`` round-robin into ``parts`` lists (so each worker gets a fair mix)."""
    out: list[list[int]] = [[] for _ in range(parts)]
    for i, cid in enumerate(ids):
        out[i % parts].append(cid)
    return out


class WorkerPool:
    def __init__(self, count: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.count = count
        self.conns: list[multiprocessing.connection.Connection] = []
        self.procs: list[Any] = []
        self._seq = 0
        for index in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, index), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        return [int(p.pid) for p in self.procs]

    def cpu_seconds(self) -> float:
        """CPU time used so far by all generator processes."""
        return sum(sample(pid).cpu for pid in self.pids)

    def call(
        self,
        method: str,
        per_worker: Sequence[dict[str, Any]] | None = None,
        *,
        wait: float = 900.0,
        tick: Callable[[], None] | None = None,
        **common: Any,
    ) -> list[dict[str, Any]]:
        """Run ``method`` on every worker (``common`` kwargs + that worker's own) and wait.

        Answers carry the command's sequence number, so a late answer to a command that
        failed elsewhere is recognised and dropped instead of being taken for this one's.
        """
        self._seq += 1
        seq = self._seq
        for i, conn in enumerate(self.conns):
            kwargs = dict(common)
            if per_worker is not None:
                kwargs.update(per_worker[i])
            conn.send((seq, method, kwargs))
        results: list[dict[str, Any] | None] = [None] * self.count
        deadline = time.monotonic() + wait
        pending = set(range(self.count))
        while pending:
            if time.monotonic() > deadline:
                raise WorkerError(f"{method}: workers did not answer within {wait:.0f} s")
            for i in tuple(pending):
                conn = self.conns[i]
                if conn.poll(0.0):
                    rseq, status, value = conn.recv()
                    if rseq != seq:
                        continue
                    if status != "ok":
                        raise WorkerError(f"worker {i} failed in {method}: {value}")
                    results[i] = value
                    pending.discard(i)
                elif not self.procs[i].is_alive():
                    raise WorkerError(f"worker {i} died during {method}")
            if pending:
                multiprocessing.connection.wait([self.conns[i] for i in pending], timeout=0.2)
                if tick is not None:
                    tick()
        return [r for r in results if r is not None]

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()  # by PID: our own child
                proc.join(5)
        for conn in self.conns:
            conn.close()
        self.conns = []
        self.procs = []
