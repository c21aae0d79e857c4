"""Issue 9, item 4: `import --force` writes the new run before the old one goes, and swaps them
atomically: a failed write keeps the old run, and readers never see it missing."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pyarrow as pa
from faultkit import forgetmap_argv, on_full_disk, visible_files

from forgetmap.analysis.compare import compare
from forgetmap.importers import ImportedRun, write_runs
from forgetmap.records import ResultsStore, conform


def _rows(model: str, n: int, correct: bool) -> list[dict]:
    return [
        {"model": model, "task": "arc:easy", "item_id": f"q{i}", "seed": s, "n_choices": 4,
         "gold": "A", "pred": "A" if correct else "B", "correct": correct,
         "response": "x" * 2000}
        for i in range(n) for s in (0, 1)
    ]  # fmt: skip


def test_force_import_on_a_full_disk_keeps_the_old_run(tmp_path: Path, data_dir) -> None:
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _rows("m", 200, True)))
    mnt = tmp_path / "mnt"
    res = mnt / "res"
    env = {**os.environ, "COLUMNS": "300"}
    code, err, errno = on_full_disk(
        setup=[forgetmap_argv("import", "table", src, "--results", res)],
        failing=forgetmap_argv("import", "table", src, "--results", res, "--force"),
        mount=mnt,
        copy_to=tmp_path / "after",
        env=env,
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert errno in lines[0] and str(res) in lines[0]
    after = ResultsStore(tmp_path / "after" / "res")
    t = after.read()
    assert t.num_rows == 400 and all(t.column("correct").to_pylist())
    (run,) = after.runs("m")
    assert after.read_manifest("m", run)["n_records"] == 400
    assert len([p for p in visible_files(after.root) if p.suffix == ".parquet"]) >= 1
    # and no staging debris that a later reader or writer could trip over
    assert not [p for p in (tmp_path / "after").rglob("*") if p.name.startswith(".staging")]


def _run(model: str, n: int, correct: bool) -> ImportedRun:
    table = conform(pa.Table.from_pylist(_rows(model, n, correct)))
    return ImportedRun(model, "table-fixed", table, {"tool": "table"}, ["t.jsonl"])


def test_readers_never_see_a_replaced_run_missing(tmp_path: Path) -> None:
    write_runs([_run("a", 30, True), _run("b", 30, False)], tmp_path)
    store = ResultsStore(tmp_path)
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(ResultsStore(tmp_path).read(models=["b"]).num_rows)
                r = compare(ResultsStore(tmp_path), [("a", "b")], bootstrap=0)
                seen.append(r.pairs[0].n_paired)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(25):
            write_runs([_run("b", 30, bool(i % 2))], tmp_path, force=True)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, repr(errors[0])
    assert seen and set(seen) == {60}
    assert store.read(models=["b"]).num_rows == 60
    assert len(store.runs("b")) == 1
