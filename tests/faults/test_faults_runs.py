"""Issue 9, item 5: a killed run is shown as interrupted (never "running" forever), in the
manifest once the next run of the model starts, in `forgetmap runs` and in `export`'s output."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from faultkit import cli

from forgetmap.records import ResultsStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v1" / "results"

SLOW_EVAL = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from test_runner_units import Instant
    from forgetmap.engine.runner import evaluate

    class Slow(Instant):
        def generate(self, reqs):
            time.sleep(0.3)
            return super().generate(reqs)

    evaluate("m", backend=Slow(), tasks="bbh:navigate", seeds=(0, 1), limit=20,
             results=sys.argv[1], flush_size=1, progress=False)
    """
)


def _start(results: Path) -> subprocess.Popen:
    tests = Path(__file__).resolve().parents[1]
    return subprocess.Popen([sys.executable, "-c", SLOW_EVAL, str(results), str(tests)])


def _wait_for_records(results: Path, proc: subprocess.Popen, n: int = 2) -> None:
    deadline = time.time() + 120
    while len(list(results.glob("*/*/part-*.parquet"))) < n:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)


def test_killed_run_is_interrupted_in_runs_export_and_manifest(data_dir, tmp_path, capsys):
    res = tmp_path / "res"
    proc = _start(res)
    _wait_for_records(res, proc)
    code, out, err = cli(capsys, "runs", "--results", res, "--json")
    assert code == 0, err
    (live,) = json.loads(out)
    assert live["status"] == "running" and live["pid"] == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    code, out, err = cli(capsys, "runs", "--results", res, "--json")
    (dead,) = json.loads(out)
    assert dead["status"] == "interrupted" and dead["run_id"] == live["run_id"]
    assert dead["n_records"] >= 2
    code, out, err = cli(capsys, "runs", "--results", res)
    assert code == 0 and "interrupted" in out and live["run_id"] in out
    code, _, err = cli(capsys, "export", "--results", res, "--out", tmp_path / "x.csv")
    assert code == 0 and "interrupted" in err and live["run_id"] in err

    # the next run of the model marks it in the manifest itself, and completes the work
    from test_runner_units import Instant

    from forgetmap.engine.runner import evaluate

    s = evaluate("m", backend=Instant(), tasks="bbh:navigate", seeds=(0, 1), limit=20,
                 results=res, progress=False)  # fmt: skip
    store = ResultsStore(res)
    man = store.read_manifest("m", live["run_id"])
    assert man["status"] == "interrupted" and "interrupted_detected" in man
    assert store.read_manifest("m", s.run_id)["status"] == "complete"
    assert store.read().num_rows == 40
    code, out, _ = cli(capsys, "runs", "--results", res, "--json")
    assert sorted(r["status"] for r in json.loads(out)) == ["complete", "interrupted"]


def test_old_store_killed_run_is_interrupted(tmp_path: Path, capsys) -> None:
    res = Path(shutil.copytree(FIXTURE, tmp_path / "res"))
    code, out, err = cli(capsys, "runs", "--results", res, "--json")
    assert code == 0, err
    status = {r["model"]: r["status"] for r in json.loads(out)}
    assert status == {
        "base-model": "complete", "killed/m:v1": "interrupted", "smollm2/135m:q4": "complete"
    }  # fmt: skip
    code, out, _ = cli(capsys, "runs", "--results", res, "--model", "killed/m:v1")
    assert code == 0 and "interrupted" in out and "base-model" not in out
