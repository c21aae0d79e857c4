"""forgetmap.analysis.compare against an independent, straightforward Python computation."""

from __future__ import annotations

import json
import statistics
import warnings
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pytest

from forgetmap.analysis import compare, flipped_items, pair_records
from forgetmap.analysis.taskinfo import task_info
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore

# (task, n_items, k spec): fixed k, "mixed" (per item 3..5), None (free-form)
TASKS = [
    ("mmlu:anatomy", 40, 4),
    ("mmlu:virology", 30, 4),
    ("bbh:navigate", 25, 2),
    ("arc:easy", 35, "mixed"),
    ("bbh:dyck_languages", 20, None),  # registry: free-form, not in aggregates
    ("mybench:sub", 15, 3),  # unknown to the registry: category "mybench"
]


def make_rows(models, seeds=(0, 1, 2), seed=0, drop=0.05, row_category=None):
    rng = np.random.default_rng(seed)
    rows = []
    ks = {}
    for t, n, kspec in TASKS:
        for i in range(n):
            ks[(t, i)] = (
                int(rng.integers(3, 6)) if kspec == "mixed" else kspec
            )  # per item, same for both models
    for m in models:
        skill = rng.uniform(0.3, 0.8)
        for t, n, _ in TASKS:
            for s in seeds:
                for i in range(n):
                    if rng.random() < drop:
                        continue  # item missing on this side -> unpaired
                    ok = bool(rng.random() < skill)
                    status = "ok" if ok or rng.random() < 0.7 else "no_answer"
                    rows.append(
                        {
                            "model": m,
                            "task": t,
                            "item_id": f"{t}-{i}",
                            "seed": s,
                            "n_choices": ks[(t, i)],
                            "correct": ok,
                            "extract_status": status,
                            "gold": "A",
                            "pred": None if status == "no_answer" else ("A" if ok else "B"),
                            "prompt_hash": "h",
                            "category": row_category.get(t) if row_category else None,
                            "response": f"r-{m}-{i}",
                            "question": f"q{i}",
                        }
                    )
    return rows


def reference(rows, before, after):
    """Straightforward per-item loops: the formulas of docs/metrics.md, written out."""
    pre = {(r["task"], r["item_id"], r["seed"]): r for r in rows if r["model"] == before}
    post = {(r["task"], r["item_id"], r["seed"]): r for r in rows if r["model"] == after}
    cells = defaultdict(list)
    for key, rb in pre.items():
        if key in post:
            cells[(key[0], key[2])].append((rb, post[key]))
    out = {}
    for (t, s), items in cells.items():
        N = len(items)
        n = {"00": 0, "01": 0, "10": 0, "11": 0}
        na10 = 0
        by_k = defaultdict(int)
        for rb, ra in items:
            n[f"{int(rb['correct'])}{int(ra['correct'])}"] += 1
            if rb["correct"] and not ra["correct"] and ra["extract_status"] == "no_answer":
                na10 += 1
            k = rb["n_choices"] if rb["n_choices"] else ra["n_choices"]
            by_k[k if k and k >= 2 else 0] += 1
        ap = (n["10"] + n["11"]) / N
        aq = (n["01"] + n["11"]) / N
        fc = sum(ng / N * (1 - ap) / (k - 1) * (1 - aq) for k, ng in by_k.items() if k)
        fmax = sum(ng / N * (max((k * ap - 1) / (k - 1), 0) if k else ap) for k, ng in by_k.items())
        btmax = sum(
            ng / N * (max((k * aq - 1) / (k - 1), 0) if k else aq) for k, ng in by_k.items()
        )
        out[(t, s)] = {
            "n": N,
            "n00": n["00"],
            "n01": n["01"],
            "n10": n["10"],
            "n11": n["11"],
            "acc_pre": ap,
            "acc_post": aq,
            "F": n["10"] / N,
            "BT": n["01"] / N,
            "F_true": max(n["10"] / N - fc, 0),
            "BT_true": max(n["01"] / N - fc, 0),
            "F_max": fmax,
            "BT_max": btmax,
            "conventional": max(ap - aq, 0),
            "n10_no_answer": na10,
            "NFI": n["10"] / (n["00"] + n["10"]) if n["00"] + n["10"] else None,
        }
    return out, len(pre), len(post)


