"""forgetmap.metrics.joint / patterns / power: category and Total CIs, the noise floor, SEs, MDE.

Hand-worked values on small constructed cases, an exact enumeration of a bootstrap distribution,
a brute-force joint item bootstrap (resampling item rows, all seeds together, and recomputing the
study's aggregation naively) and the planner against simulated designs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from forgetmap.metrics import SizeTables, item_patterns, joint_stats, mde_factor
from forgetmap.metrics.power import (
    EXACT_MAX_SEEDS,
    PlanTask,
    consistency_from_floor,
    design_mde,
    items_needed,
    null_patterns,
    plan_mde,
    unit_variance,
    unit_variances,
)

Z = 1.959963984540054 + 0.8416212335729143  # z_0.975 + z_0.8


def _items(cells: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """pre/post arrays [N] of one seed from counts (n00, n01, n10, n11)."""
    pre = np.repeat([0, 0, 1, 1], cells)
    post = np.repeat([0, 1, 0, 1], cells)
    return pre, post


def test_mde_factor():
    assert mde_factor() == pytest.approx(Z, rel=1e-12)
    assert mde_factor(0.01, 0.9) == pytest.approx(2.5758293035489 + 1.2815515655446, rel=1e-9)


def test_one_seed_se_by_hand():
    # one task, one seed, k=4: n00=2, n01=1, n10=3, n11=4 (N=10)
    pre, post = _items((2, 1, 3, 4))
    pat = item_patterns(np.zeros(10, int), np.full(10, 4), (2 * pre + post)[:, None], 1)
    js = joint_stats(pat, np.array([0]), 1)
    # A=0.7, B=0.5, F=0.3, w=1/3: chance = 0.3*0.5/3 = 0.05, F_true = 0.25
    assert js.point["F_true"] == pytest.approx([0.25, 0.25])
    assert js.point["acc_pre"] == pytest.approx([0.7, 0.7])
    # influence psi_i = (f_i - F) + w(1-B)(a_i - A) + w(1-A)(b_i - B):
    # 00: -0.3 - 0.11667 - 0.05 = -0.46667; 01: -0.3 - 0.11667 + 0.05 = -0.36667
    # 10: 0.7 + 0.05 - 0.05 = 0.7;           11: -0.3 + 0.05 + 0.05 = -0.2
    psi = {0: -0.3 - 0.35 / 3 - 0.05, 1: -0.3 - 0.35 / 3 + 0.05, 2: 0.7, 3: -0.2}
    var = (2 * psi[0] ** 2 + psi[1] ** 2 + 3 * psi[2] ** 2 + 4 * psi[3] ** 2) / 10**2
    assert var == pytest.approx(0.022)
    assert js.se_F_excess == pytest.approx([math.sqrt(0.022)] * 2, rel=1e-9)
    assert js.design["acc"].tolist() == pytest.approx([0.7])
    assert js.design["k"].tolist() == [4] and int(js.design["n_seeds"]) == 1
    # one seed: no noise floor
    assert np.isnan(js.point["floor_before"]).all() and np.isnan(js.point["F_excess"]).all()


def test_noise_floor_and_excess_by_hand():
    # one task, k=4, two seeds. Before: item patterns over (s0, s1) 11, 10, 01, 00;
    # after: always wrong. Seed pair (0, 1) of the before-model: N=4, c1=2, c2=2, d10=1, d01=1
    pre = np.array([[1, 1], [1, 0], [0, 1], [0, 0]])
    post = np.zeros((4, 2), int)
    pat = item_patterns(np.zeros(4, int), np.full(4, 4), 2 * pre + post, 1)
    js = joint_stats(pat, np.array([0]), 1)
    # floor: chance = (1 - 1/2)(1 - 1/2)/3 = 1/12; each direction 1/4 - 1/12 = 1/6
    assert js.point["floor_before"][0] == pytest.approx(1 / 6)
    # after-model never right: its own flips are 0, chance (1-0)(1-0)/3 -> clipped at 0
    assert js.point["floor_after"][0] == 0.0
    # F_true per seed: F = 2/4, chance = (1 - 1/2)(1 - 0)/3 = 1/6 -> 1/3 on both seeds
    assert js.point["F_true"][0] == pytest.approx(1 / 3)
    assert js.point["F_excess"][0] == pytest.approx(1 / 3 - 1 / 6)
    # BT: no 0->1 flip at all: BT_true 0, BT_excess = -floor
    assert js.point["BT_excess"][0] == pytest.approx(-1 / 6)
    assert js.task_floor["before"].tolist() == pytest.approx([1 / 6])


def test_exact_bootstrap_distribution_by_enumeration():
    """Two tasks in one category, one seed: enumerate every resample of both tasks exactly and
    compare the exact 2.5/97.5% quantiles of the category acc_pre and F with the replicates."""
    task_items = [((0, 0, 2, 1), 4), ((1, 0, 1, 1), 2)]  # (n00, n01, n10, n11), k; both N=3
    dists = []
    for cells, _k in task_items:
        pre, post = _items(cells)
        n = pre.size
        outcomes: dict[tuple[float, float], float] = {}
        for draw in itertools.product(range(n), repeat=n):
            d = np.array(draw)
            key = (pre[d].mean(), (pre[d] & (1 - post[d])).mean())
            outcomes[key] = outcomes.get(key, 0.0) + n**-n
        dists.append(outcomes)
    exact: dict[str, dict[float, float]] = {"acc_pre": {}, "F": {}}
    for (a1, f1), p1 in dists[0].items():
        for (a2, f2), p2 in dists[1].items():
            for m, v in (("acc_pre", (a1 + a2) / 2), ("F", (f1 + f2) / 2)):
                v = round(v, 12)
                exact[m][v] = exact[m].get(v, 0.0) + p1 * p2

    def quantile(dist: dict[float, float], q: float) -> float:
        acc = 0.0
        for v in sorted(dist):
            acc += dist[v]
            if acc >= q:
                return v
        return max(dist)

    task, k, state = [], [], []
    for t, (cells, kk) in enumerate(task_items):
        pre, post = _items(cells)
        task += [t] * pre.size
        k += [kk] * pre.size
        state += (2 * pre + post).tolist()
    pat = item_patterns(np.array(task), np.array(k), np.array(state)[:, None], 2)
    js = joint_stats(pat, np.array([0, 0]), 1, SizeTables(20_000, 3))
    for m in ("acc_pre", "F"):
        lo, hi = quantile(exact[m], 0.025), quantile(exact[m], 0.975)
        # the exact CDF does not sit on 2.5% / 97.5% at a jump for these cases
        cdf = np.cumsum([exact[m][v] for v in sorted(exact[m])])
        assert np.min(np.abs(cdf - 0.025)) > 0.006 and np.min(np.abs(cdf - 0.975)) > 0.006
        assert js.ci[m][0].tolist() == pytest.approx([lo, hi], abs=1e-6), m


def _random_items(rng, n_tasks=4, n=60, seeds=3, missing=0.0, mixed_k=False, ks=(4, 2)):
    task = np.repeat(np.arange(n_tasks), n)
    k = np.where(task % 2 == 0, *ks)
    if mixed_k:
        k = np.where((task == 1) & (rng.random(task.size) < 0.5), 5, k)
    p = np.where(rng.random(task.size) < 0.5, 0.9, 0.3)
    pre = rng.random((task.size, seeds)) < p[:, None]
    post = rng.random((task.size, seeds)) < (p[:, None] * 0.85)
    state = 2 * pre.astype(int) + post
    state[rng.random(state.shape) < missing] = -1
    return task, k, state


def _naive_rows(task, k, state, cats, n_cat):
    """The study's aggregation written out directly (per task, seed; then categories, Total)."""
    T, S = task.max() + 1, state.shape[1]
    vals = {m: np.full((T, S), np.nan) for m in ("F_true", "F", "acc_pre")}
    for t in range(T):
        for s in range(S):
            sel = (task == t) & (state[:, s] >= 0)
            if not sel.any():
                continue
            st = state[sel, s]
            pre, post = st >= 2, st % 2 == 1
            a, b = pre.mean(), post.mean()
            w = np.mean(np.where(k[sel] >= 2, 1 / (k[sel] - 1), 0))
            vals["F"][t, s] = (pre & ~post).mean()
            vals["acc_pre"][t, s] = a
            vals["F_true"][t, s] = max((pre & ~post).mean() - (1 - a) * (1 - b) * w, 0)
    out = {}
    for m, v in vals.items():
        per_seed = np.array([np.nanmean(v[cats == c], axis=0) for c in range(n_cat)])
        out[m] = np.append(np.nanmean(per_seed, axis=1), np.nanmean(np.nanmean(per_seed, 0)))
    return out


