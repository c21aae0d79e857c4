"""Records layer: schema conformance, atomic append-only store, clear errors."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from forgetmap.errors import ForgetmapError, SchemaError
from forgetmap.records import RECORD_SCHEMA, ResultsStore, conform, model_slug


def _rows(model="org/m", n=3, seed=0):
    return pa.table(
        {
            "model": [model] * n,
            "task": ["mmlu:anatomy"] * n,
            "item_id": [f"i{j}" for j in range(n)],
            "seed": [seed] * n,
            "gold": ["A"] * n,
            "pred": ["A", "B", None][:n],
            "correct": [True, False, False][:n],
        }
    )


def test_slug():
    assert model_slug("Qwen/Qwen2.5-7B") == "Qwen__Qwen2.5-7B"


def test_conform_fills_optional_and_casts():
    t = pa.table(
        {
            "model": ["m"],
            "task": ["t"],
            "item_id": [7],
            "seed": ["1"],
            "correct": ["True"],
            "n_choices": [4.0],
        }
    )
    out = conform(t, source="x.csv")
    assert out.schema == RECORD_SCHEMA
    assert out.column("item_id").to_pylist() == ["7"]
    assert out.column("seed").to_pylist() == [1]
    assert out.column("correct").to_pylist() == [True]
    assert out.column("n_choices").to_pylist() == [4]
    assert out.column("response").null_count == 1


def test_conform_missing_column_names_it():
    with pytest.raises(SchemaError, match=r"x\.csv: missing required column\(s\) correct"):
        conform(pa.table({"model": ["m"], "task": ["t"], "item_id": ["1"], "seed": [0]}), "x.csv")


def test_conform_bad_bool_names_value():
    t = pa.table(
        {"model": ["m"], "task": ["t"], "item_id": ["1"], "seed": [0], "correct": ["maybe"]}
    )
    with pytest.raises(SchemaError, match="'correct'.*'maybe'"):
        conform(t, "f.jsonl")


def test_conform_bad_int_names_column():
    t = pa.table(
        {"model": ["m"], "task": ["t"], "item_id": ["1"], "seed": ["zero"], "correct": [True]}
    )
    with pytest.raises(SchemaError, match="'seed'"):
        conform(t, "f.jsonl")


def test_conform_null_key_rejected():
    t = pa.table(
        {
            "model": ["m", None],
            "task": ["t", "t"],
            "item_id": ["1", "2"],
            "seed": [0, 0],
            "correct": [True, False],
        }
    )
    with pytest.raises(SchemaError, match="'model' has 1 empty"):
        conform(t, "f")


def test_store_roundtrip_and_manifest(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(_rows(), "org/m", "run1")
    store.append(_rows(seed=1), "org/m", "run1")
    store.append(_rows(model="other"), "other", "r")
    store.write_manifest("org/m", "run1", {"backend": "hf"})
    assert store.models() == ["org/m", "other"]
    t = store.read(models=["org/m"])
    assert t.num_rows == 6 and t.schema == RECORD_SCHEMA
    assert store.read_manifest("org/m", "run1")["backend"] == "hf"
    con = store.duckdb()
    assert con.execute("select count(*) from records").fetchone()[0] == 9


def test_store_ignores_temp_files_of_a_crashed_write(tmp_path):
    store = ResultsStore(tmp_path)
    f = store.append(_rows("m"), "m", "r")
    # a writer killed before its rename leaves only a dot-file behind
    (f.parent / ".part-crash.parquet.tmp").write_bytes(b"PAR1 half")
    assert store.read().num_rows == 3


def test_store_unknown_model_lists_known(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(_rows(), "org/m", "r")
    with pytest.raises(ForgetmapError, match=r"'nope' not found.*org/m"):
        store.read(models=["nope"])


def test_store_corrupt_parquet_named(tmp_path):
    store = ResultsStore(tmp_path)
    f = store.append(_rows("m"), "m", "r")
    bad = f.parent / "part-0-bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ForgetmapError, match="part-0-bad.parquet"):
        store.read()


def test_written_files_are_complete_parquet(tmp_path):
    store = ResultsStore(tmp_path)
    f = store.append(_rows("m"), "m", "r")
    assert pq.read_table(f).num_rows == 3
    assert not [p for p in os.listdir(f.parent) if p.startswith(".")]
