"""forgetmap.metrics: every formula against values worked by hand (docs/metrics.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from forgetmap.metrics import (
    bootstrap_ci,
    cell_metrics,
    densify_strata,
    item_view,
    items_metrics,
    mcnemar_exact,
    metrics_from_strata,
    transition_counts,
)


def _cell(n00: int, n01: int, n10: int, n11: int, k: int | None) -> dict[str, float]:
    pre = [0] * n00 + [0] * n01 + [1] * n10 + [1] * n11
    post = [0] * n00 + [1] * n01 + [0] * n10 + [1] * n11
    return items_metrics(pre, post, k)


def test_transition_counts():
    assert transition_counts([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]).tolist() == [1, 1, 1, 2]


def test_design_worked_example():
    # 4 options, accuracy 80% -> 70%, n10 = 10% of items (so n01 = 0): F_true = 0.08
    m = _cell(n00=20, n01=0, n10=10, n11=70, k=4)
    assert m["acc_pre"] == pytest.approx(0.8)
    assert m["acc_post"] == pytest.approx(0.7)
    assert m["F"] == pytest.approx(0.10)
    assert m["F_chance"] == pytest.approx(0.2 / 3 * 0.3)  # = 0.02
    assert m["F_chance"] == pytest.approx(0.02)
    assert m["F_true"] == pytest.approx(0.08, abs=1e-12)
    assert m["BT"] == 0.0 and m["BT_true"] == 0.0
    assert m["F_max"] == pytest.approx((4 * 0.8 - 1) / 3)
    assert m["BT_max"] == pytest.approx((4 * 0.7 - 1) / 3)
    assert m["conventional"] == pytest.approx(0.1)
    assert m["acc_change"] == pytest.approx(-0.1)
    # NFI: n10 / (n00 + n10) = 10 / 30
    assert m["NFI"] == pytest.approx(1 / 3)


def test_k2():
    # N=10: n00=2, n01=2, n10=3, n11=3 -> acc_pre=0.6, acc_post=0.5
    m = _cell(2, 2, 3, 3, k=2)
    assert m["acc_pre"] == pytest.approx(0.6) and m["acc_post"] == pytest.approx(0.5)
    # k-1 = 1: F_chance = BT_chance = 0.4 * 0.5 = 0.2
    assert m["F_chance"] == pytest.approx(0.2)
    assert m["BT_chance"] == pytest.approx(0.2)
    assert m["F_true"] == pytest.approx(0.3 - 0.2)
    assert m["BT_true"] == pytest.approx(0.2 - 0.2, abs=1e-15)
    assert m["F_max"] == pytest.approx(2 * 0.6 - 1)  # 0.2
    assert m["BT_max"] == pytest.approx(0.0, abs=1e-15)  # 2*0.5-1 = 0


def test_accuracy_below_chance_clips_at_zero():
    # k=4, acc_pre = 0.2 < 1/4: ceiling 0; F = 0.1 < F_chance -> F_true 0
    m = _cell(n00=7, n01=1, n10=1, n11=1, k=4)
    assert m["acc_pre"] == pytest.approx(0.2)
    assert m["F_max"] == 0.0
    assert m["F_chance"] == pytest.approx(0.8 / 3 * 0.8)
    assert m["F"] == pytest.approx(0.1)
    assert m["F_true"] == 0.0
    assert m["BT_true"] == 0.0


def test_free_form_has_no_chance_term():
    m = _cell(2, 2, 3, 3, k=None)
    assert m["F_chance"] == 0.0 and m["BT_chance"] == 0.0
    assert m["F_true"] == pytest.approx(m["F"]) == pytest.approx(0.3)
    assert m["BT_true"] == pytest.approx(0.2)
    assert m["F_max"] == pytest.approx(0.6)  # free-form contributes acc_pre
    assert m["BT_max"] == pytest.approx(0.5)


def test_mixed_k_in_one_cell_by_hand():
    # 10 items: 4 with k=2, 4 with k=4, 2 free-form (k=0)
    pre = np.array([1, 1, 0, 0, 1, 1, 1, 0, 1, 0], bool)
    post = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 1], bool)
    k = np.array([2, 2, 2, 2, 4, 4, 4, 4, 0, 0])
    m = items_metrics(pre, post, k)
    ap, aq = 6 / 10, 6 / 10
    n10 = 2  # items 1, 5
    n01 = 2  # items 2, 9
    assert m["acc_pre"] == pytest.approx(ap) and m["acc_post"] == pytest.approx(aq)
    chance = 0.4 * (1 - ap) / 1 * (1 - aq) + 0.4 * (1 - ap) / 3 * (1 - aq) + 0.2 * 0.0
    assert m["F_chance"] == pytest.approx(chance)
    assert m["BT_chance"] == pytest.approx(chance)
    assert m["F_true"] == pytest.approx(max(n10 / 10 - chance, 0))
    assert m["BT_true"] == pytest.approx(max(n01 / 10 - chance, 0))
    fmax = 0.4 * max(2 * ap - 1, 0) / 1 + 0.4 * max((4 * ap - 1) / 3, 0) + 0.2 * ap
    assert m["F_max"] == pytest.approx(fmax)
    # with a single k the stratified formula is exactly the study's
    one = items_metrics(pre, post, 4)
    assert one["F_chance"] == pytest.approx((1 - ap) / 3 * (1 - aq))


def test_k_one_is_treated_as_no_options():
    assert items_metrics([1, 0], [0, 0], 1)["F_chance"] == 0.0


def test_nfi_without_after_errors_is_nan():
    m = _cell(0, 2, 0, 3, k=4)
    assert math.isnan(m["NFI"])


def test_densify_and_cell_metrics_match_items():
    cell = np.array([0, 0, 1, 0])
    k = np.array([4, 5, 4, 4])
    counts = np.array([[1, 2, 3, 4], [1, 1, 1, 1], [5, 5, 5, 5], [1, 0, 0, 0]])
    dense, dk = densify_strata(cell, k, counts)
    assert dense.shape == (2, 2, 4)
    assert dense[0].tolist() == [[2, 2, 3, 4], [1, 1, 1, 1]]
    assert dk.tolist() == [[4, 5], [4, 0]]
    m = cell_metrics(cell, k, counts)
    assert m["n"].tolist() == [15, 20]
    assert m["n10"].tolist() == [4, 5]


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [(0, 0, 1.0), (1, 0, 1.0), (3, 3, 1.0), (5, 1, 14 / 64), (0, 10, 2 / 1024), (1, 10, 24 / 2048)],
)
def test_mcnemar_exact_by_hand(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)


def test_mcnemar_matches_scipy_vectorised():
    rng = np.random.default_rng(3)
    b = rng.integers(0, 4000, 300)
    c = (b * rng.uniform(0.5, 1.5, 300)).astype(int)
    got = mcnemar_exact(b, c)
    ref = np.array(
        [
            binomtest(int(x), int(x + y), 0.5).pvalue if x + y else 1.0
            for x, y in zip(b, c, strict=True)
        ]
    )
    assert got.shape == (300,)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-300)
    assert mcnemar_exact(np.array([[1, 5]]), np.array([[0, 1]])).shape == (1, 2)
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_bootstrap_seeded_and_equal_in_law_to_item_resampling():
    # one 4-option cell: 60 items, the multinomial bootstrap must match resampling items
    pre = np.array([1] * 30 + [1] * 10 + [0] * 8 + [0] * 12, bool)
    post = np.array([1] * 30 + [0] * 10 + [1] * 8 + [0] * 12, bool)
    counts = np.array([[[12, 8, 10, 30]]])
    k = np.array([[4]])
    a = bootstrap_ci(counts, k, n_boot=4000, seed=1)
    b = bootstrap_ci(counts, k, n_boot=4000, seed=1)
    assert a["F_true"].tolist() == b["F_true"].tolist()
    # brute force: resample the item index matrix
    rng = np.random.default_rng(7)
    idx = rng.integers(0, 60, size=(4000, 60))
    t = pre[idx].astype(int) * 2 + post[idx]
    cnt = np.stack([(t == j).sum(axis=1) for j in range(4)], axis=1)[:, None, :]
    rep = metrics_from_strata(cnt, np.full((4000, 1), 4))
    for m in ("F_true", "BT_true", "acc_change"):
        lo, hi = np.quantile(rep[m], [0.025, 0.975])
        assert a[m][0, 0] == pytest.approx(lo, abs=0.02), m
        assert a[m][0, 1] == pytest.approx(hi, abs=0.02), m
    point = items_metrics(pre, post, 4)
    assert a["F_true"][0, 0] <= point["F_true"] <= a["F_true"][0, 1]


def test_bootstrap_mixed_k_cells_and_zero_replicates():
    counts = np.array([[[2, 2, 3, 4], [1, 1, 1, 1]], [[5, 5, 5, 5], [0, 0, 0, 0]]])
    k = np.array([[4, 5], [4, 0]])
    ci = bootstrap_ci(counts, k, n_boot=500, seed=0)
    assert ci["F_true"].shape == (2, 2)
    assert np.all(ci["F_true"][:, 0] <= ci["F_true"][:, 1])
    assert np.all(np.isnan(bootstrap_ci(counts, k, n_boot=0)["F_true"]))


def test_item_view_by_hand():
    # task 0: 3 items x 3 seeds; task 1: one item with 2 seeds
    # item A: pre 1,1,1 post 0,0,0 (consistent 1->0); item B: pre 1,0,1 post 1,1,0;
    # item C: pre 0,0,0 post 1,1,1 (consistent 0->1); item D (task 1): pre 1,0 post 0,1
    out = item_view(
        group=np.array([0, 0, 0, 1]),
        n_seeds=np.array([3, 3, 3, 2]),
        c_pre=np.array([3, 2, 0, 1]),
        c_post=np.array([0, 2, 3, 1]),
        f10=np.array([3, 1, 0, 1]),
        f01=np.array([0, 1, 3, 1]),
    )
    assert out["n_items"].tolist() == [3, 1]
    e10 = (1 * 1 + (2 / 3) * (1 / 3) + 0) / 3
    assert out["expected_P10"][0] == pytest.approx(e10)
    assert out["expected_P01"][0] == pytest.approx((0 + (1 / 3) * (2 / 3) + 1) / 3)
    assert out["p_pre_mean"][0] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert out["consistent_10"].tolist() == [1, 0]
    assert out["consistent_01"].tolist() == [1, 0]
    # majorities: A 1->0, B 1->1, C 0->1; D tie (1 of 2) counts as not correct on both sides
    assert out["majority_10"].tolist() == [1, 0]
    assert out["majority_01"].tolist() == [1, 0]
    assert out["p_mcnemar_majority"][0] == pytest.approx(1.0)
    assert out["expected_P10"][1] == pytest.approx(0.5 * 0.5)


@pytest.mark.parametrize("max_table_n", [50_000, 10])  # index tables / direct multinomial draws
def test_bootstrap_cells_sharing_a_size_each_match_item_resampling(monkeypatch, max_table_n):
    import forgetmap.metrics.bootstrap as bs

    monkeypatch.setattr(bs, "_MAX_TABLE_N", max_table_n)
    # two 80-item cells (same N: they share resampling indices) and one mixed-k cell
    cells = [
        ([10, 6, 14, 50], [4]),
        ([40, 12, 3, 25], [2]),
    ]
    counts = np.array([[c, [0, 0, 0, 0]] for c, _ in cells] + [[[5, 5, 10, 30], [10, 4, 6, 10]]])
    k = np.array([[4, 0], [2, 0], [4, 3]])
    ci = bootstrap_ci(counts, k, n_boot=4000, seed=5)
    rng = np.random.default_rng(11)
    for c in range(3):
        strata = [(k[c, g], counts[c, g]) for g in range(2) if counts[c, g].sum()]
        t = np.concatenate(
            [np.repeat(np.arange(4) + 4 * g, cnt) for g, (_, cnt) in enumerate(strata)]
        )
        idx = rng.integers(0, t.size, size=(4000, t.size))
        cls = t[idx]
        rep_counts = np.stack(
            [
                np.stack([(cls == 4 * g + j).sum(axis=1) for j in range(4)], axis=1)
                for g in range(len(strata))
            ],
            axis=1,
        )
        rep = metrics_from_strata(rep_counts, np.array([kk for kk, _ in strata])[None, :])
        for m in ("F_true", "BT_true", "acc_change"):
            lo, hi = np.quantile(rep[m], [0.025, 0.975])
            assert ci[m][c] == pytest.approx([lo, hi], abs=0.025), (c, m)


@pytest.mark.parametrize("max_table_n", [50_000, 1])
def test_bootstrap_tiny_cell_reaches_every_item(monkeypatch, max_table_n):
    import forgetmap.metrics.bootstrap as bs

    monkeypatch.setattr(bs, "_MAX_TABLE_N", max_table_n)
    # N=2: one 0->1 item, one 1->1 item. acc_change = 1 - (#1->1 drawn)/2 is 1, 0.5 or 0 with
    # probabilities 1/4, 1/2, 1/4: the 95% interval is exactly [0, 1]
    ci = bootstrap_ci(np.array([[[0, 1, 0, 1]]]), np.array([[4]]), n_boot=2000, seed=0)
    assert ci["acc_change"][0].tolist() == [0.0, 1.0]