def ref_aggregate(cells, cat_of, metric, seeds):
    per_cat = defaultdict(dict)
    for c in sorted(set(cat_of.values())):
        for s in seeds:
            vals = [v[metric] for (t, ss), v in cells.items() if ss == s and cat_of.get(t) == c]
            if vals:
                per_cat[c][s] = sum(vals) / len(vals)
    total = {s: statistics.mean(per_cat[c][s] for c in per_cat if s in per_cat[c]) for s in seeds}
    return per_cat, total


def _cat_of(tasks, rows_cat=None):
    info = task_info(tasks)
    out = {}
    for t in tasks:
        reg, agg = info[t]
        if not agg:
            continue
        out[t] = (rows_cat or {}).get(t) or reg or t.split(":")[0]
    return out


def check_against_reference(result_pair, rows, before, after, seeds, rows_cat=None):
    ref, nb, na = reference(rows, before, after)
    cells = {(c["task"], c["seed"]): c for c in result_pair["cells"]}
    assert set(cells) == set(ref)
    for key, r in ref.items():
        for m, v in r.items():
            if v is None:
                assert cells[key][m] is None, (key, m)
            else:
                assert cells[key][m] == pytest.approx(v, abs=1e-9), (key, m)
    paired = sum(r["n"] for r in ref.values())
    assert result_pair["unpaired"] == {"before_only": nb - paired, "after_only": na - paired}
    cat_of = _cat_of(sorted({t for t, _ in ref}), rows_cat)
    agg_cells = {k: v for k, v in ref.items() if k[0] in cat_of}
    for metric in ("F_true", "BT_true", "acc_pre", "acc_post", "F_max", "conventional"):
        per_cat, total = ref_aggregate(agg_cells, cat_of, metric, seeds)
        assert set(result_pair["categories"]) == set(per_cat)
        for c, by_seed in per_cat.items():
            vals = [by_seed[s] for s in seeds if s in by_seed]
            got = result_pair["categories"][c][metric]
            assert got["mean"] == pytest.approx(statistics.mean(vals), abs=1e-9), (c, metric)
            if len(vals) >= 2:
                assert got["std"] == pytest.approx(statistics.stdev(vals), abs=1e-9)
            else:
                assert got["std"] is None
        tv = [total[s] for s in seeds]
        assert result_pair["total"][metric]["mean"] == pytest.approx(statistics.mean(tv), abs=1e-9)
        if len(tv) >= 2:
            assert result_pair["total"][metric]["std"] == pytest.approx(
                statistics.stdev(tv), abs=1e-9
            )
        else:
            assert result_pair["total"][metric]["std"] is None


@pytest.fixture(scope="module")
def rows():
    return make_rows(["org/base", "org/inst", "org/rl"])


def test_compare_matches_reference_every_cell(rows):
    table = pa.Table.from_pylist(rows)
    pairs = [("org/base", "org/inst"), ("org/base", "org/rl"), ("org/inst", "org/rl")]
    res = compare(table, pairs, bootstrap=200, seed=1).to_dict()
    json.dumps(res, allow_nan=False)  # valid JSON: NaN never leaks
    assert [(p["before"], p["after"]) for p in res["pairs"]] == pairs
    for pr, (b, a) in zip(res["pairs"], pairs, strict=True):
        check_against_reference(pr, rows, b, a, [0, 1, 2])
        assert pr["excluded_from_aggregate"] == ["bbh:dyck_languages"]
        assert "bbh:dyck_languages" not in {
            t for c in pr["categories"].values() for t in c["tasks"]
        }
        assert "mybench" in pr["categories"]
        assert pr["tasks"]["mybench:sub"]["category"] == "mybench"
        for c in pr["cells"]:
            lo, hi = c["ci"]["F_true"]
            assert lo <= hi
        # pooled McNemar per task and per pair uses the summed discordant counts
        t = pr["tasks"]["mmlu:anatomy"]
        n10 = sum(c["n10"] for c in pr["cells"] if c["task"] == "mmlu:anatomy")
        assert t["pooled"]["n10"] == n10


def test_compare_on_store_equals_table_and_is_reproducible(tmp_path, rows):
    store = ResultsStore(tmp_path / "res")
    table = pa.Table.from_pylist(rows)
    for m in ("org/base", "org/inst"):
        sub = table.filter(pa.compute.equal(table.column("model"), m))
        store.append(sub.slice(0, 500), m, "r1")  # several files per model
        store.append(sub.slice(500), m, "r2")
    a = compare(store, [("org/base", "org/inst")], bootstrap=100, seed=3)
    b = compare(table, [("org/base", "org/inst")], bootstrap=100, seed=3)
    assert a == b
    # a pair's CIs do not depend on the other pairs compared with it
    c = compare(table, [("org/inst", "org/rl"), ("org/base", "org/inst")], bootstrap=100, seed=3)
    assert c.pairs[1].cells == b.pairs[0].cells
    tbl = a.cells_table()
    assert tbl.num_rows == len(a.pairs[0].cells)
    assert "F_true_ci_low" in tbl.column_names


