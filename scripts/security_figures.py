"""``make security-figures``: run the hostile-client suite and write its figures into
docs/security.md (the section between the ``attack-figures`` markers).

Each attack test records, through ``tests/security/attack_kit.py``, the honest pair's latency at
rest, during and after the attack and the server's RSS before, at its peak and after; this
script collects those records (``TERTULIA_ATTACK_FIGURES``) and renders one table row each,
with the machine's load average, the date and the commit, so the figures can be traced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"
START, END = "<!-- attack-figures:start -->", "<!-- attack-figures:end -->"


def _cell(p: dict[str, float], key: str) -> str:
    return "-" if key not in p else f"{p[key]:g}"


def render(records: list[dict[str, object]], commit: str) -> str:
    rows = [
        f"Measured {time.strftime('%Y-%m-%d')} at commit `{commit}` by `make security-figures`"
        f" on {os.cpu_count()} CPUs; each attack ran beside an honest pair (alice -> bob every"
        " 50 ms). Latency is the honest delivery latency in ms (p50 / p99 / max); RSS is the"
        " server's resident memory in MiB before, at the peak of and after the attack.",
        "",
        "| attack | s | rest p50/p99 | during p50/p99/max | after p50/p99 | RSS before/peak/after"
        " | load | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        h: dict[str, dict[str, float]] = r["honest"]  # type: ignore[assignment]
        rest, during, after = h.get("rest", {}), h.get("attack", {}), h.get("after", {})
        rss = "/".join(
            f"{int(r[k]) / 1024:.0f}"  # type: ignore[call-overload]
            for k in ("rss_before_kib", "rss_peak_kib", "rss_after_kib")
        )
        notes = ", ".join(f"{k} {v}" for k, v in dict(r["notes"]).items())  # type: ignore[call-overload]
        rows.append(
            f"| {r['attack']} | {r['seconds']} | {_cell(rest, 'p50_ms')} / {_cell(rest, 'p99_ms')}"
            f" | {_cell(during, 'p50_ms')} / {_cell(during, 'p99_ms')} / {_cell(during, 'max_ms')}"
            f" | {_cell(after, 'p50_ms')} / {_cell(after, 'p99_ms')} | {rss}"
            f" | {float(r['load_avg']):.2f} | {notes} |"  # type: ignore[arg-type]
        )
    return "\n".join(rows)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.jsonl"
        env = dict(os.environ, TERTULIA_ATTACK_FIGURES=str(out))
        cmd = [sys.executable, "-m", "pytest", "-q", "-s", "tests/security", *sys.argv[1:]]
        rc = subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode
        if rc != 0:
            print("the security suite failed: docs/security.md left as it was", file=sys.stderr)
            return rc
        records = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    doc = DOC.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        print(f"{DOC}: no {START} ... {END} section", file=sys.stderr)
        return 1
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{render(records, commit)}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {len(records)} attack figures to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
