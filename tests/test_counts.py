"""Comparisons from transition counts alone (the study's comparison_results_all.csv).

`compare_counts` must give exactly what `compare` gives on the records behind the counts for
everything counts determine (cells, task summaries, categories, total), leave empty what needs
item identities, and feed the report: the study's tables and figures drawn from its own CSV.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from test_analysis_compare import make_rows

from forgetmap.analysis import compare
from forgetmap.analysis.counts import compare_counts
from forgetmap.cli.main import main
from forgetmap.errors import ForgetmapError
from forgetmap.importers.post_forget import read_comparison_counts

METRICS = ("F", "BT", "F_true", "BT_true", "F_max", "BT_max", "acc_pre", "acc_post", "NFI")


def _counts_of(result) -> pa.Table:
    rows = []
    for pr in result.pairs:
        for c in pr.cells:
            rows.append(
                {"before": pr.before, "after": pr.after, "task": c.task, "seed": c.seed}
                | {k: getattr(c, k) for k in ("n00", "n01", "n10", "n11")}
            )
    return pa.Table.from_pylist(rows)


@pytest.fixture(scope="module")
def records():
    rows = make_rows(["a", "b", "c"], seed=11, drop=0)
    rows = [r for r in rows if r["task"] != "arc:easy"]  # counts carry no per-item k
    return pa.Table.from_pylist([{**r, "n_choices": r["n_choices"] and 4} for r in rows])


def test_counts_give_the_records_comparison(records):
    pairs = [("a", "b"), ("a", "c")]
    full = compare(records, pairs, bootstrap=0, chance_k=4)
    got = compare_counts(_counts_of(full), chance_k=4)
    assert [p.key for p in got.pairs] == pairs
    for want, have in zip(full.pairs, got.pairs, strict=True):
        assert [(c.task, c.seed) for c in have.cells] == [(c.task, c.seed) for c in want.cells]
        for cw, ch in zip(want.cells, have.cells, strict=True):
            for m in (*METRICS, "n00", "n01", "n10", "n11", "p_mcnemar"):
                assert getattr(ch, m) == pytest.approx(getattr(cw, m)), (cw.task, m)
        assert set(have.categories) == set(want.categories)
        for name, cat in want.categories.items():
            for m in METRICS:
                w, h = getattr(cat, m), getattr(have.categories[name], m)
                assert (h.mean, h.std) == pytest.approx((w.mean, w.std), nan_ok=True), (name, m)
            assert have.categories[name].pooled == cat.pooled
            assert have.categories[name].item_view.n_items == 0  # no item identities
        assert have.total.F_true.mean == pytest.approx(want.total.F_true.mean)
        assert have.tasks["mmlu:anatomy"].pooled == want.tasks["mmlu:anatomy"].pooled
        assert "from aggregate counts" in have.warnings[0]
    assert got.to_dict()["settings"]["chance_k"] == 4


def test_study_rule_counts_bbh_by_its_declared_k(records):
    counts = _counts_of(compare(records, [("a", "b")], bootstrap=0))
    study = compare_counts(counts)  # 4 outside BBH, BBH's declared option count
    nav = compare_counts(counts, chance_k=2)  # bbh:navigate declares 2 options
    four = compare_counts(counts, chance_k=4)
    cells = {(c.task, c.seed): c for c in study.pairs[0].cells}
    for c in nav.pairs[0].cells:
        if c.task == "bbh:navigate":
            assert cells[(c.task, c.seed)].F_chance == pytest.approx(c.F_chance)
    for c in four.pairs[0].cells:
        if c.task == "mmlu:anatomy":
            assert cells[(c.task, c.seed)].F_chance == pytest.approx(c.F_chance)
    with pytest.raises(ForgetmapError, match="needs records"):
        compare_counts(counts, chance_k="item")
    with pytest.raises(ForgetmapError, match="no counts for the pair"):
        compare_counts(counts, pairs=[("a", "zz")])


CSV = (
    "task,seed,model_before,model_after,n,acc_before,acc_after,0->0,0->1,1->0,1->1\n"
    "community|mmlu:anatomy|0,{s},Qwen_Qwen2.5-7B,Qwen_Qwen2.5-7B-Instruct,10,0,0,2,1,3,4\n"
    "community|bbh:navigate|0,{s},Qwen_Qwen2.5-7B,Qwen_Qwen2.5-7B-Instruct,8,0,0,1,2,1,4\n"
    "community|piqa:main|0,{s},Qwen_Qwen2.5-7B,Qwen_Qwen2.5-7B-Instruct,6,0,0,1,1,1,3\n"
)


def test_report_from_the_studys_csv(tmp_path, capsys):
    f = tmp_path / "comparison_results_all.csv"
    f.write_text(CSV.format(s=0) + "".join(CSV.format(s=s).split("\n", 1)[1] for s in (1, 2)))
    counts = read_comparison_counts(f)
    cmp = compare_counts(counts)
    pr = cmp.pairs[0]
    assert pr.key == ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct")
    assert {c.task for c in pr.cells} == {"mmlu:anatomy", "bbh:navigate", "piqa:validation"}
    anatomy = next(c for c in pr.cells if c.task == "mmlu:anatomy")
    assert anatomy.F_chance == pytest.approx((1 - 0.7) / 3 * (1 - 0.5))  # k = 4 as the study
    out = tmp_path / "report"
    code = main(["report", "--counts", str(f), "--out", str(out), "--no-interactive"])
    assert code == 0, capsys.readouterr().err
    tex = (out / "tables" / "forgetting.tex").read_text()
    assert "Qwen2.5-7B" in tex and "Total" in tex
    assert any(out.joinpath("figures").glob("*.png"))