def test_point_values_equal_a_naive_aggregation_with_gaps_and_mixed_k():
    rng = np.random.default_rng(4)
    task, k, state = _random_items(rng, missing=0.1, mixed_k=True)
    cats = np.array([0, 1, 1, 0])
    js = joint_stats(item_patterns(task, k, state, 4), cats, 2)
    ref = _naive_rows(task, k, state, cats, 2)
    for m, v in ref.items():
        np.testing.assert_allclose(js.point[m], v, rtol=1e-12, err_msg=m)


@pytest.mark.parametrize("missing", [0.0, 0.15])  # compact tasks / the general path
def test_bootstrap_equals_naive_joint_item_resampling_in_law(missing):
    rng = np.random.default_rng(8)
    task, k, state = _random_items(rng, missing=missing, mixed_k=missing > 0)
    cats = np.array([0, 1, 1, 0])
    B = 1500
    js = joint_stats(
        item_patterns(task, k, state, 4), cats, 2, SizeTables(B, 0), keep_replicates=True
    )
    # brute force: resample item rows within each task (all seeds of an item together)
    reps = {m: [] for m in ("F_true", "F", "acc_pre")}
    for _ in range(B):
        idx = np.concatenate(
            [rng.choice(np.flatnonzero(task == t), (task == t).sum()) for t in range(4)]
        )
        r = _naive_rows(task[idx], k[idx], state[idx], cats, 2)
        for m in reps:
            reps[m].append(r[m])
    for m, rep in reps.items():
        rep = np.array(rep)
        ours = js.replicates[m]
        np.testing.assert_allclose(ours.std(axis=1), rep.std(axis=0), rtol=0.1, err_msg=m)
        np.testing.assert_allclose(ours.mean(axis=1), rep.mean(axis=0), atol=0.15 * rep.std().max())
        lo, hi = np.quantile(rep, [0.025, 0.975], axis=0)
        assert js.ci[m][:, 0] == pytest.approx(lo, abs=0.3 * rep.std(axis=0).max()), m
        assert js.ci[m][:, 1] == pytest.approx(hi, abs=0.3 * rep.std(axis=0).max()), m


