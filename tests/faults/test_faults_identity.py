"""Issue 9, items 1-2 (+ the NUL name of item 9): every model name has a directory of its own,
inside the results root and visible to every reader; names that cannot be stored are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from faultkit import cli, one_line_error, visible_files

from forgetmap.engine.runner import evaluate
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore


def _rows(model: str, n: int = 10, task: str = "mmlu:anatomy") -> list[dict]:
    return [
        {"model": model, "task": task, "item_id": f"q{i}", "seed": 0, "n_choices": 4,
         "gold": "A", "pred": "A" if i % 2 else "B", "correct": bool(i % 2)}
        for i in range(n)
    ]  # fmt: skip


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(("a", "b"), [("org/m", "org__m"), ("a:b", "a_b"), ("A/b", "a/b")])
def test_colliding_names_keep_their_own_records(tmp_path: Path, a: str, b: str) -> None:
    from forgetmap.records import model_dir_name

    store = ResultsStore(tmp_path)
    store.append(pa.Table.from_pylist(_rows(a, 3)), a, "r1")
    store.append(pa.Table.from_pylist(_rows(b, 5)), b, "r1")
    assert model_dir_name(a) != model_dir_name(b)
    assert store.read(models=[a]).column("model").to_pylist() == [a] * 3
    assert store.read(models=[b]).column("model").to_pylist() == [b] * 5
    assert store.models() == sorted([a, b])


def test_import_of_one_file_with_colliding_names_keeps_all_rows(tmp_path, capsys) -> None:
    f = _jsonl(tmp_path / "t.jsonl", _rows("a:b") + _rows("a_b"))
    code, _, err = cli(capsys, "import", "table", f, "--results", tmp_path / "res")
    assert code == 0, err
    store = ResultsStore(tmp_path / "res")
    assert store.read().num_rows == 20
    assert store.read(models=["a:b"]).num_rows == store.read(models=["a_b"]).num_rows == 10


def test_eval_under_a_colliding_name_is_not_already_done(data_dir, tmp_path: Path) -> None:
    from test_runner_units import Instant

    run = dict(tasks="mmlu:anatomy", seeds=(0,), limit=3, results=tmp_path, progress=False)
    first = evaluate("x", backend=Instant(), model_name="org_m", **run)
    second = evaluate("x", backend=Instant(), model_name="org:m", **run)
    assert (first.n_written, second.n_skipped, second.n_written) == (3, 0, 3)
    assert ResultsStore(tmp_path).read(models=["org:m"]).num_rows == 3


HIDDEN = [".", ".hidden", "../../etc", "..", "...", "./x", "a/../../b", "-rf", " lead"]


def test_every_name_stays_inside_the_root_and_visible(tmp_path: Path, capsys) -> None:
    root = tmp_path / "deep" / "res"
    rows = [r for name in [*HIDDEN, "plain"] for r in _rows(name, 6)]
    f = _jsonl(tmp_path / "t.jsonl", rows)
    code, _, err = cli(capsys, "import", "table", f, "--results", root)
    assert code == 0, err
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and root not in p.parents]
    assert outside == [f]  # nothing written beside or above the results directory
    assert all(p.parent.parent.parent == root for p in visible_files(root))
    code, _, err = cli(capsys, "export", "--results", root, "--out", tmp_path / "all.jsonl")
    assert code == 0, err
    assert len((tmp_path / "all.jsonl").read_text().splitlines()) == len(rows) == 60
    store = ResultsStore(root)
    assert store.models() == sorted([*HIDDEN, "plain"])
    for name in HIDDEN:
        assert store.read(models=[name]).num_rows == 6


@pytest.mark.parametrize(
    "name", ["a\x00b", "a\nb", "tab\there", "bell\x07", "del\x7f", "", "\u2028"]
)
def test_unstorable_names_are_refused_in_one_line(tmp_path: Path, capsys, name: str) -> None:
    from forgetmap.records import model_dir_name

    with pytest.raises(ForgetmapError, match="model name"):
        model_dir_name(name)
    f = _jsonl(tmp_path / "t.jsonl", _rows("ok", 2) + _rows(name, 2))
    code, _, err = cli(capsys, "import", "table", f, "--results", tmp_path / "res")
    one_line_error(code, err, str(f), "model")
    assert not (tmp_path / "res").exists() or not visible_files(tmp_path / "res")


def test_store_api_refuses_nul_and_foreign_rows(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    with pytest.raises(ForgetmapError, match="control character"):
        store.append(pa.Table.from_pylist(_rows("a\x00b", 2)), "a\x00b", "r")
    with pytest.raises(ForgetmapError, match="rows of model 'other'"):
        store.append(pa.Table.from_pylist(_rows("other", 2)), "mine", "r")
    assert not visible_files(tmp_path)


def test_reading_one_name_never_returns_another(tmp_path: Path) -> None:
    """Old stores may hold two names in one directory: reads filter on the exact name."""
    legacy = tmp_path / "org__m" / "run"
    legacy.mkdir(parents=True)
    import pyarrow.parquet as pq

    from forgetmap.records import conform

    both = conform(pa.Table.from_pylist(_rows("org/m", 2) + _rows("org__m", 3)))
    pq.write_table(both, legacy / "part-1.parquet")
    store = ResultsStore(tmp_path)
    assert store.read(models=["org/m"]).num_rows == 2
    assert store.read(models=["org__m"]).num_rows == 3
    assert store.models() == ["org/m", "org__m"]


def test_eval_refuses_a_control_character_name_in_one_line(data_dir, tmp_path, capsys) -> None:
    code, _, err = cli(capsys, "eval", "--model", "x", "--model-name", "bad\x01name", "--backend",
                       "llamacpp", "--tasks", "arc:easy", "--limit", "1", "--results", tmp_path)  # fmt: skip
    one_line_error(code, err, "model name", "control character")
    assert not list(tmp_path.iterdir())
