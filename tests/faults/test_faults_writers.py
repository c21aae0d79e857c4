"""Issue 9, item 3: two writers of one model never store a key twice, and imports whose keys
overlap stored ones are refused naming the keys, or skipped/replaced on request."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from faultkit import cli, one_line_error

from forgetmap.engine.runner import evaluate
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore

KEYS = ["task", "item_id", "seed"]


def _keys(t: pa.Table) -> list[tuple]:
    return list(zip(*(t.column(c).to_pylist() for c in KEYS), strict=True))


def _rows(model: str, items: range, correct: bool = True, seed: int = 0) -> list[dict]:
    return [
        {"model": model, "task": "mmlu:anatomy", "item_id": f"q{i}", "seed": seed,
         "n_choices": 4, "gold": "A", "pred": "A" if correct else "B", "correct": correct}
        for i in items
    ]  # fmt: skip


WRITER = textwrap.dedent(
    """
    import random, sys, time
    import pyarrow as pa
    from forgetmap.records import ResultsStore
    root, run, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rows = [{"model": "m", "task": "t:x", "item_id": f"i{i}", "seed": s, "correct": True,
             "run_id": run} for i in range(60) for s in (0, 1)]
    random.Random(seed).shuffle(rows)
    store = ResultsStore(root)
    while time.time() < float(sys.argv[4]):  # start together
        time.sleep(0.005)
    for i in range(0, len(rows), 8):
        store.append(pa.Table.from_pylist(rows[i:i + 8]), "m", run, on_duplicate="skip")
    """
)


def test_concurrent_processes_store_each_key_once(tmp_path: Path) -> None:
    start = str(time.time() + 3)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"w{i}", str(i), start])
        for i in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    keys = _keys(ResultsStore(tmp_path).read())
    assert len(keys) == len(set(keys)) == 120


class Slow:
    """The instant backend, slowed down so that two runs overlap in time."""

    def __new__(cls, delay: float):
        from test_runner_units import Instant

        class _Slow(Instant):
            def generate(self, reqs):
                time.sleep(delay)
                return super().generate(reqs)

        return _Slow()


def test_two_runs_of_one_model_at_once_store_each_key_once(data_dir, tmp_path: Path) -> None:
    run = dict(tasks="bbh:navigate", seeds=(0, 1), limit=12, results=tmp_path, progress=False)
    out: list = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            out.append(evaluate("m", backend=Slow(0.02), flush_size=2, **run))
        except BaseException as exc:  # noqa: BLE001 - a failing writer is the finding
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(out) == 2, errors
    keys = _keys(ResultsStore(tmp_path).read())
    assert len(keys) == len(set(keys)) == 24
    assert sum(s.n_written for s in out) == 24
    again = evaluate("m", backend=Slow(0), **run)
    assert (again.n_skipped, again.n_written) == (24, 0)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _stored_then_overlapping(tmp_path: Path, capsys) -> tuple[Path, Path]:
    """A store holding q0..q9 of model m (correct), and a table of q5..q14 (wrong) to import."""
    res = tmp_path / "res"
    a = _jsonl(tmp_path / "a.jsonl", _rows("m", range(10)))
    b = _jsonl(tmp_path / "b.jsonl", _rows("m", range(5, 15), correct=False))
    assert cli(capsys, "import", "table", a, "--results", res)[0] == 0
    return res, b


def test_import_overlapping_keys_is_an_error_naming_them(tmp_path: Path, capsys) -> None:
    res, b = _stored_then_overlapping(tmp_path, capsys)
    code, _, err = cli(capsys, "import", "table", b, "--results", res)
    line = one_line_error(code, err, "5", "'m'", "q5", "--on-duplicate")
    assert "mmlu:anatomy" in line
    assert ResultsStore(res).read().num_rows == 10  # nothing of b.jsonl was written


def test_import_on_duplicate_skip_keeps_stored_rows(tmp_path: Path, capsys) -> None:
    res, b = _stored_then_overlapping(tmp_path, capsys)
    code, _, err = cli(capsys, "import", "table", b, "--results", res, "--on-duplicate", "skip")
    assert code == 0, err
    assert "5 already stored" in err
    t = ResultsStore(res).read()
    assert len(_keys(t)) == len(set(_keys(t))) == 15
    by = {r["item_id"]: r["correct"] for r in t.to_pylist()}
    assert all(by[f"q{i}"] for i in range(10)) and not any(by[f"q{i}"] for i in range(10, 15))


def test_import_on_duplicate_replace_replaces_stored_rows(tmp_path: Path, capsys) -> None:
    res, b = _stored_then_overlapping(tmp_path, capsys)
    code, _, err = cli(capsys, "import", "table", b, "--results", res, "--on-duplicate", "replace")
    assert code == 0, err
    assert "5 replaced" in err
    t = ResultsStore(res).read()
    assert len(_keys(t)) == len(set(_keys(t))) == 15
    by = {r["item_id"]: r["correct"] for r in t.to_pylist()}
    assert all(by[f"q{i}"] for i in range(5)) and not any(by[f"q{i}"] for i in range(5, 15))


def test_store_write_policies(tmp_path: Path) -> None:
    from forgetmap.records import DuplicateKeysError

    store = ResultsStore(tmp_path)
    store.append(pa.Table.from_pylist(_rows("m", range(4))), "m", "r1")
    new = pa.Table.from_pylist(_rows("m", range(2, 6), correct=False))
    with pytest.raises(DuplicateKeysError, match=r"2 \(task, item_id, seed\) key\(s\)") as exc:
        store.append(new, "m", "r2")
    assert exc.value.keys.num_rows == 2 and isinstance(exc.value, ForgetmapError)
    assert store.write(new, "m", "r2", on_duplicate="skip").n_skipped == 2
    assert store.read().num_rows == 6
    res = store.write(
        pa.Table.from_pylist(_rows("m", range(0, 3), correct=False)), "m", "r3",
        on_duplicate="replace",
    )  # fmt: skip
    assert (res.n_written, res.n_replaced) == (3, 3)
    t = store.read()
    assert len(_keys(t)) == len(set(_keys(t))) == 6
    by = {r["item_id"]: r["correct"] for r in t.to_pylist()}
    assert by == {"q0": False, "q1": False, "q2": False, "q3": True, "q4": False, "q5": False}
    with pytest.raises(ForgetmapError, match="on_duplicate"):
        store.write(new, "m", "r4", on_duplicate="merge")
    dup_inside = pa.Table.from_pylist(_rows("m", [9, 9]))
    with pytest.raises(ForgetmapError, match="1 duplicate .* key.*q9"):
        store.append(dup_inside, "m", "r5")
