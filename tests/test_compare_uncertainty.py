"""`compare` carries category/Total uncertainty (docs/statistics.md): 95% CIs of the aggregated
metrics, the sampling-noise floor of both models, F_excess with its CI and the MDE — on the
committed real-log fixtures for every category, and consistent with forgetmap.metrics on a
synthetic store (reproducible, one pair's fields independent of the other pairs compared)."""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_compare_pinned import REAL_LOGS, _import, synthetic_table

from forgetmap.analysis import compare
from forgetmap.cli.main import main
from forgetmap.records import ResultsStore

CI_METRICS = ("F_true", "BT_true", "F", "BT", "acc_pre", "acc_post")


def new_fields_of(block: dict) -> None:
    for m in CI_METRICS:
        ci = block[m]["ci95"]
        assert isinstance(ci, list) and len(ci) == 2, (m, ci)
    for m in ("F_excess", "BT_excess"):
        assert set(block[m]) == {"mean", "ci95"}
    assert "mde_F_true" in block


@pytest.mark.parametrize("folder", list(REAL_LOGS), ids=list(REAL_LOGS))
def test_real_log_compare_json_has_the_new_fields_for_every_category(folder, tmp_path):
    res, before, after = _import(folder, tmp_path)
    out = tmp_path / "cmp.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["compare", "--results", str(res), "--before", before, "--after", after,
                     "--json", str(out), "--bootstrap", "200", "--quiet"])  # fmt: skip
    assert code == 0
    doc = json.loads(out.read_text())
    pr = doc["pairs"][0]
    assert pr["categories"]
    for name, block in [*pr["categories"].items(), ("Total", pr["total"])]:
        new_fields_of(block)
        for m in CI_METRICS:
            lo, hi = block[m]["ci95"]
            assert lo is not None and lo <= block[m]["mean"] + 1e-12 <= hi + 2e-12, (name, m)
        assert block["mde_F_true"] is not None and block["mde_F_true"] > 0
        for side in ("before", "after"):
            assert name in pr["noise_floor"][side]
            # one seed in these logs: no seed pair, no floor
            assert pr["noise_floor"][side][name]["F_true"]["mean"] is None
    assert doc["settings"]["mde"] == {"alpha": 0.05, "power": 0.8}
    for task in pr["tasks"].values():
        assert set(task["noise_floor"]) == {"before", "after"}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    res = tmp_path_factory.mktemp("unc") / "res"
    table = synthetic_table()
    store = ResultsStore(res)
    for m in ("before", "after", "merged"):
        store.append(table.filter(pa_equal(table, m)), m, "run-0")
    return store


def pa_equal(table, model):
    import pyarrow.compute as pc

    return pc.equal(table["model"], model)


