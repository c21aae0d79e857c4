"""Issue 9, "Must show": two `forgetmap eval` processes of one model at once (the real
SmolLM2-135M-Instruct GGUF on llama.cpp, 2 items x 2 seeds) store each key exactly once; kill -9 of
one of them and a rerun lose nothing and duplicate nothing."""

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
KEY = ("task", "item_id", "seed")


def _cmd(model: Path, results: Path, limit: int = 2) -> list[str]:
    return [
        sys.executable, "-m", "forgetmap", "eval", "--model", str(model), "--backend", "llamacpp",
        "--model-name", "smol", "--tasks", "arc:easy", "--limit", str(limit), "--seeds", "0,1",
        "--max-new-tokens", "32", "--flush-size", "1", "--no-progress", "--json",
        "--results", str(results),
    ]  # fmt: skip


def _start(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log, "wb") as fh:  # a file, not a pipe: a full pipe would stall the child
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)


def _exported_keys(results: Path, out: Path) -> list[tuple]:
    done = subprocess.run(
        [sys.executable, "-m", "forgetmap", "export", "--results", str(results), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return [tuple(r[k] for k in KEY) for r in rows]


def _summary(log: Path) -> dict:
    line = [ln for ln in log.read_text().splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def test_two_evals_at_once_then_kill9_and_rerun(smollm2_gguf, data_dir, tmp_path: Path) -> None:
    env = {**os.environ, "FORGETMAP_DATA_DIR": str(data_dir), "FORGETMAP_THREADS": "1"}
    res = tmp_path / "res"

    # 1. two processes of one model at the same time
    logs = [tmp_path / f"eval{i}.log" for i in range(2)]
    procs = [_start(_cmd(smollm2_gguf, res), log, env) for log in logs]
    assert [p.wait(timeout=900) for p in procs] == [0, 0], [lg.read_text()[-2000:] for lg in logs]
    keys = _exported_keys(res, tmp_path / "x1.jsonl")
    assert len(keys) == len(set(keys)) == 4  # 2 items x 2 seeds, each exactly once
    sums = [_summary(lg) for lg in logs]
    assert sum(s["n_written"] for s in sums) == 4
    assert all(s["n_written"] + s["n_concurrent"] + s["n_skipped"] == 4 for s in sums)

    # 2. again on more items; kill -9 one writer once it has stored something
    res2 = tmp_path / "res2"
    logs = [tmp_path / f"kill{i}.log" for i in range(2)]
    victim, other = (_start(_cmd(smollm2_gguf, res2, limit=4), log, env) for log in logs)
    deadline = time.time() + 600
    store = ResultsStore(res2)
    while not (res2.exists() and store.files()):
        assert victim.poll() is None and time.time() < deadline, logs[0].read_text()[-2000:]
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert other.wait(timeout=900) == 0, logs[1].read_text()[-2000:]
    before = {tuple(r[k] for k in KEY): r["response"] for r in store.read().to_pylist()}
    statuses = sorted(r.status for r in store.run_infos())
    assert statuses == ["complete", "interrupted"]

    rerun = subprocess.run(_cmd(smollm2_gguf, res2, limit=4), env=env, capture_output=True,
                           text=True, timeout=900)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    keys = _exported_keys(res2, tmp_path / "x2.jsonl")
    assert len(keys) == len(set(keys)) == 8  # 4 items x 2 seeds: nothing lost, nothing twice
    after = {tuple(r[k] for k in KEY): r["response"] for r in store.read().to_pylist()}
    assert all(after[k] == v for k, v in before.items())  # stored records kept as they were
