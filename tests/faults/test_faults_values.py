"""Issue 9, items 8 and 12: values the schema types cannot hold are refused with the row number,
and a part file of another schema fails `export` (as it fails `compare`) naming file and column."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faultkit import cli, one_line_error

from forgetmap.errors import SchemaError
from forgetmap.records import ResultsStore, conform


def _row(**kw) -> dict:
    return {"model": "m", "task": "mmlu:anatomy", "item_id": "q", "seed": 0, "n_choices": 4,
            "gold": "A", "correct": True, **kw}  # fmt: skip


def _table(*rows: dict) -> pa.Table:
    return pa.Table.from_pylist([dict(r, item_id=f"q{i}") for i, r in enumerate(rows)])


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"correct": 2}, r"'correct' row 1: 2 is not a boolean"),
        ({"correct": -1}, r"'correct' row 1: -1 is not a boolean"),
        ({"correct": 0.5}, r"'correct' row 1: 0.5 is not a boolean"),
        ({"gold": "Z"}, r"'gold' row 1: 'Z' is not an option letter of an item with 4 options"),
        ({"gold": "E"}, r"'gold' row 1: 'E' is not an option letter"),
        ({"gold": "a"}, r"'gold' row 1: 'a' is not an option letter"),
        ({"gold": ""}, r"'gold' row 1: '' is not an option letter"),
        (
            {"gold": "B", "n_choices": 1},
            r"'gold' row 1: 'B' is not an option letter of an item with 1 option",
        ),
    ],
)
def test_bad_values_are_refused_with_the_row(bad: dict, match: str) -> None:
    ok = _row(correct=type(bad["correct"])(1)) if "correct" in bad else _row()  # one column type
    with pytest.raises(SchemaError, match=match):
        conform(_table(ok, _row(**bad)), source="f.jsonl")


@pytest.mark.parametrize(
    ("kw", "correct"),
    [
        ({"correct": 1}, True), ({"correct": 0.0}, False), ({"correct": "yes"}, True),
        ({"gold": "D"}, True), ({"gold": "AC"}, True),  # SALAD MRQ: several correct options
        ({"gold": "42", "n_choices": None}, True), ({"gold": "pass", "n_choices": 0}, True),
        ({"gold": None}, True),
    ],
)  # fmt: skip
def test_good_values_pass(kw: dict, correct: bool) -> None:
    assert conform(_table(_row(**kw))).column("correct").to_pylist() == [correct]


def test_import_table_names_file_column_and_row(tmp_path: Path, capsys) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text(
        "".join(json.dumps(r) + "\n" for r in _table(_row(correct=1), _row(correct=2)).to_pylist())
    )
    code, _, err = cli(capsys, "import", "table", f, "--results", tmp_path / "res")
    one_line_error(code, err, str(f), "'correct'", "row 1")
    assert not (tmp_path / "res").exists() or not list((tmp_path / "res").rglob("*.parquet"))


def _foreign_part(res: Path) -> Path:
    store = ResultsStore(res)
    store.append(conform(_table(_row(), _row())), "m", "r1")
    part = next(p for p in res.rglob("part-*.parquet"))
    bad = pa.table({"model": ["m"], "task": ["mmlu:anatomy"], "item_id": ["z"], "seed": [0],
                    "correct": ["yes"]})  # fmt: skip
    out = part.with_name("part-9-foreign.parquet")
    pq.write_table(bad, out)
    return out


def test_export_of_a_foreign_part_file_names_file_and_column(tmp_path: Path, capsys) -> None:
    foreign = _foreign_part(tmp_path / "res")
    out = tmp_path / "x.jsonl"
    code, _, err = cli(capsys, "export", "--results", tmp_path / "res", "--out", out)
    one_line_error(code, err, str(foreign), "'correct'")
    assert not out.exists()
    code, _, err = cli(capsys, "compare", "--results", tmp_path / "res", "--before", "m",
                       "--after", "m2")  # fmt: skip
    assert code == 2
    with pytest.raises(SchemaError, match="'correct'"):
        ResultsStore(tmp_path / "res").read()
