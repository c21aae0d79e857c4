"""`forgetmap compare` / `forgetmap export` on the command line: outputs and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from test_analysis_compare import check_against_reference, make_rows

from forgetmap.cli.main import main
from forgetmap.records import ResultsStore, conform, model_dir_name

MODELS = ["org/base", "org/inst"]


@pytest.fixture()
def results(tmp_path: Path) -> tuple[Path, list[dict]]:
    rows = make_rows(MODELS, seed=11)
    table = pa.Table.from_pylist(rows)
    store = ResultsStore(tmp_path / "res")
    for m in MODELS:
        store.append(table.filter(pa.compute.equal(table.column("model"), m)), m, "run1")
    return tmp_path / "res", rows


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_compare_one_pair_json_csv_and_table(results, tmp_path, capsys):
    res, rows = results
    code, out, err = run(
        capsys, "compare", "--results", res, "--before", MODELS[0], "--after", MODELS[1],
        "--json", tmp_path / "c.json", "--csv", tmp_path / "c.csv", "--bootstrap", "50",
    )  # fmt: skip
    assert code == 0, err
    assert "org/base → org/inst" in out and "Total" in out and "Science/Tech" in out
    data = json.loads((tmp_path / "c.json").read_text())
    pr = data["pairs"][0]
    # the compare document (docs/metrics.md)
    assert {"before", "after", "cells", "categories", "total", "unpaired"} <= set(pr)
    assert {"before_only", "after_only"} == set(pr["unpaired"])
    assert {"mean", "std", "ci95"} == set(pr["total"]["F_true"])  # ci95: docs/statistics.md
    cell = pr["cells"][0]
    for key in ("task", "seed", "category", "n", "n00", "n01", "n10", "n11", "acc_pre", "acc_post",
                "F", "BT", "F_true", "BT_true", "F_max", "BT_max", "conventional"):  # fmt: skip
        assert key in cell
    check_against_reference(pr, rows, *MODELS, [0, 1, 2])
    csv = pacsv.read_csv(tmp_path / "c.csv")
    assert csv.num_rows == len(pr["cells"])
    assert set(csv.column("before").to_pylist()) == {MODELS[0]}


def test_compare_pairs_file(results, tmp_path, capsys):
    res, _ = results
    pf = tmp_path / "pairs.tsv"
    pf.write_text(f"# study pairs\n{MODELS[0]}\t{MODELS[1]}\n\n{MODELS[1]}\t{MODELS[0]}\n")
    code, out, err = run(capsys, "compare", "--results", res, "--pairs", pf, "--bootstrap", "0",
                         "--json", tmp_path / "o.json")  # fmt: skip
    assert code == 0, err
    assert len(json.loads((tmp_path / "o.json").read_text())["pairs"]) == 2


class Msg(str):
    """An error message compared without whitespace (rich wraps long lines at any character)."""

    def __contains__(self, text: object) -> bool:
        return "".join(str(text).split()) in "".join(self.split())


def _bad(capsys, *args) -> Msg:
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    assert err.startswith("error: ")
    assert err.count("error: ") == 1  # one message (rich may wrap it)
    return Msg(err)


def test_bad_pairs_line_names_file_and_line(results, tmp_path, capsys):
    res, _ = results
    pf = tmp_path / "pairs.tsv"
    pf.write_text(f"{MODELS[0]}\t{MODELS[1]}\n{MODELS[0]} {MODELS[1]}\n")
    err = _bad(capsys, "compare", "--results", res, "--pairs", pf)
    assert "pairs.tsv:2: expected 'before<TAB>after'" in err


def test_unknown_model(results, capsys):
    res, _ = results
    err = _bad(capsys, "compare", "--results", res, "--before", "org/base", "--after", "org/nope")
    assert "'org/nope' not found" in err and "known models: org/base, org/inst" in err


def test_missing_and_conflicting_options(results, tmp_path, capsys):
    res, _ = results
    assert "give --before A --after B" in _bad(capsys, "compare", "--results", res, "--before", "x")
    err = _bad(
        capsys, "compare", "--results", tmp_path / "nowhere", "--before", "a", "--after", "b"
    )
    assert "does not exist" in err


def test_duplicate_rows(results, capsys):
    res, rows = results
    dup = conform(pa.Table.from_pylist([r for r in rows if r["model"] == MODELS[1]][:3]))
    # the store refuses to write a key twice; results directories merged by copying can still
    # repeat one, and compare must catch that
    d = res / model_dir_name(MODELS[1]) / "copied-from-elsewhere"
    d.mkdir()
    pq.write_table(dup, d / "part-1.parquet")
    err = _bad(capsys, "compare", "--results", res, "--before", MODELS[0], "--after", MODELS[1])
    assert "(records of 'org/inst'): 3 duplicate (model, task, item_id, seed) key(s)" in err
    assert "model='org/inst'" in err and "(x2)" in err


def test_empty_intersection(results, capsys):
    res, rows = results
    other = [dict(r, model="org/other", item_id="zz" + r["item_id"]) for r in rows[:50]]
    ResultsStore(res).append(pa.Table.from_pylist(other), "org/other", "r")
    err = _bad(capsys, "compare", "--results", res, "--before", MODELS[0], "--after", "org/other")
    assert "no items in common" in err


def _foreign_file(res: Path, model: str, table: pa.Table) -> Path:
    d = res / model_dir_name(model) / "imported"
    d.mkdir(parents=True)
    pq.write_table(table, d / "part-0.parquet")
    return d / "part-0.parquet"


def test_missing_column(results, capsys):
    res, _ = results
    f = _foreign_file(res, "org/x", pa.table({"model": ["org/x"], "task": ["t"], "item_id": ["1"],
                                              "seed": [0]}))  # fmt: skip
    err = _bad(capsys, "compare", "--results", res, "--before", MODELS[0], "--after", "org/x")
    assert str(f) in err and "missing required column(s) correct" in err


def test_wrong_type(results, capsys):
    res, _ = results
    f = _foreign_file(res, "org/x", pa.table({"model": ["org/x"], "task": ["t"], "item_id": ["1"],
                                              "seed": [0], "correct": ["maybe"]}))  # fmt: skip
    err = _bad(capsys, "compare", "--results", res, "--before", MODELS[0], "--after", "org/x")
    assert str(f) in err and "column 'correct' has type string" in err


def test_records_of_another_model_in_a_model_dir(results, capsys):
    res, rows = results
    t = pa.Table.from_pylist([dict(r, item_id="extra" + r["item_id"]) for r in rows[:5]])
    f = _foreign_file(res, MODELS[1], t)  # rows say org/base, file sits under org__inst
    err = _bad(capsys, "compare", "--results", res, "--before", MODELS[0], "--after", MODELS[1])
    assert str(f) in err and "holds records of org/base, not of 'org/inst'" in err


def test_corrupt_parquet(results, capsys):
    res, _ = results
    part = ResultsStore(res).files([MODELS[1]])[0]
    part.write_bytes(b"PAR1 this is not parquet")
    err = _bad(capsys, "compare", "--results", res, "--before", MODELS[0], "--after", MODELS[1])
    assert str(part) in err and "not a readable Parquet" in err
    err = _bad(capsys, "export", "--results", res, "--out", res.parent / "x.parquet")
    assert "not a readable Parquet" in err


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_export_roundtrip(results, tmp_path, capsys, suffix):
    res, rows = results
    out = tmp_path / f"flat{suffix}"
    code, _, err = run(capsys, "export", "--results", res, "--model", MODELS[0], "--out", out)
    assert code == 0, err
    if suffix == ".parquet":
        t = pq.read_table(out)
    elif suffix == ".csv":
        t = pacsv.read_csv(out)
    else:
        t = pa.Table.from_pylist([json.loads(line) for line in out.read_text().splitlines()])
    want = [r for r in rows if r["model"] == MODELS[0]]
    assert t.num_rows == len(want)
    assert t.column_names[:5] == ["model", "task", "item_id", "seed", "n_choices"]
    got = {(r["task"], r["item_id"], r["seed"]): r["correct"] for r in t.to_pylist()}
    assert got == {(r["task"], r["item_id"], r["seed"]): r["correct"] for r in want}


def test_export_errors(results, tmp_path, capsys):
    res, _ = results
    err = _bad(capsys, "export", "--results", res, "--model", "nope", "--out", tmp_path / "x.csv")
    assert "'nope' not found" in err and "known models" in err
    assert "unsupported format" in _bad(
        capsys, "export", "--results", res, "--out", tmp_path / "x.xlsx"
    )


def test_export_all_columns_keeps_lists(tmp_path, capsys):
    store = ResultsStore(tmp_path / "res")
    store.append(
        pa.table(
            {
                "model": ["m"],
                "task": ["t:x"],
                "item_id": ["1"],
                "seed": [0],
                "correct": [True],
                "choices": [["red", "blue, or green"]],
                "question": ['say "hi"'],
            }
        ),  # fmt: skip
        "m",
        "r",
    )
    code, _, err = run(capsys, "export", "--results", tmp_path / "res", "--all-columns",
                       "--out", tmp_path / "a.csv")  # fmt: skip
    assert code == 0, err
    row = pacsv.read_csv(tmp_path / "a.csv").to_pylist()[0]
    assert json.loads(row["choices"]) == ["red", "blue, or green"]
    assert row["question"] == 'say "hi"'
    code, _, err = run(capsys, "export", "--results", tmp_path / "res", "--all-columns",
                       "--out", tmp_path / "a.jsonl")  # fmt: skip
    assert code == 0, err
    assert json.loads((tmp_path / "a.jsonl").read_text())["choices"] == ["red", "blue, or green"]
