"""`forgetmap compare` on real evaluation logs (tests/fixtures/importers, made by really running
lm-evaluation-harness, inspect_ai and lighteval - also in the post-forget study's layout - on SmolLM2-135M-Instruct
and Gemma-3-270M base over real ARC-Easy items with 3-5 options, plus OpenCompass/HELM files in
their documented formats with those models' real answers; scripts/make_importer_fixtures*.py),
checked on every cell against a computation written out by hand from the imported rows - and, for
lm-eval, from the raw `samples_*.jsonl` files themselves. Gemma (base) is "before", SmolLM2
(instruct) "after"."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from test_analysis_compare import check_against_reference

from forgetmap.cli.main import main
from forgetmap.records import ResultsStore

FIX = Path(__file__).parent / "fixtures" / "importers"
# CLI tool name -> fixture folder
TOOLS = {
    "lm-eval": "lm_eval",
    "lighteval": "lighteval",
    "lighteval ": "post_forget",  # the post-forget study's lighteval layout
    "inspect": "inspect",
    "opencompass": "opencompass",
    "helm": "helm",
}


def _compare(tmp_path: Path, capsys, tool: str, folder: str) -> tuple[dict, list[dict]]:
    res = tmp_path / "res"
    code = main(["import", tool.strip(), str(FIX / folder), "--results", str(res)])
    assert code == 0, capsys.readouterr().err
    store = ResultsStore(res)
    models = store.models()
    assert len(models) == 2, models
    before = next(m for m in models if "gemma" in m)
    after = next(m for m in models if "smollm2" in m)
    out = tmp_path / "cmp.json"
    code = main(["compare", "--results", str(res), "--before", before, "--after", after,
                 "--json", str(out), "--bootstrap", "200", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    result = json.loads(out.read_text())
    assert (result["pairs"][0]["before"], result["pairs"][0]["after"]) == (before, after)
    return result, store.read().to_pylist()


@pytest.mark.parametrize(("tool", "folder"), list(TOOLS.items()), ids=list(TOOLS.values()))
def test_compare_on_imported_real_logs(tmp_path, capsys, tool, folder):
    result, rows = _compare(tmp_path, capsys, tool, folder)
    pr = result["pairs"][0]
    # a row's own category wins (before side first), as docs/metrics.md says
    rows_cat: dict[str, str] = {}
    for side in (pr["before"], pr["after"]):
        for r in rows:
            if r["model"] == side and r["category"]:
                rows_cat.setdefault(r["task"], r["category"])
    check_against_reference(pr, rows, pr["before"], pr["after"], pr["seeds"], rows_cat=rows_cat)
    assert pr["n_paired"] > 0 and pr["cells"]
    # k varies between these items (3-5 options): the stratified chance term is exercised
    assert len({r["n_choices"] for r in rows if r["n_choices"]}) > 1
    ks = {r["n_choices"] for r in rows if r["n_choices"]}
    assert len(ks) > 1  # k varies between items: the stratified chance term is exercised


def test_lm_eval_compare_matches_raw_samples(tmp_path, capsys):
    """The multiple-choice task's cells straight from lm-eval's own per-sample `acc`."""
    result, _ = _compare(tmp_path, capsys, "lm-eval", "lm_eval")
    cells = {(c["task"], c["seed"]): c for c in result["pairs"][0]["cells"]}
    acc: dict[tuple[str, int], dict[str, tuple[bool, int]]] = defaultdict(dict)
    for f in (FIX / "lm_eval").rglob("samples_arc_mini_2*.jsonl"):
        seed = int(next(p for p in f.parts if p.startswith("seed"))[4:])
        model = "gemma" if "gemma3" in f.parent.name else "smol"
        for line in f.read_text().splitlines():
            if line.strip():
                s = json.loads(line)
                acc[(model, seed)][str(s["doc_id"])] = (
                    bool(s["acc"]),
                    len(s["doc"]["choices"]["text"]),
                )
    assert acc
    for seed in sorted({s for _, s in acc}):
        pre, post = acc[("gemma", seed)], acc[("smol", seed)]
        ids = sorted(set(pre) & set(post))
        N = len(ids)
        n10 = sum(pre[i][0] and not post[i][0] for i in ids)
        n01 = sum(post[i][0] and not pre[i][0] for i in ids)
        ap = sum(pre[i][0] for i in ids) / N
        aq = sum(post[i][0] for i in ids) / N
        chance = sum((1 - ap) / (pre[i][1] - 1) * (1 - aq) for i in ids) / N
        c = cells[("arc_mini", seed)]
        assert (c["n"], c["n10"], c["n01"]) == (N, n10, n01)
        assert c["acc_pre"] == pytest.approx(ap, abs=1e-12)
        assert c["F_true"] == pytest.approx(max(n10 / N - chance, 0), abs=1e-12)
        assert c["BT_true"] == pytest.approx(max(n01 / N - chance, 0), abs=1e-12)
