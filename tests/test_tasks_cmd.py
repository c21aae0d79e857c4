"""`forgetmap tasks` on the real data: counts, k per task, JSON, and its errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from forgetmap.cli.main import cli, main


def _json(args: list[str]) -> list[dict]:
    res = CliRunner().invoke(cli, ["tasks", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_tasks_json_paper_counts_and_k(data_dir: Path) -> None:
    rows = {r["task"]: r for r in _json(["--suite", "paper", "--json"])}
    assert len(rows) == 98
    per_bench = Counter()
    for r in rows.values():
        per_bench[r["benchmark"]] += (r["n_items"] or 0) + r.get("n_skipped", 0)
    assert per_bench["mmlu"] == 14042 and per_bench["bbh"] == 6511
    assert per_bench["arc"] == 2376 + 1172 and per_bench["musr"] == 250 + 256 + 250
    assert per_bench["mctest"] == 240 + 600 and per_bench["hellaswag"] == 10042
    assert (rows["piqa:validation"]["k"], rows["piqa:validation"]["n_items"]) == (2, 1838)
    assert rows["social_iqa:validation"]["k"] == 3
    assert rows["commonsense_qa:validation"]["k"] == 5
    op = rows["musr:object_placements"]
    assert (op["k"], op["k_min"], op["k_max"]) == ("varies", 2, 5)
    assert op["k_counts"] == {"2": 4, "3": 112, "4": 96, "5": 44}
    tq = rows["truthfulqa:mc1"]
    assert (tq["k"], tq["k_min"], tq["k_max"], tq["n_items"]) == ("varies", 2, 13, 817)
    assert rows["bbh:object_counting"]["k"] == 19
    assert rows["bbh:date_understanding"]["k_nominal"] == 6
    assert (rows["bbh:date_understanding"]["k_min"], rows["bbh:date_understanding"]["k_max"]) == (
        5,
        6,
    )
    assert rows["bbh:word_sorting"]["k"] is None and not rows["bbh:word_sorting"]["in_aggregate"]
    assert (
        rows["bbh:snarks"]["n_skipped"] == 1 and "examples[88]" in rows["bbh:snarks"]["skipped"][0]
    )
    assert rows["ifeval:prompts"]["n_items"] == 541
    salad = rows["salad_bench:mrq"]
    assert salad["n_items"] is None and "salad_bench/mrq.jsonl" in salad["error"]


def test_tasks_table_and_fixture_data_dir() -> None:
    res = CliRunner().invoke(
        cli,
        ["tasks", "--suite", "quick"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0
    assert "truthfulqa:mc1" in res.stdout and "varies (2–13)" in res.stdout
    assert "items in 10 tasks" in res.stdout
    salad = Path(__file__).parent / "fixtures" / "salad"
    rows = _json(["--json", "--data-dir", str(salad), "--suite", "paper-base"])
    assert not any(r["task"] == "salad_bench:mrq" for r in rows)
    res = CliRunner().invoke(cli, ["tasks", "--json", "--data-dir", str(salad), "--suite", "paper"])
    row = next(r for r in json.loads(res.stdout) if r["task"] == "salad_bench:mrq")
    assert (row["n_items"], row["k"], row["k_min"], row["k_max"]) == (3, "varies", 3, 5)


def test_tasks_no_count_needs_no_data(monkeypatch) -> None:
    monkeypatch.delenv("FORGETMAP_DATA_DIR", raising=False)
    rows = _json(["--no-count", "--json"])
    assert len(rows) >= 98 and all("n_items" not in r for r in rows)


def test_tasks_errors_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["tasks", "--data-dir", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["tasks", "--suite", "papr"]) == 2
    assert "did you mean paper" in capsys.readouterr().err
