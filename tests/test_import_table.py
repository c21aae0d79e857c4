"""`forgetmap import table`: flat CSV/JSONL/Parquet through the CLI, and its errors."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clikit import run_cli

from forgetmap.records import RECORD_SCHEMA, ResultsStore

HEADER = "model,task,item_id,seed,n_choices,gold,pred,extract_status,correct,response,category"
ROWS = [
    "org/before,mmlu:anatomy,007,0,4,B,B,ok,true,Answer: B,Science/Tech",
    "org/before,mmlu:anatomy,008,0,4,C,,no_answer,false,I am not sure,Science/Tech",
    "org/before,my_bench:x,q1,1,,42,42,ok,1,the answer is 42,",
    "org/after,mmlu:anatomy,007,0,4,B,A,ok,false,Answer: A,Science/Tech",
]


def _csv(tmp_path: Path, rows=ROWS, header=HEADER, name="t.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([header, *rows]) + "\n")
    return p


def test_csv_roundtrip_keeps_ids_verbatim(tmp_path, capsys):
    src = _csv(tmp_path)
    code, err = run_cli(capsys, "import", "table", str(src), "--results", str(tmp_path / "res"))
    assert code == 0, err
    store = ResultsStore(tmp_path / "res")
    assert store.models() == ["org/after", "org/before"]
    t = store.read(models=["org/before"]).sort_by([("item_id", "ascending")])
    assert t.schema == RECORD_SCHEMA
    rows = t.to_pylist()
    assert [r["item_id"] for r in rows] == ["007", "008", "q1"]  # never turned into numbers
    assert [r["correct"] for r in rows] == [True, False, True]
    assert rows[1]["pred"] is None and rows[1]["extract_status"] == "no_answer"
    assert rows[2]["n_choices"] is None and rows[2]["category"] is None and rows[2]["seed"] == 1
    assert rows[0]["category"] == "Science/Tech" and rows[0]["gold"] == "B"
    manifest = store.read_manifest("org/before", store.runs("org/before")[0])
    assert manifest["tool"] == "table" and manifest["n_records"] == 3


def test_jsonl_and_parquet(tmp_path, capsys):
    recs = [
        {"model": "m", "task": "arc:easy", "item_id": 1, "seed": 0, "correct": True, "gold": "A"},
        {"model": "m", "task": "arc:easy", "item_id": 2, "seed": 0, "correct": False, "gold": "C"},
    ]
    j = tmp_path / "a.jsonl"
    j.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    pq.write_table(
        pa.Table.from_pylist([{**r, "model": "n"} for r in recs]), tmp_path / "b.parquet"
    )
    code, err = run_cli(
        capsys,
        "import",
        "table",
        str(j),
        str(tmp_path / "b.parquet"),
        "--results",
        str(tmp_path / "res"),
    )
    assert code == 0, err
    t = ResultsStore(tmp_path / "res").read()
    assert t.num_rows == 4
    assert sorted(t.column("item_id").to_pylist()) == ["1", "1", "2", "2"]


def test_unknown_columns_are_reported_not_silently_dropped(tmp_path, capsys):
    src = _csv(tmp_path, rows=[r + ",x" for r in ROWS[:1]], header=HEADER + ",my_note")
    code, err = run_cli(capsys, "import", "table", src, "--results", tmp_path / "r")
    assert code == 0 and "not imported: my_note" in err
    store = ResultsStore(tmp_path / "r")
    assert store.read_manifest("org/before", store.runs("org/before")[0])["ignored_columns"] == [
        "my_note"
    ]


def test_model_override(tmp_path, capsys):
    src = _csv(tmp_path, rows=ROWS[:2])
    code, _ = run_cli(
        capsys, "import", "table", str(src), "--results", str(tmp_path / "r"), "--model", "x/y"
    )
    assert code == 0
    assert ResultsStore(tmp_path / "r").models() == ["x/y"]


def test_reimport_is_skipped_and_force_replaces(tmp_path, capsys):
    src = _csv(tmp_path)
    res = str(tmp_path / "res")
    assert run_cli(capsys, "import", "table", str(src), "--results", res)[0] == 0
    code, err = run_cli(capsys, "import", "table", str(src), "--results", res)
    assert code == 0 and "already imported" in err
    assert ResultsStore(res).read().num_rows == 4  # no duplicates
    assert run_cli(capsys, "import", "table", str(src), "--results", res, "--force")[0] == 0
    assert ResultsStore(res).read().num_rows == 4


@pytest.mark.parametrize(
    ("header", "rows", "expected"),
    [
        ("model,task,item_id,seed,gold", ["m,t,1,0,A"], "missing required column(s) correct"),
        (HEADER, ["m,t,1,0,4,A,A,ok,maybe,r,c"], "column 'correct' must be boolean"),
        (HEADER, ["m,t,1,zero,4,A,A,ok,true,r,c"], "column 'seed'"),
        (HEADER, ["m,t,1,0,-3,A,A,ok,true,r,c"], "column 'n_choices' row 0: -3 is negative"),
        (
            HEADER,
            ["m,t,1,0,4,A,A,ok,true,r,c", "m,t,1,0,4,A,B,ok,false,r,c"],
            "duplicate (model, task, item_id, seed)",
        ),
        (HEADER, [",t,1,0,4,A,A,ok,true,r,c"], "column 'model' has 1 empty value"),
    ],
)
def test_bad_tables_give_clear_errors(tmp_path, capsys, header, rows, expected):
    src = _csv(tmp_path, rows=rows, header=header)
    code, err = run_cli(capsys, "import", "table", str(src), "--results", str(tmp_path / "res"))
    assert code == 2
    assert str(src) in err and expected in err
    assert "Traceback" not in err


def test_malformed_jsonl_names_file_and_line(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    p.write_text(
        '{"model": "m", "task": "t", "item_id": "1", "seed": 0, "correct": true}\n{"model": oops}\n'
    )
    code, err = run_cli(capsys, "import", "table", str(p), "--results", str(tmp_path / "res"))
    assert code == 2 and f"{p}:2: malformed JSON line" in err


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "missing.csv", "no such file"),
        (
            lambda d: (d / "x.txt").write_text("a") and d / "x.txt",
            "unsupported table format '.txt'",
        ),
        (
            lambda d: (d / "c.parquet").write_bytes(b"PAR1 not parquet") and d / "c.parquet",
            "cannot read as parquet",
        ),
        (lambda d: (d / "e.csv").write_text(HEADER + "\n") and d / "e.csv", "has no rows"),
    ],
)
def test_bad_files(tmp_path, capsys, make, expected):
    p = make(tmp_path)
    code, err = run_cli(capsys, "import", "table", str(p), "--results", str(tmp_path / "res"))
    assert code == 2 and expected in err and "Traceback" not in err


def _extractor_available() -> bool:
    try:
        return hasattr(importlib.import_module("forgetmap.suite.extract"), "reextract")
    except ModuleNotFoundError:
        return False


def test_reextract(tmp_path, capsys):
    """--reextract goes through forgetmap.suite.extract.reextract; until that exists, a clear error."""
    rows = [
        "m,mmlu:anatomy,1,0,4,B,A,ok,false,Let me think. Answer: B,",
        "m,mmlu:anatomy,2,0,4,C,C,ok,true,no idea,",
    ]
    src = _csv(tmp_path, rows=rows)
    code, err = run_cli(
        capsys, "import", "table", str(src), "--results", str(tmp_path / "res"), "--reextract"
    )
    if not _extractor_available():
        assert code == 2 and "--reextract needs forgetmap's answer extractor" in err
        return
    assert code == 0, err
    t = ResultsStore(tmp_path / "res").read().sort_by("item_id").to_pylist()
    assert t[0]["pred"] == "B" and t[0]["correct"] is True  # recomputed from the response
    assert (
        t[1]["pred"] is None and t[1]["extract_status"] == "no_answer" and t[1]["correct"] is False
    )


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_export_then_import_table_roundtrip(tmp_path, capsys, suffix):
    """Records of real imported logs survive `export` -> `import table` unchanged."""
    fix = Path(__file__).parent / "fixtures" / "importers" / "lm_eval"
    assert run_cli(capsys, "import", "lm-eval", fix, "--results", tmp_path / "a")[0] == 0
    out = tmp_path / f"flat{suffix}"
    code, err = run_cli(capsys, "export", "--results", tmp_path / "a", "--out", out)
    assert code == 0, err
    code, err = run_cli(capsys, "import", "table", out, "--results", tmp_path / "b")
    assert code == 0, err
    from forgetmap.records import CONTRACT_COLUMNS

    key = [
        ("model", "ascending"),
        ("task", "ascending"),
        ("item_id", "ascending"),
        ("seed", "ascending"),
    ]
    a = ResultsStore(tmp_path / "a").read(columns=list(CONTRACT_COLUMNS)).sort_by(key)
    b = ResultsStore(tmp_path / "b").read(columns=list(CONTRACT_COLUMNS)).sort_by(key)
    assert a.num_rows == 40 and a.equals(b)