def test_linearised_se_matches_bootstrap_sd():
    # k = 4 and 5 keep every floor well above the clip at 0; near it (k = 2 here) the per-cell
    # max(., 0) makes the replicates a mixture that a first-order expansion does not follow
    rng = np.random.default_rng(2)
    task, k, state = _random_items(rng, n=400, ks=(4, 5))
    cats = np.array([0, 1, 1, 0])
    js = joint_stats(
        item_patterns(task, k, state, 4), cats, 2, SizeTables(4000, 1), keep_replicates=True
    )
    sd = js.replicates["F_excess"].std(axis=1)
    np.testing.assert_allclose(js.se_F_excess, sd, rtol=0.07)


def test_bootstrap_reproducible_and_tasks_independent():
    rng = np.random.default_rng(3)
    task, k, state = _random_items(rng)
    pat = item_patterns(task, k, state, 4)
    cats = np.array([0, 0, 0, 0])
    a = joint_stats(pat, cats, 1, SizeTables(500, 9))
    b = joint_stats(pat, cats, 1, SizeTables(500, 9))
    c = joint_stats(pat, cats, 1, SizeTables(500, 10))
    assert a.ci["F_true"].tolist() == b.ci["F_true"].tolist()
    assert a.ci["F_true"].tolist() != c.ci["F_true"].tolist()
    # four tasks of the same size share one table: each must use its own column per replicate,
    # else identical tasks move together and the category variance is that of one task
    same = np.tile(state[task == 0], (4, 1))
    pat4 = item_patterns(task, k * 0 + 4, same, 4)
    js = joint_stats(pat4, cats, 1, SizeTables(4000, 0), keep_replicates=True)
    one = joint_stats(item_patterns(task[task == 0], k[task == 0] * 0 + 4, state[task == 0], 1),
                      np.array([0]), 1, SizeTables(4000, 0), keep_replicates=True)  # fmt: skip
    ratio = js.replicates["acc_pre"][0].var() / one.replicates["acc_pre"][0].var()
    assert ratio == pytest.approx(0.25, abs=0.04)  # independent: variance / 4
    # the same when one of them takes the general path (an item missing a seed): ranks are
    # counted over all the pair's tasks of a size, not within each path
    gap = same.copy()
    gap[np.flatnonzero(task == 2)[0], 1] = -1
    js = joint_stats(item_patterns(task, k * 0 + 4, gap, 4), cats, 1, SizeTables(4000, 0),
                     keep_replicates=True)  # fmt: skip
    ratio = js.replicates["acc_pre"][0].var() / one.replicates["acc_pre"][0].var()
    assert ratio == pytest.approx(0.25, abs=0.04)


