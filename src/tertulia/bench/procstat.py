"""CPU time and resident memory of a process, read from ``/proc`` (Linux).

Server CPU time per delivery is the fair throughput figure on a small machine: a Python load
generator saturates before a C server does, so deliveries per second alone would measure the
generator. ``utime + stime`` of the server's PID over the measured window does not.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcSample", "raise_nofile", "sample"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = resource.getpagesize()


@dataclass(frozen=True, slots=True)
class ProcSample:
    cpu: float  # seconds of user + system time
    rss: int  # bytes


def sample(pid: int) -> ProcSample:
    """CPU seconds and RSS bytes of ``pid`` now (zeros if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text()
    except OSError:
        return ProcSample(0.0, 0)
    # the command name may contain spaces and parentheses: fields start after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    rss = int(statm.split()[1]) * _PAGE
    return ProcSample(cpu, rss)


def raise_nofile(want: int | None = None) -> int:
    """Raise this process's soft open-files limit (to the hard limit, or ``want``); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if want is None else min(hard, max(soft, want))
    if hard == resource.RLIM_INFINITY and want is None:
        target = max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
