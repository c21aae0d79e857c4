"""`forgetmap plan`: design from the registry and the benchmark files, MDE and items needed."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from forgetmap.cli.main import main
from forgetmap.metrics.power import PlanTask, items_needed, plan_mde


def test_plan_json_counts_items_from_the_data(data_dir, capsys):
    code = main(["plan", "--tasks", "bbh:navigate,mmlu:anatomy,mmlu:virology", "--seeds", "3",
                 "--acc", "0.6", "--detect", "0.05", "--json"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    res = json.loads(out)
    tasks = {t["task"]: t for t in res["design"]["tasks"]}
    assert tasks["bbh:navigate"]["n_items"] == 250 and tasks["bbh:navigate"]["k"] == 2
    assert tasks["mmlu:anatomy"]["n_items"] == 135 and tasks["mmlu:anatomy"]["k"] == 4
    design = [PlanTask(t["task"], t["category"], t["n_items"], t["k"]) for t in tasks.values()]
    ref = plan_mde(design, 3, 0.6)
    assert res["mde"]["Total"]["mde_F_true"] == pytest.approx(ref.mde[-1])
    for i, cat in enumerate(ref.categories):
        assert res["mde"][cat]["mde_F_true"] == pytest.approx(ref.mde[i])
    block = res["detect"][0]
    assert block["target"] == 0.05 and set(block["items_per_task"]) == {"1", "2", "3", "5"}
    assert block["items_per_task"]["3"]["Total"] == items_needed(design, 0.05, 3, 0.6)


def test_plan_without_data_and_on_a_narrow_console(capsys, monkeypatch):
    from forgetmap.cli.plan_cmd import print_plan

    monkeypatch.delenv("FORGETMAP_DATA_DIR", raising=False)
    code = main(["plan", "--tasks", "mmlu:anatomy,bbh:navigate", "--items", "100", "--json"])
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert {t["n_items"] for t in res["design"]["tasks"]} == {100}
    console = Console(width=40, record=True, color_system=None)
    print_plan(res, console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 40
    mde = f"{100 * res['mde']['Total']['mde_F_true']:.1f}"
    assert any(line.split("│")[-2].strip() == mde for line in text.splitlines() if "Total" in line)


def test_plan_errors(capsys, monkeypatch):
    monkeypatch.delenv("FORGETMAP_DATA_DIR", raising=False)
    assert main(["plan", "--tasks", "mmlu:anatomy"]) == 2
    assert "--items N" in capsys.readouterr().err
    assert main(["plan", "--tasks", "mmlu:anatomy", "--items", "50", "--seeds", "9"]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["plan", "--tasks", "mmlu:anatomy", "--items", "50", "--detect", "2"]) != 0
