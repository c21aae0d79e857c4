"""`forgetmap demo --quick`: the demo's own code path on a smaller size, real model, real data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from forgetmap.cli.main import main
from forgetmap.records import ResultsStore
from forgetmap.study.demo import AFTER, BEFORE, DEMO_SIZES, demo_study
from forgetmap.suite.synthetic import FAMILIES


def test_demo_study_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    full = DEMO_SIZES["full"]
    st = demo_study(full, with_real=False)
    assert st.models[BEFORE].tasks == tuple(f"synth:{f}" for f in FAMILIES)
    assert st.models[AFTER].quantize == (BEFORE, "Q4_0")
    assert st.sampling.seeds == (0, 1, 2) and st.limit == full.items
    with_real = demo_study(full, with_real=True)
    assert with_real.models[BEFORE].tasks[-len(full.real_tasks) :] == full.real_tasks
    assert [tuple(p) for p in st.pairs] == [(BEFORE, AFTER)]


@pytest.mark.slow
def test_demo_quick(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    size = DEMO_SIZES["quick"]
    n_tasks = len(FAMILIES) + len(size.real_tasks)  # data dir is set: real tasks included
    store = ResultsStore(out / "results")
    assert set(store.models()) == {BEFORE, AFTER}
    t = store.read(columns=["model", "task"])
    assert t.num_rows == 2 * n_tasks * size.items * len(size.seeds)
    assert set(t.column("task").to_pylist()) >= set(size.real_tasks)
    report = out / "report" / "report.html"
    assert report.is_file() and (out / "report" / "tables").is_dir()
    assert list((out / "report" / "figures").glob("*.png"))
    cmp = json.loads((out / "results" / "comparison.json").read_text())
    total = cmp["pairs"][0]["total"]
    for m in ("F_true", "BT_true", "acc_pre", "acc_post"):
        assert isinstance(total[m]["mean"], float) and isinstance(total[m]["std"], float)
    assert 0 <= total["pooled"]["p_mcnemar"] <= 1
    printed = capsys.readouterr().out
    assert str(report) in printed.replace("\n", "")
    # the summary shows every category and the total with numbers and p-values
    for cat in {c for c, _ in FAMILIES.values()} | {"Total"}:
        assert re.search(rf"{cat[:6]}\S*\s*│\s*\d+\.\d ±", printed), cat
    assert "McNemar" in printed
    # and says in words which categories' forgetting is distinguishable from sampling noise
    assert "distinguishable from sampling noise" in " ".join(printed.split())
