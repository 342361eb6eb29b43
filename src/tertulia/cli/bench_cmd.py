"""``tertulia bench``: measure a Tertulia server on this machine (and compare it with IRC peers).

Operators use it to size a server: each scenario starts a fresh server on loopback, loads it
from several generator processes, checks that every receiver got every message exactly once and
in order, and prints deliveries/s, server CPU per delivery, latencies, connect times and memory
per connection. ``--compare`` runs InspIRCd and ngIRCd under the same load (``make bench``) and
``--doc`` writes the comparison as ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from tertulia.bench.scenarios import SCENARIOS

    p.add_argument(
        "--scenario",
        "-s",
        action="append",
        choices=list(SCENARIOS),
        help="scenario to run (repeatable; default: all)",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke check in seconds")
    p.add_argument("--runs", type=int, default=1, help="runs of each scenario (median reported)")
    p.add_argument("--workers", type=int, help="generator processes (default 2)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario setting, e.g. --set clients=200 --set duration=10",
    )
    p.add_argument("--json", metavar="FILE", help="write all results as JSON ('-' = stdout)")
    p.add_argument(
        "--compare",
        action="store_true",
        help="also run the IRC peers (InspIRCd, ngIRCd) under the same load",
    )
    p.add_argument("--peers", default="inspircd,ngircd", help="peers for --compare")
    p.add_argument("--doc", type=Path, help="write a Markdown report (docs/benchmarks.md)")
    p.add_argument("--plots", type=Path, help="directory for PNG plots (needs matplotlib)")
    p.add_argument(
        "--templates",
        type=Path,
        default=Path("scripts/bench"),
        help="directory with the peers' *.conf.in and analysis.md (default scripts/bench)",
    )
    p.add_argument(
        "--server-src",
        type=Path,
        help="run the Tertulia server from this source tree (compare two versions)",
    )
    p.add_argument("--workdir", type=Path, help="keep servers' data and logs here")
    p.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="run nothing: render the report (and --doc) from an earlier --json file",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress display")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench", help="load-test a server on this machine and report", description=__doc__
    )
    _add_arguments(p)
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> Any:
    from tertulia.bench.scenarios import ScenarioSettings

    s = ScenarioSettings.quick() if args.quick else ScenarioSettings()
    if args.workers:
        s.workers = args.workers
    fields = {f.name: f for f in dataclasses.fields(s)}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"tertulia bench: unknown setting {key!r} (have: {', '.join(fields)})")
        current = getattr(s, key)
        setattr(s, key, type(current)(value))
    return s


def run(args: argparse.Namespace) -> int:
    from tertulia.bench.report import terminal_report
    from tertulia.bench.scenarios import SCENARIOS
    from tertulia.bench.suite import LiveProgress, Plan, run_plan, versions
    from tertulia.bench.targets import peer_available

    settings = _settings(args)
    targets = ["tertulia"]
    if args.compare:
        for peer in [p.strip() for p in args.peers.split(",") if p.strip()]:
            if not peer_available(peer):
                print(
                    f"tertulia bench: {peer} is not installed (scripts/bench/install-peers.sh)",
                    file=sys.stderr,
                )
                return 1
            targets.append(peer)
    plan = Plan(
        scenarios=args.scenario or list(SCENARIOS),
        targets=targets,
        settings=settings,
        runs=max(1, args.runs),
        templates=args.templates,
        server_src=args.server_src,
        workdir=args.workdir,
        keep=args.workdir is not None,
    )
    if args.from_json:
        payload = json.loads(args.from_json.read_text())
        results, vers = payload["results"], payload["versions"]
        plan.targets = list(dict.fromkeys(r["target"] for r in results))
        plan.runs = max((int(r.get("run", 1)) for r in results), default=1)
        for key, value in payload["settings"].items():
            setattr(plan.settings, key, value)
        payload.setdefault("commands", [])
    else:
        progress = LiveProgress(quiet=args.quiet)
        results = run_plan(plan, progress)
        vers = versions(plan)
        payload = {
            "settings": settings.to_json(),
            "versions": vers,
            "results": results,
            "commands": _commands(),
        }
    if args.json == "-":
        print(json.dumps(payload, indent=1))
    else:
        print(terminal_report(results))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(payload, indent=1))
    if args.doc:
        _write_doc(args, plan, results, vers, payload["commands"] or _commands())
    # a peer's errors are findings for the report; only Tertulia's own runs must be clean
    return 0 if all(r["ok"] for r in results if r["target"] == "tertulia") else 1


def _commands() -> list[str]:
    """How this run was started, for the report."""
    argv = [a for a in sys.argv[1:]]
    prog = "tertulia"  # argv holds "bench" and what follows it
    if sys.argv and sys.argv[0].endswith("__main__.py"):
        prog = "python -m tertulia"
    return [
        "make bench   # = the three lines below",
        "python -m pip install -e '.[bench]'   # matplotlib, py-spy",
        "bash scripts/bench/install-peers.sh   # InspIRCd, ngIRCd (Debian packages)",
        prog + " " + " ".join(shlex.quote(a) for a in argv),
    ]


def _write_doc(
    args: argparse.Namespace,
    plan: Any,
    results: list[dict[str, Any]],
    vers: dict[str, str],
    commands: list[str],
) -> None:
    from tertulia.bench.document import render_document
    from tertulia.bench.plots import write_plots

    doc: Path = args.doc
    plots_dir = args.plots or doc.parent / "benchmarks"
    plots = write_plots(results, plan.targets, plots_dir)
    analysis_file = plan.templates / "analysis.md"
    analysis = analysis_file.read_text() if analysis_file.exists() else ""
    text = render_document(
        results,
        targets=plan.targets,
        settings=plan.settings.to_json(),
        versions=vers,
        commands=commands,
        plots=plots,
        doc_dir=doc.parent,
        analysis=analysis,
        runs=plan.runs,
    )
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