def test_more_tasks_of_one_size_than_replicates():
    rng = np.random.default_rng(5)
    task, k, state = _random_items(rng, n_tasks=12, n=20)
    js = joint_stats(item_patterns(task, k, state, 12), np.zeros(12, int), 1, SizeTables(5, 0))
    assert np.isfinite(js.ci["F_true"]).all()


# -- power -----------------------------------------------------------------------------------------
def test_design_mde_by_hand():
    """One task of 100 items, one seed, k = 2, accuracy 0.75, consistency 1: half the items are
    known (always right), half guessed (right with 1/2), before and after alike.

    A = 0.75, F = 0.5 * 0.25 = 0.125, w = 1. Influence psi = (f - F) + w(1 - A)(x - A)
    + w(1 - A)(y - A): known items 0; guessed items with (x, y) = 00: -0.5, 01: -0.25,
    10: 0.75, 11: 0, each with probability 1/4. E psi^2 = 0.5 * 0.25 * (0.25 + 0.0625 + 0.5625)
    = 0.109375; SE = sqrt(0.109375 / 100) = 0.0330719; MDE = 2.8015852 * SE = 0.0926537.
    """
    unit = unit_variances([2], 1, np.array([0.75]), np.array([1.0]))
    assert unit[0] == pytest.approx(0.109375, rel=1e-12)
    assert unit_variance(2, 1, 0.75, 1.0) == pytest.approx(0.109375, rel=1e-12)  # linearisation
    mde = design_mde(np.array([100]), unit, np.array([0]), 1)
    assert mde == pytest.approx([Z * math.sqrt(0.00109375)] * 2, rel=1e-12)
    assert mde[0] == pytest.approx(0.0926537, abs=1e-7)
    # two tasks in a category, two categories: weights 1/T_c within, 1/C in Total
    mde = design_mde(np.array([100, 400, 100]), np.full(3, 0.109375), np.array([0, 0, 1]), 2)
    var_a = (0.109375 / 100 + 0.109375 / 400) / 4
    assert mde[0] == pytest.approx(Z * math.sqrt(var_a))
    assert mde[2] == pytest.approx(Z * math.sqrt((var_a + 0.00109375) / 4))


def test_consistency_from_the_floor_by_hand():
    # half the items known, right on 90% of samples, k = 4: acc = 0.45 + 0.125 = 0.575;
    # two seeds disagree on 2 (0.5 * 0.09 + 0.5 * 0.1875) = 0.2775 of the items
    assert consistency_from_floor(0.575, 0.2775, 4) == pytest.approx(0.9)
    assert consistency_from_floor(0.575, float("nan"), 4) == 0.9  # one seed: default
    assert consistency_from_floor(0.2, 0.3, 4) == 0.9  # below chance: default


@pytest.mark.parametrize("seeds", [1, 2, 3, 5])
def test_closed_form_unit_variance_equals_the_linearisation(seeds):
    for k, acc, cons in ((4, 0.6, 0.9), (2, 0.75, 1.0), (5, 0.5, 0.8), (None, 0.6, 0.9)):
        closed = unit_variances([k], seeds, np.array([acc]), np.array([cons]))[0]
        assert closed == pytest.approx(unit_variance(k, seeds, acc, cons), rel=1e-9)


