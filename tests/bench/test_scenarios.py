"""A smoke run of every scenario against a real Tertulia server (tiny sizes, seconds each).

The generator runs in real worker processes and the server as ``python -m tertulia server``
on loopback, exactly as ``tertulia bench`` does; each run must report zero lost, duplicated
or reordered messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tertulia.bench.pool import WorkerPool
from tertulia.bench.scenarios import SCENARIOS, ScenarioSettings, run_scenario
from tertulia.cli.main import build_parser

TEMPLATES = Path(__file__).resolve().parents[2] / "scripts" / "bench"


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as p:
        yield p


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_smoke(name: str, pool: WorkerPool, tmp_path: Path) -> None:
    settings = ScenarioSettings.quick()
    result = run_scenario(name, "tertulia", settings, tmp_path, pool=pool, templates=TEMPLATES)
    assert "failure" not in result, (result.get("failure"), result["errors"])
    assert result["ok"], (result["correctness"], result["errors"])
    assert result["metrics"], result
    if "expected" in result["correctness"]:
        assert result["correctness"]["received"] == result["correctness"]["expected"] > 0


def test_cli_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        [
            "bench",
            "--quick",
            "-s",
            "fanout",
            "--json",
            "-",
            "--quiet",
            "--templates",
            str(TEMPLATES),
        ]
    )
    assert args.func(args) == 0
    payload = json.loads(capsys.readouterr().out)
    (result,) = payload["results"]
    assert result["scenario"] == "fanout" and result["ok"]
    assert result["metrics"]["deliveries"] > 0
    assert payload["settings"]["clients"] == ScenarioSettings.quick().clients
