"""The study's aggregation of per-cell values (docs/metrics.md, "Aggregation"), vectorised.

For each seed, the mean of the per-task values of the tasks in a category; then mean and sample
std (ddof=1) of those per-seed values over seeds. Total: per seed, the mean over categories; then
mean/std over seeds. NaN cell values (e.g. NFI of a cell without errors) are skipped.
"""

from __future__ import annotations

import numpy as np

from forgetmap.metrics import mcnemar_exact


def mean_std(per_seed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std (ddof=1) over the last axis ignoring NaN; std NaN with < 2 values."""
    ok = ~np.isnan(per_seed)
    cnt = ok.sum(axis=-1)
    filled = np.where(ok, per_seed, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=-1) / cnt
        dev = np.where(ok, per_seed - mean[..., None], 0.0)
        std = np.sqrt((dev**2).sum(axis=-1) / (cnt - 1))
    mean = np.where(cnt > 0, mean, np.nan)
    std = np.where(cnt >= 2, std, np.nan)
    return mean, std


def aggregate(
    values: dict[str, np.ndarray], cat: np.ndarray, seed: np.ndarray, n_cat: int, n_seed: int
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, tuple[float, float]]]:
    """Study aggregation of per-cell values (cells already restricted to aggregate tasks).

    Returns ({metric: (per_seed[n_cat, n_seed], mean[n_cat], std[n_cat])},
    {metric: (total_mean, total_std)}).
    """
    cats: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    total: dict[str, tuple[float, float]] = {}
    key = cat * n_seed + seed
    for m, v in values.items():
        ok = ~np.isnan(v)
        s = np.bincount(key[ok], weights=v[ok], minlength=n_cat * n_seed)
        c = np.bincount(key[ok], minlength=n_cat * n_seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_seed = np.where(c > 0, s / np.maximum(c, 1), np.nan).reshape(n_cat, n_seed)
        mean, std = mean_std(per_seed)
        cats[m] = (per_seed, mean, std)
        with np.errstate(invalid="ignore"):
            okc = ~np.isnan(per_seed)
            tot_seed = np.where(
                okc.any(axis=0),
                np.where(okc, per_seed, 0).sum(axis=0) / np.maximum(okc.sum(axis=0), 1),
                np.nan,
            )
        tm, ts = mean_std(tot_seed)
        total[m] = (float(tm), float(ts))
    return cats, total


def group_mean_std(
    values: dict[str, np.ndarray], group: np.ndarray, n_groups: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean and sample std (ddof=1) of each value over the cells of each group (a pair's task
    over its seeds), NaN-skipping; std NaN with fewer than two values."""
    out = {}
    for m, v in values.items():
        ok = ~np.isnan(v)
        cnt = np.bincount(group[ok], minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(group[ok], weights=v[ok], minlength=n_groups) / cnt
            ss = np.bincount(group[ok], weights=(v[ok] - mean[group[ok]]) ** 2, minlength=n_groups)
            std = np.sqrt(ss / (cnt - 1))
        out[m] = (np.where(cnt > 0, mean, np.nan), np.where(cnt >= 2, std, np.nan))
    return out


#: item-view entries that are counts (summed over tasks); the others are rates (averaged)
ITEM_VIEW_COUNTS = ("n_items", "consistent_10", "consistent_01", "majority_10", "majority_01")
ITEM_VIEW_RATES = ("p_pre_mean", "p_post_mean", "expected_P10", "expected_P01")


def item_view_of_groups(
    iv: dict[str, np.ndarray], groups: list[list[int]]
) -> list[dict[str, float | int]]:
    """Item view of each set of (pair, task) indices: rates averaged over its tasks, counts
    summed, and the exact McNemar p of the summed majority-vote flips (one vectorised call)."""
    out: list[dict[str, float | int]] = []
    for members in groups:
        g = np.asarray(members)
        view: dict[str, float | int] = {k: float(np.mean(iv[k][g])) for k in ITEM_VIEW_RATES}
        view.update({k: int(iv[k][g].sum()) for k in ITEM_VIEW_COUNTS})
        out.append(view)
    if out:
        p = mcnemar_exact(
            np.array([v["majority_01"] for v in out], np.int64),
            np.array([v["majority_10"] for v in out], np.int64),
        )
        for v, pv in zip(out, p.tolist(), strict=True):
            v["p_mcnemar_majority"] = pv
    return out