def test_single_seed_std_is_null():
    rows = make_rows(["a", "b"], seeds=(0,), seed=5)
    res = compare(pa.Table.from_pylist(rows), [("a", "b")], bootstrap=0)
    pr = res.to_dict()["pairs"][0]
    check_against_reference(pr, rows, "a", "b", [0])
    assert all(c["F_true"]["std"] is None for c in pr["categories"].values())
    assert pr["total"]["F_true"]["std"] is None
    assert pr["cells"][0]["ci"]["F_true"] == [None, None]


def test_row_category_wins_over_registry():
    cats = {"mmlu:anatomy": "Medicine", "arc:easy": "Reasoning"}
    rows = make_rows(["a", "b"], seed=9, row_category=cats)
    pr = compare(pa.Table.from_pylist(rows), [("a", "b")], bootstrap=0).pairs[0]
    assert pr.tasks["mmlu:anatomy"].category == "Medicine"
    assert pr.tasks["mmlu:virology"].category == "Science/Tech"  # from the registry
    check_against_reference(pr.to_dict(), rows, "a", "b", [0, 1, 2], rows_cat=cats)


def test_unknown_model_lists_known():
    table = pa.Table.from_pylist(make_rows(["a", "b"], drop=0))
    with pytest.raises(ForgetmapError, match=r"'zz' not found.*known models: a, b"):
        compare(table, [("a", "zz")])


def test_duplicates_are_an_error_naming_them():
    rows = make_rows(["a", "b"], drop=0)
    rows.append(dict(rows[3]))
    with pytest.raises(
        ForgetmapError,
        match=r"records of 'a': 1 duplicate .* e\.g\. model='a' task='mmlu:anatomy' .*\(x2\)",
    ):
        compare(pa.Table.from_pylist(rows), [("a", "b")])


def test_empty_intersection_is_an_error():
    rows = make_rows(["a"], drop=0)
    other = [dict(r, model="b", item_id="x" + r["item_id"]) for r in rows]
    with pytest.raises(ForgetmapError, match="'a' and 'b' have no items in common"):
        compare(pa.Table.from_pylist(rows + other), [("a", "b")])


def test_self_pair_and_empty_pairs_rejected():
    table = pa.Table.from_pylist(make_rows(["a", "b"], drop=0))
    with pytest.raises(ForgetmapError, match="itself"):
        compare(table, [("a", "a")])
    with pytest.raises(ForgetmapError, match="no pairs"):
        compare(table, [])


def test_prompt_hash_difference_warns_naming_task():
    rows = make_rows(["a", "b"], drop=0)
    for r in rows:
        if r["model"] == "b" and r["task"] == "bbh:navigate":
            r["prompt_hash"] = "other"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pr = compare(pa.Table.from_pylist(rows), [("a", "b")], bootstrap=0).pairs[0]
    msgs = [str(w.message) for w in caught]
    assert any("prompt_hash differs" in m and "bbh:navigate" in m for m in msgs)
    assert not any("mmlu:anatomy" in m for m in msgs)
    assert pr.warnings == [m for m in msgs if "prompt_hash" in m]


def test_pair_records_and_flipped_items():
    rows = make_rows(["a", "b"], seed=2)
    table = pa.Table.from_pylist(rows)
    before = table.filter(pa.compute.equal(table.column("model"), "a"))
    after = table.filter(pa.compute.equal(table.column("model"), "b"))
    paired, unpaired = pair_records(before, after)
    ref, nb, na = reference(rows, "a", "b")
    n = sum(r["n"] for r in ref.values())
    assert paired.num_rows == n
    assert unpaired == {"before_only": nb - n, "after_only": na - n}
    flips = flipped_items(table, "a", "b")
    assert flips.num_rows == sum(r["n01"] + r["n10"] for r in ref.values())
    f = flips.to_pylist()
    assert {x["flip"] for x in f} == {"1->0", "0->1"}
    assert all(x["response_before"].startswith("r-a-") for x in f)
    n10_na = sum(1 for x in f if x["flip"] == "1->0" and x["status_after"] == "no_answer")
    assert n10_na == sum(r["n10_no_answer"] for r in ref.values())