def test_fields_agree_with_the_metrics_layer_and_with_themselves(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = compare(synthetic, [("before", "after")], bootstrap=300, seed=4).to_json()
        two = compare(synthetic, [("before", "merged"), ("before", "after")], bootstrap=300,
                      seed=4).to_json()  # fmt: skip
        other = compare(synthetic, [("before", "after")], bootstrap=300, seed=5).to_json()
    a = json.loads(one)["pairs"][0]
    b = json.loads(two)["pairs"][1]
    c = json.loads(other)["pairs"][0]
    # a pair's intervals depend only on the seed and its own items
    assert a["categories"] == b["categories"] and a["total"] == b["total"]
    assert a["noise_floor"] == b["noise_floor"]
    assert a["total"]["F_true"]["ci95"] != c["total"]["F_true"]["ci95"]
    for name, block in [*a["categories"].items(), ("Total", a["total"])]:
        floor = a["noise_floor"]["before"][name]["F_true"]["mean"]
        assert floor is not None and floor >= 0  # three seeds: floors exist
        assert (
            a["noise_floor"]["before"][name]["BT_true"]
            == a["noise_floor"]["before"][name]["F_true"]
        )
        assert block["F_excess"]["mean"] == pytest.approx(block["F_true"]["mean"] - floor)
        assert block["BT_excess"]["mean"] == pytest.approx(block["BT_true"]["mean"] - floor)
        lo, hi = block["F_excess"]["ci95"]
        assert lo < hi
    # per-task floors: the mean over seed pairs of each model against itself (by hand, pin:beta)
    t = synthetic_table().to_pylist()
    rows = {
        (r["model"], r["item_id"], r["seed"]): r["correct"] for r in t if r["task"] == "pin:beta"
    }
    items = sorted(
        {i for (m, i, s) in rows if m == "before"} & {i for (m, i, s) in rows if m == "after"}
    )
    vals = []
    for s1, s2 in ((0, 1), (0, 2), (1, 2)):
        both = [i for i in items if all(
            (m, i, s) in rows for m in ("before", "after") for s in (s1, s2))]  # fmt: skip
        x = np.array([rows[("before", i, s1)] for i in both])
        y = np.array([rows[("before", i, s2)] for i in both])
        chance = (1 - x.mean()) * (1 - y.mean()) / (2 - 1)
        vals += [max((x & ~y).mean() - chance, 0), max((~x & y).mean() - chance, 0)]
    assert a_task_floor(one, "pin:beta") == pytest.approx(np.mean(vals), abs=1e-12)


def a_task_floor(doc: str, task: str) -> float:
    return json.loads(doc)["pairs"][0]["tasks"][task]["noise_floor"]["before"]["F_true"]


def test_without_bootstrap_intervals_are_null_but_floors_and_mde_remain(synthetic):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = json.loads(compare(synthetic, [("before", "after")], bootstrap=0).to_json())["pairs"][
            0
        ]
    tot = pr["total"]
    assert tot["F_true"]["ci95"] == [None, None]
    assert tot["F_excess"]["ci95"] == [None, None] and tot["F_excess"]["mean"] is not None
    assert tot["mde_F_true"] > 0


def test_terminal_table_never_cuts_a_number(synthetic, tmp_path):
    import subprocess
    import sys

    res = Path(synthetic.root)
    out = subprocess.run(
        [sys.executable, "-m", "forgetmap", "compare", "--results", str(res), "--before",
         "before", "--after", "after", "--bootstrap", "200"],
        capture_output=True, text=True, env={**__import__("os").environ, "COLUMNS": "60"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the store's deliberate prompt_hash difference
        doc = json.loads(compare(synthetic, [("before", "after")], bootstrap=200).to_json())
    tot = doc["pairs"][0]["total"]
    assert f"{100 * tot['F_true']['mean']:.1f}" in text


def test_noise_words_name_the_categories(synthetic):
    from forgetmap.report.terminal import noise_words

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = compare(synthetic, [("before", "after")], bootstrap=300).pairs[0]
        bare = compare(synthetic, [("before", "after")], bootstrap=0).pairs[0]
    words = noise_words(pr)
    yes = [c for c, b in pr.categories.items() if b.distinguishable("F_true")]
    no = [c for c, b in pr.categories.items() if b.distinguishable("F_true") is False]
    assert yes and no  # this store has both
    head, _, rest = words.partition("; not in ")
    assert all(c in head for c in yes) and all(c in rest.split("(")[0] for c in no)
    assert not any(c in head for c in no)
    assert noise_words(bare) is None  # no intervals, no verdict


# fixtures whose logs hold repeated samples of each item (lm-eval repeats, HELM trials): two seed
# labels per model, so both models get a noise floor from real outputs. These tiny models sit
# near chance, so the floors come out 0 after the clip; a task logged once (lm-eval's loglik
# arc_mini) has no floor (null), and the by-hand check tells the two apart.
REPEATS = {"lm_eval_repeats": "lm-eval", "helm_trials": "helm"}


def _floor_by_hand(tables: dict, side: str, task: str, seeds: list[int]) -> float | None:
    """Mean over ordered seed pairs of the `side` model against itself: max(F - F_chance, 0)
    with F_chance = (1 - acc_s)(1 - acc_s') mean(1/(k - 1)), on the pair's items (answered by
    both models on both seeds); None when the task has fewer than two such seeds."""
    rows = {
        (m, r["item_id"], r["seed"]): (r["correct"], r["n_choices"])
        for m, t in tables.items()
        for r in t.to_pylist()
        if r["task"] == task and r["seed"] in seeds
    }
    have = sorted({s for (_m, _i, s) in rows})
    vals = []
    for s1, s2 in ((a, b) for a in have for b in have if a != b):
        items = sorted(
            i for (m, i, s) in rows
            if m == side and s == s1 and all((mm, i, ss) in rows for mm in tables for ss in (s1, s2))
        )  # fmt: skip
        x = np.array([rows[(side, i, s1)][0] for i in items])
        y = np.array([rows[(side, i, s2)][0] for i in items])
        w = np.mean([1 / (rows[(side, i, s1)][1] - 1) for i in items])
        vals.append(max((x & ~y).mean() - (1 - x.mean()) * (1 - y.mean()) * w, 0.0))
    return float(np.mean(vals)) if vals else None


@pytest.mark.parametrize("folder", list(REPEATS))
def test_real_logs_with_repeats_carry_noise_floors(folder, tmp_path):
    from test_compare_pinned import FIX

    res = tmp_path / "res"
    assert main(["import", REPEATS[folder], str(FIX / folder), "--results", str(res)]) == 0
    store = ResultsStore(res)
    before = next(m for m in store.models() if "gemma" in m)
    after = next(m for m in store.models() if "smollm2" in m)
    out = tmp_path / "cmp.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["compare", "--results", str(res), "--before", before, "--after", after,
                     "--json", str(out), "--bootstrap", "200", "--quiet"])  # fmt: skip
    assert code == 0
    pr = json.loads(out.read_text())["pairs"][0]
    assert len(pr["seeds"]) == 2
    for name, block in [*pr["categories"].items(), ("Total", pr["total"])]:
        new_fields_of(block)
        floor = pr["noise_floor"]["before"][name]["F_true"]["mean"]
        assert floor is not None and floor >= 0
        assert pr["noise_floor"]["after"][name]["F_true"]["mean"] is not None
        assert block["F_excess"]["mean"] == pytest.approx(block["F_true"]["mean"] - floor)
        lo, hi = block["F_excess"]["ci95"]
        assert lo is not None and lo <= block["F_excess"]["mean"] + 1e-12 <= hi + 2e-12
    tables = {"before": store.read(models=[before]), "after": store.read(models=[after])}
    floors = 0
    for side in tables:
        for task, tblock in pr["tasks"].items():
            want = _floor_by_hand(tables, side, task, pr["seeds"])
            got = tblock["noise_floor"][side]["F_true"]
            assert got == (None if want is None else pytest.approx(want, abs=1e-12)), (side, task)
            floors += want is not None
    assert floors  # at least one task of the fixture has items on both seeds


def _exact_bootstrap(counts: dict[tuple[int, int], int], k: int) -> dict[str, dict]:
    """Exact law of the item bootstrap of one task, one seed: every multinomial resample of
    the item patterns (x, y) enumerated; metric -> {value: probability}."""
    pats, n = list(counts), sum(counts.values())
    probs = np.array([counts[p] / n for p in pats])
    dist: dict[str, dict[float, float]] = {"F_true": {}, "F": {}, "acc_pre": {}, "acc_post": {}}
    for c in itertools.product(range(n + 1), repeat=len(pats)):
        if sum(c) != n:
            continue
        pr = math.factorial(n) / math.prod(math.factorial(x) for x in c) * np.prod(probs**c)
        a = sum(ci for ci, (x, _y) in zip(c, pats, strict=True) if x) / n
        b = sum(ci for ci, (_x, y) in zip(c, pats, strict=True) if y) / n
        f = c[pats.index((1, 0))] / n
        vals = {"F_true": max(f - (1 - a) * (1 - b) / (k - 1), 0), "F": f,
                "acc_pre": a, "acc_post": b}  # fmt: skip
        for m, v in vals.items():
            dist[m][round(v, 12)] = dist[m].get(round(v, 12), 0.0) + pr
    return dist


def _is_percentile(dist: dict[float, float], value: float, p: float, replicates: int) -> bool:
    """`value` is the p-quantile of `dist` up to Monte-Carlo error of `replicates` draws: the
    exact CDF reaches p - delta at `value` and stays below p + delta just before it (values
    compared to 1e-6: the replicates are computed in float32)."""
    delta = 4 * math.sqrt(p * (1 - p) / replicates)
    at = sum(q for v, q in dist.items() if v <= value + 1e-6)
    below = sum(q for v, q in dist.items() if v < value - 1e-6)
    return at >= p - delta and below <= p + delta


def test_compare_cli_by_hand_on_a_ten_item_task(tmp_path):
    """One task of 10 items, k = 4, one seed, n00 = 2, n01 = 1, n10 = 3, n11 = 4, through
    `forgetmap compare --json`: acc 0.7 -> 0.5, F = 0.3, F_chance = 0.3 * 0.5 / 3 = 0.05,
    F_true = 0.25; the 95% intervals are the exact percentiles of the item bootstrap (all 286
    multinomial resamples of the four item patterns) up to the Monte-Carlo error of 20,000
    replicates (10 items: the exact CDF jumps, e.g. F_true's 97.5% lies between 0.56 and
    0.5767 with the CDF at 0.9737 / 0.9816); the MDE is the docs' one-seed model
    worked by hand (consistency 0.9: kappa = 0.45 / 0.65 known, Var psi = 0.102, SE = 0.101,
    MDE = 2.8016 * 0.101 = 0.28295)."""
    import pyarrow as pa

    counts = {(0, 0): 2, (0, 1): 1, (1, 0): 3, (1, 1): 4}
    pre = [x for (x, _y), n in counts.items() for _ in range(n)]
    post = [y for (_x, y), n in counts.items() for _ in range(n)]
    res = tmp_path / "res"
    store = ResultsStore(res)
    for model, ok in (("toy/before", pre), ("toy/after", post)):
        store.append(pa.table({
            "model": [model] * 10, "task": ["toy:one"] * 10,
            "item_id": [f"i{i}" for i in range(10)], "seed": [0] * 10, "n_choices": [4] * 10,
            "gold": ["A"] * 10, "pred": ["A" if o else "B" for o in ok],
            "extract_status": ["ok"] * 10, "correct": [bool(o) for o in ok],
        }), model, run_id="run-0")  # fmt: skip
    out = tmp_path / "cmp.json"
    code = main(["compare", "--results", str(res), "--before", "toy/before", "--after",
                 "toy/after", "--json", str(out), "--bootstrap", "20000", "--seed", "1",
                 "--quiet"])  # fmt: skip
    assert code == 0
    tot = json.loads(out.read_text())["pairs"][0]["total"]
    for m, want in (("acc_pre", 0.7), ("acc_post", 0.5), ("F", 0.3), ("F_true", 0.25)):
        assert tot[m]["mean"] == pytest.approx(want, abs=1e-12), m
    for m, dist in _exact_bootstrap(counts, 4).items():
        lo, hi = tot[m]["ci95"]
        assert _is_percentile(dist, lo, 0.025, 20_000), (m, lo)
        assert _is_percentile(dist, hi, 0.975, 20_000), (m, hi)
    # the check has teeth: F_true's interval is [0, 0.5767] (0.56 within MC error), not wider
    assert not _is_percentile(_exact_bootstrap(counts, 4)["F_true"], 0.6, 0.975, 20_000)
    assert not _is_percentile(_exact_bootstrap(counts, 4)["F_true"], 0.0133, 0.025, 20_000)
    kappa, g, c, w, acc = 0.45 / 0.65, 0.25, 0.9, 1 / 3, 0.7
    f0 = kappa * c * (1 - c) + (1 - kappa) * g * (1 - g)
    var = 0.0
    for p, share in ((c, kappa), (g, 1 - kappa)):
        for x, y in itertools.product((0, 1), repeat=2):
            pxy = (p if x else 1 - p) * (p if y else 1 - p)
            psi = x * (1 - y) - f0 + w * (1 - acc) * (x + y - 2 * acc)
            var += share * pxy * psi**2
    assert var == pytest.approx(0.102, abs=1e-12)
    assert tot["mde_F_true"] == pytest.approx(2.8015852 * math.sqrt(var / 10), rel=1e-6)
    assert tot["mde_F_true"] == pytest.approx(0.28295, abs=1e-5)


def test_a_bound_that_rounds_to_zero_prints_unsigned():
    """The demo printed "0.0 [-0.0, 0.0]": a float32 bootstrap bound of -5e-9 formatted as is
    (terminal table and HTML report alike)."""
    from types import SimpleNamespace

    from forgetmap.analysis.results import Stat
    from forgetmap.report.model import fmt_pct
    from forgetmap.report.terminal import _interval, format_stat

    assert [fmt_pct(v) for v in (-4.967e-09, -0.0, -0.0004, -0.0006, 0.0123)] == [
        "0.0", "0.0", "0.0", "-0.1", "1.2"
    ]  # fmt: skip
    assert format_stat(Stat(-1e-9, 1e-10)) == "0.0 ± 0.0"
    block = SimpleNamespace(F_excess=Stat(0.0, None, ci95=[-4.967053726656623e-09, 0.0]))
    assert _interval(block) == "0.0 [0.0, 0.0]"  # type: ignore[arg-type]
    block = SimpleNamespace(F_excess=Stat(-0.002, None, ci95=[-0.0166, 0.0133]))
    assert _interval(block) == "-0.2 [-1.7, 1.3]"  # type: ignore[arg-type]
