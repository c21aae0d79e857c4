"""A results directory written by the first release (tests/fixtures/store_v1, see its README) is
still read correctly: same records, same export, same comparison."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from forgetmap.cli.main import main
from forgetmap.records import ResultsStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v1"
KEY = ("model", "task", "item_id", "seed")


@pytest.fixture()
def legacy(tmp_path: Path) -> Path:
    """A writable copy, so tests may also append to an old store."""
    return Path(shutil.copytree(FIXTURE / "results", tmp_path / "results"))


def _expected() -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / "export.jsonl").read_text().splitlines()]


def _by_key(rows: list[dict]) -> dict[tuple, dict]:
    return {tuple(r[k] for k in KEY): r for r in rows}


def test_models_and_rows_of_the_old_layout(legacy: Path) -> None:
    store = ResultsStore(legacy)
    assert store.models() == ["base-model", "killed/m:v1", "smollm2/135m:q4"]
    assert store.read(models=["smollm2/135m:q4"]).num_rows == 4
    assert store.read(models=["killed/m:v1"]).num_rows == 1
    assert store.read().num_rows == 9


def test_export_of_the_old_layout_is_unchanged(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    assert main(["export", "--results", str(legacy), "--out", str(out), "--all-columns"]) == 0
    got = _by_key([json.loads(line) for line in out.read_text().splitlines()])
    want = _by_key(_expected())
    assert got.keys() == want.keys()
    for k, row in want.items():
        assert {c: got[k][c] for c in row} == row, k


def test_compare_on_the_old_layout(legacy: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    args = ["compare", "--results", str(legacy), "--before", "base-model"]
    args += ["--after", "smollm2/135m:q4", "--json", str(out), "--bootstrap", "0", "--quiet"]
    assert main(args) == 0
    (pair,) = json.loads(out.read_text())["pairs"]
    assert pair["unpaired"] == {"before_only": 0, "after_only": 0}
    assert sum(c["n"] for c in pair["cells"]) == 4
    assert sum(c["n10"] for c in pair["cells"]) == 1  # the one row made correct before


def test_old_store_takes_new_records_and_resumes_its_killed_run(legacy: Path, data_dir) -> None:
    from test_runner_units import Instant

    from forgetmap.engine.runner import evaluate

    s = evaluate("x", backend=Instant(), model_name="killed/m:v1", tasks="arc:easy", limit=2,
                 seeds=(0, 1), results=legacy, progress=False, on_duplicate="replace")  # fmt: skip
    assert s.n_skipped + s.n_written == 4  # the killed run's record is kept or re-evaluated
    store = ResultsStore(legacy)
    t = store.read(models=["killed/m:v1"])
    keys = list(zip(*(t.column(c).to_pylist() for c in KEY), strict=True))
    assert len(keys) == len(set(keys)) == 4
    assert store.read(models=["smollm2/135m:q4"]).num_rows == 4  # the other old models untouched
    assert store.read().num_rows == 12
    status = {(r.model, r.status) for r in store.run_infos()}
    assert ("killed/m:v1", "interrupted") in status and ("killed/m:v1", "complete") in status
