"""`forgetmap data pull` end to end, `data check`, and the test suite's data folder.

The Hub is unreachable from these machines: `tests/localhub.py` answers the `datasets` /
Hub / download calls with the shared data folder's copies of the same files; everything after
those calls is the real code. The network is the only thing not exercised."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
from localhub import LocalHub

from forgetmap.cli.main import main
from forgetmap.suite.check import check_folder
from forgetmap.suite.datafiles import registry_files
from forgetmap.suite.loaders import clear_cache, load_task
from forgetmap.suite.pull import pull
from forgetmap.suite.registry import all_tasks

ROOT = Path(__file__).resolve().parents[1]


def _tasks() -> list:
    return [t for t in all_tasks() if t.local_paths]


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    """Every benchmark pulled into an empty folder from the local Hub."""
    out = tmp_path_factory.mktemp("pulled") / "data"
    cache = tmp_path_factory.mktemp("hf-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_DATASETS_CACHE", str(cache))
        hub = LocalHub.from_registry(data_dir).install(mp)
        report = pull(registry_files(), out)
    return out, report, hub


def test_pull_into_an_empty_folder_then_check_then_identical_items(pulled, data_dir: Path) -> None:
    out, report, _ = pulled
    # not servable from the local copies: ARC test (here only as OLMES request files) and
    # SALAD-Bench (not in the shared folder); everything else was pulled
    assert set(report.failed) == {"arc", "salad_bench"}, report.failed
    assert "ai2_arc" in report.failed["arc"] and "not found" in report.failed["arc"]
    results = {
        r.benchmark: r for r in check_folder(out, registry_files(), _tasks(), lambda t: t.n_items)
    }
    assert results["salad_bench"].status == "absent"
    assert results["arc"].status == "mismatch"
    assert any("arc/ai2_arc/ARC-Easy/test: missing" in p for p in results["arc"].problems)
    ok = {b for b, r in results.items() if r.status == "ok"}
    assert ok == set(results) - {"arc", "salad_bench"}
    assert all(r.hashes.endswith("match") for b, r in results.items() if b in ok)
    # the loaders read identical items from the pulled folder and from the shared one
    clear_cache()
    compared = 0
    for spec in _tasks():
        if spec.benchmark not in ok:
            continue
        mine = load_task(spec, data_dir=out, source="local")
        theirs = load_task(spec, data_dir=data_dir, source="local")
        assert [asdict(i) for i in mine.items] == [asdict(i) for i in theirs.items], spec.name
        assert len(mine.skipped) == len(theirs.skipped), spec.name
        compared += 1
    assert compared == len([t for t in _tasks() if t.benchmark in ok]) >= 99


def test_manifest_records_sources_revisions_hashes_and_rows(pulled) -> None:
    out, _, hub = pulled
    man = json.loads((out / "MANIFEST.json").read_text())
    mmlu = man["benchmarks"]["mmlu"]
    src = next(s for s in mmlu["sources"] if s["path"].endswith("/anatomy/test"))
    assert (
        src["source"].startswith("hub:cais/mmlu/anatomy:test@")
        and src["requested_revision"] == "main"
    )
    assert src["resolved_revision"] == "0123456789abcdef0123456789abcdef01234567"
    f = mmlu["files"]["mmlu/hails/mmlu_no_train/anatomy/test/data-00000-of-00001.arrow"]
    assert f["rows"] == 135 and len(f["sha256"]) == 64 and f["bytes"] > 0
    cot = man["benchmarks"]["bbh"]["files"]["bbh/cot-prompts/navigate.txt"]
    assert cot["source"].startswith(
        "https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/9ee07bd"
    )
    ans = man["benchmarks"]["mctest"]["files"]["mctest/data/MCTestAnswers/mc160.test.ans"]
    assert ans["rows"] == 60
    # the Hub was asked for the resolved commit, never a moving branch
    assert {c[3] for c in hub.calls} == {"0123456789abcdef0123456789abcdef01234567"}


def test_check_cli_on_a_pulled_folder_names_what_changed(pulled, tmp_path: Path, capsys) -> None:
    out, _, _ = pulled
    copy = tmp_path / "data"
    shutil.copytree(out, copy)
    keep = "mmlu,bbh,gpqa,ifeval,mctest,truthfulqa"
    assert main(["data", "check", str(copy), "--benchmarks", keep]) == 0
    text = capsys.readouterr().out
    assert "6 benchmark(s) match the registry" in text and "mismatch" not in text
    edited = copy / "gpqa" / "gpqa_diamond.csv"
    edited.write_text(edited.read_text().replace("?", "!", 1))
    (copy / "bbh" / "cot-prompts" / "navigate.txt").unlink()
    assert main(["data", "check", str(copy), "--benchmarks", keep]) == 2
    io = capsys.readouterr()
    assert f"{edited}: sha256 differs from MANIFEST.json" in io.out
    assert "bbh/cot-prompts/navigate.txt: missing (bbh:navigate)" in io.out
    assert "mismatch(es), first:" in io.err and "\n" not in io.err.strip()


def test_pull_again_keeps_what_is_complete(pulled, data_dir: Path, monkeypatch) -> None:
    out, _, _ = pulled
    hub = LocalHub.from_registry(data_dir).install(monkeypatch)
    report = pull(registry_files(["gpqa", "ifeval"]), out)
    assert report.ok and not report.written
    assert report.kept == {"gpqa": ["gpqa/gpqa_diamond.csv"], "ifeval": ["ifeval/input_data.jsonl"]}
    assert hub.calls == []  # nothing downloaded again


def test_check_shared_data_passes_and_names_the_absent(data_dir: Path, capsys) -> None:
    """The team's data folder (../shared/data in CI) matches the registry; SALAD-Bench is
    not in it and is named, which is no failure."""
    assert main(["data", "check", str(data_dir)]) == 0
    text = capsys.readouterr().out
    assert "absent: salad_bench" in text and "mismatch" not in text
    assert "bbh:snarks: 1 malformed row(s) skipped" in text
    assert main(["data", "check", str(data_dir), "--require-all"]) == 2
    assert "absent benchmark(s): salad_bench" in capsys.readouterr().err


def test_pull_cli_offline_is_one_line(data_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    hub = LocalHub.from_registry(data_dir).install(monkeypatch)
    hub.offline = True
    assert main(["data", "pull", "--to", str(tmp_path / "d"), "--benchmarks", "mmlu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot reach the Hugging Face Hub" in err


def test_pull_cli_bad_arguments(tmp_path: Path, capsys) -> None:
    assert main(["data", "pull", "--to", str(tmp_path), "--benchmarks", "mmlu,nope"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
    assert main(["data", "pull", "--to", str(tmp_path), "--revision", "mmlu"]) == 2
    assert "expected BENCHMARK=COMMIT" in capsys.readouterr().err


def test_without_any_data_folder_pytest_stops_with_one_line(tmp_path: Path) -> None:
    """A clone without ../shared and without .data: the test run stops at once, one line."""
    repo = tmp_path / "x" / "repo"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "conftest.py", repo / "tests" / "conftest.py")
    (repo / "tests" / "test_one.py").write_text("def test_one():\n    assert True\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "FORGETMAP_DATA_DIR"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(repo / "tests")],
        capture_output=True, text=True, env=env, cwd=repo, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [ln for ln in (run.stdout + run.stderr).splitlines() if "make data" in ln]
    assert len(lines) == 1 and "FORGETMAP_DATA_DIR" in lines[0]
    assert "passed" not in run.stdout and "failed" not in run.stdout
