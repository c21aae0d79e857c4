"""SIGKILL in the middle of `forgetmap eval`, then rerun: exact record count, no duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forgetmap.records import ResultsStore

pytestmark = pytest.mark.slow


def _cmd(model: Path, results: Path) -> list[str]:
    return [
        sys.executable, "-m", "forgetmap", "eval",
        "--model", str(model), "--backend", "llamacpp", "--model-name", "smol",
        "--tasks", "bbh:navigate,mmlu:anatomy", "--seeds", "0,1", "--limit", "3",
        "--max-new-tokens", "48", "--flush-size", "1", "--no-progress",
        "--results", str(results),
    ]  # fmt: skip


def _parts(results: Path) -> list[Path]:
    return [p for p in results.glob("*/*/part-*.parquet")]


def test_kill9_then_resume_exact_count_no_duplicates(
    smollm2_gguf: Path, data_dir: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "FORGETMAP_DATA_DIR": str(data_dir)}
    log = tmp_path.parent / f"{tmp_path.name}-eval.log"
    with open(log, "wb") as fh:  # a file, not a pipe: a full pipe would stall the child
        proc = subprocess.Popen(_cmd(smollm2_gguf, tmp_path), env=env, stderr=fh)
    deadline = time.time() + 300
    while len(_parts(tmp_path)) < 3:  # killed mid-run, after some batches hit the disk
        assert proc.poll() is None, log.read_text()[-2000:]
        assert time.time() < deadline, "no records written in time"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = ResultsStore(tmp_path)
    before = store.read()
    assert 3 <= before.num_rows < 12  # mid-run: some, not all

    done = subprocess.run(_cmd(smollm2_gguf, tmp_path), env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    t = store.read()
    keys = list(zip(t.column("task").to_pylist(), t.column("item_id").to_pylist(),
                    t.column("seed").to_pylist(), strict=True))  # fmt: skip
    assert len(keys) == 12 == len(set(keys))  # 2 tasks x 3 items x 2 seeds, none twice
    # records from before the kill are kept as they were, the rerun only added the rest
    old = {(r["task"], r["item_id"], r["seed"]): r["response"] for r in before.to_pylist()}
    new = {(r["task"], r["item_id"], r["seed"]): r["response"] for r in t.to_pylist()}
    assert all(new[k] == v for k, v in old.items())
    statuses = sorted(store.read_manifest("smol", r)["status"] for r in store.runs("smol"))
    # the killed run never finished its manifest; the rerun found its lock free and marked it
    assert statuses == ["complete", "interrupted"]

    again = subprocess.run(
        [*_cmd(smollm2_gguf, tmp_path), "--json"], env=env, capture_output=True, timeout=600
    )
    assert again.returncode == 0 and store.read().num_rows == 12
    summary = json.loads(again.stdout)
    assert (summary["n_written"], summary["n_skipped"], summary["n_planned"]) == (0, 12, 12)
