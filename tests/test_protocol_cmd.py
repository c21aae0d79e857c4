"""`forgetmap protocols`: list built-ins, check a file, explain a task's settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forgetmap.cli.main import main as cli_main


def test_protocols_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["protocols", "--json"]) == 0
    names = {p["name"] for p in json.loads(capsys.readouterr().out)}
    assert {"forgetmap", "study-like"} <= names
    assert cli_main(["protocols", "study-like", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    tasks = doc["tasks"]
    assert tasks["salad_bench:mrq"]["changed"] == {"multi_answer": "any_gold"}
    assert set(tasks["mmlu:anatomy"]["changed"]) == {"shots", "fewshot_source", "exemplars"}
    assert len(tasks["piqa:validation"]["excluded"]) == 3 and "bbh:navigate" not in tasks
    assert cli_main(["protocols", "study-like", "--task", "musr:team_allocation", "--json"]) == 0
    rows = {r["setting"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["shots"]["value"] == 1
    assert rows["shots"]["from"] == "study-like.yaml: benchmarks.musr.shots"
    assert rows["exemplars"]["from"] == "study-like.yaml: tasks.musr:team_allocation.exemplars"
    assert cli_main(["protocols", "forgetmap", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tasks"] == {}
    bad = tmp_path / "bad.yaml"
    bad.write_text("benchmarks:\n  arc:\n    shots: many\n")
    assert cli_main(["protocols", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{bad}: benchmarks.arc.shots: must be an integer >= 0, got 'many'")
    assert cli_main(["protocols"]) == 0 and "study-like" in capsys.readouterr().out