def test_compare_mde_agrees_with_simulated_designs():
    """The pair's MDE (its items, seeds, accuracy and the consistency its floor shows) against
    the spread of F_excess over re-sampled pairs of the same models."""
    from forgetmap.analysis.uncertainty import _design_mde

    rng = np.random.default_rng(1)
    kappa, c = (0.6 - 0.25) / (0.9 - 0.25), 0.9
    p = np.where(rng.random((4, 250)) < kappa, c, 0.25)
    est, mdes = [], []
    for _ in range(200):
        pre = rng.random((4, 250, 3)) < p[..., None]
        post = rng.random((4, 250, 3)) < p[..., None]
        pat = item_patterns(np.repeat(np.arange(4), 250), np.full(1000, 4),
                            (2 * pre.astype(int) + post).reshape(1000, 3), 4)  # fmt: skip
        js = joint_stats(pat, np.array([0, 0, 1, 1]), 2)
        est.append(js.point["F_excess"])
        mdes.append(_design_mde(js.design, np.array([0, 0, 1, 1]), 2))
    np.testing.assert_allclose(np.mean(mdes, axis=0), Z * np.std(est, axis=0), rtol=0.15)


def test_null_patterns_are_a_distribution_with_the_accuracy():
    for S in (1, 3):
        pats = null_patterns(4, S, acc=0.6, consistency=0.9)
        assert pats.count.sum() == pytest.approx(1.0)
        pre = (pats.state >= 2).astype(float)
        assert (pats.count[:, None] * pre).sum(axis=0) == pytest.approx([0.6] * S)
    # beyond exact enumeration: simulated items, close to the same answer
    exact = unit_variance(4, EXACT_MAX_SEEDS, 0.6, 0.9)
    import forgetmap.metrics.power as pw

    sim = pw.null_patterns(4, EXACT_MAX_SEEDS + 1, 0.6, 0.9)
    assert sim.count.sum() == pytest.approx(1.0)
    assert exact > unit_variance(4, EXACT_MAX_SEEDS + 1, 0.6, 0.9)  # more seeds, less noise


def test_plan_mde_matches_simulated_designs():
    tasks = [PlanTask(f"t{i}", "A" if i < 3 else "B", 300, 4) for i in range(5)]
    res = plan_mde(tasks, 3, acc=0.6, consistency=0.9)
    assert res.categories == ["A", "B"] and res.n_tasks == [3, 2] and res.n_items == [900, 600]
    rng = np.random.default_rng(0)
    kappa = (0.6 - 0.25) / (0.9 - 0.25)
    ests = []
    for _ in range(300):
        p = np.where(rng.random((5, 300)) < kappa, 0.9, 0.25)
        pre = rng.random((5, 300, 3)) < p[..., None]
        post = rng.random((5, 300, 3)) < p[..., None]
        pat = item_patterns(np.repeat(np.arange(5), 300), np.full(1500, 4),
                            (2 * pre.astype(int) + post).reshape(1500, 3), 5)  # fmt: skip
        ests.append(joint_stats(pat, np.array([0, 0, 0, 1, 1]), 2).point["F_excess"])
    sd = np.array(ests).std(axis=0)
    np.testing.assert_allclose(res.mde, Z * sd, rtol=0.12)
    np.testing.assert_allclose(np.array(ests).mean(axis=0), 0.0, atol=0.25 * sd.max())


def test_items_needed_is_the_smallest_limit():
    tasks = [PlanTask(f"t{i}", "A", 400, 4) for i in range(4)]
    need = items_needed(tasks, 0.03, 3, 0.6)
    assert need is not None
    assert plan_mde(tasks, 3, 0.6, limit=need).mde[-1] <= 0.03
    assert plan_mde(tasks, 3, 0.6, limit=need - 1).mde[-1] > 0.03
    assert items_needed(tasks, 0.001, 3, 0.6) is None  # 400 items per task are not enough
    assert items_needed(tasks, 0.001, 3, 0.6, max_items=10**7) > 400
