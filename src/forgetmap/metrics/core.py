"""Per-cell forgetting metrics (docs/metrics.md) from transition counts split into k-strata.

A *cell* is one (pair, task, seed). Its N paired items are split into strata of equal option count
k (one stratum in the common case). Everything here works on dense arrays of stratum counts
``counts[..., G, 4]`` (the last axis is n00, n01, n10, n11; G strata, zero-padded) and option counts
``k[..., G]`` so the same code serves point estimates and bootstrap replicates.

Transition index: ``2 * correct_pre + correct_post`` -> 0: 0→0, 1: 0→1, 2: 1→0, 3: 1→1.
"""

from __future__ import annotations

import numpy as np

#: Metric names returned by :func:`metrics_from_strata`, in a stable order.
METRIC_NAMES: tuple[str, ...] = (
    "n",
    "n00",
    "n01",
    "n10",
    "n11",
    "acc_pre",
    "acc_post",
    "acc_change",
    "F",
    "BT",
    "F_chance",
    "BT_chance",
    "F_true",
    "BT_true",
    "F_max",
    "BT_max",
    "conventional",
    "NFI",
    "F_rel",
    "BT_rel",
)


def transition_index(correct_pre: np.ndarray, correct_post: np.ndarray) -> np.ndarray:
    """Per item transition code 0..3 (0→0, 0→1, 1→0, 1→1) from two boolean arrays."""
    pre = np.asarray(correct_pre, dtype=bool)
    post = np.asarray(correct_post, dtype=bool)
    return pre.astype(np.int8) * 2 + post.astype(np.int8)


def transition_counts(correct_pre: np.ndarray, correct_post: np.ndarray) -> np.ndarray:
    """Counts ``[n00, n01, n10, n11]`` of paired items (correctness before, after)."""
    return np.bincount(transition_index(correct_pre, correct_post), minlength=4).astype(np.int64)


def has_k(k: np.ndarray) -> np.ndarray:
    """Items with a usable option count. k missing, 0 or 1 means free-form: no chance term."""
    k = np.asarray(k)
    return k >= 2


def metrics_from_strata(counts: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
    """All section-4 metrics of cells given their k-strata counts.

    counts: int array ``[..., G, 4]`` (n00, n01, n10, n11 per stratum; padding strata are all 0).
    k: int array ``[..., G]``; values < 2 (0 = unknown / free-form) get no chance term and
    contribute acc_pre (acc_post) to the ceiling F_max (BT_max).

    With one stratum of k options this is exactly the study's formula:
    F_chance = (1-acc_pre)/(k-1)*(1-acc_post), BT_chance = (1-acc_pre)*(1-acc_post)/(k-1),
    F_true = max(F - F_chance, 0), F_max = max((k*acc_pre - 1)/(k-1), 0). With several strata the
    chance terms and ceilings are the n_g/N-weighted sums over strata of those terms, each evaluated
    at the cell-level accuracies (docs/metrics.md).

    NFI (negative flip impact) = n10 / (n00 + n10): the share of the after-model's errors that the
    before-model had right, i.e. the negative-flip rate F divided by the after-model's error rate
    1 - acc_post; NaN when the after-model makes no error.

    F_rel = n10 / (n10 + n11) and BT_rel = n01 / (n10 + n11): flips relative to the before-model's
    right answers, as the study's CSVs ("Rel. Forget.", "Rel. Improvement" = 1->0 and 0->1 over
    n·acc_before); NaN when the before-model got nothing right.
    """
    counts = np.asarray(counts, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    tot = counts.sum(axis=-2)  # [..., 4]
    n00, n01, n10, n11 = (tot[..., j] for j in range(4))
    n = tot.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_pre = (n10 + n11) / n
        acc_post = (n01 + n11) / n
        F = n10 / n
        BT = n01 / n
        w = counts.sum(axis=-1) / n[..., None]  # n_g / N   [..., G]
        valid = has_k(k)
        km1 = np.where(valid, k - 1.0, 1.0)
        chance_weight = np.where(valid, w / km1, 0.0).sum(axis=-1)  # sum_g n_g/(N (k_g-1))
        F_chance = (1.0 - acc_pre) * (1.0 - acc_post) * chance_weight
        BT_chance = F_chance.copy()  # the two formulas coincide term by term
        F_true = np.maximum(F - F_chance, 0.0)
        BT_true = np.maximum(BT - BT_chance, 0.0)
        ap = acc_pre[..., None]
        aq = acc_post[..., None]
        F_max = (w * np.where(valid, np.maximum((k * ap - 1.0) / km1, 0.0), ap)).sum(axis=-1)
        BT_max = (w * np.where(valid, np.maximum((k * aq - 1.0) / km1, 0.0), aq)).sum(axis=-1)
        conventional = np.maximum(acc_pre - acc_post, 0.0)
        err_post = n00 + n10
        NFI = np.where(err_post > 0, n10 / np.where(err_post > 0, err_post, 1.0), np.nan)
        # relative to the before-model's right answers, as the study's CSVs (create_csv.py)
        right_pre = np.where(n10 + n11 > 0, n10 + n11, np.nan)
        F_rel = n10 / right_pre
        BT_rel = n01 / right_pre
    return {
        "n": n,
        "n00": n00,
        "n01": n01,
        "n10": n10,
        "n11": n11,
        "acc_pre": acc_pre,
        "acc_post": acc_post,
        "acc_change": acc_post - acc_pre,
        "F": F,
        "BT": BT,
        "F_chance": F_chance,
        "BT_chance": BT_chance,
        "F_true": F_true,
        "BT_true": BT_true,
        "F_max": F_max,
        "BT_max": BT_max,
        "conventional": conventional,
        "NFI": NFI,
        "F_rel": F_rel,
        "BT_rel": BT_rel,
    }


def densify_strata(
    cell: np.ndarray, k: np.ndarray, counts: np.ndarray, n_cells: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Long stratum rows (cell index, k, counts[S, 4]) -> dense ``counts[C, G, 4]``, ``k[C, G]``.

    Rows of the same cell and k are summed; G is the largest number of distinct k in a cell.
    """
    cell = np.asarray(cell, dtype=np.int64)
    k = np.where(has_k(np.asarray(k)), np.asarray(k), 0).astype(np.int64)
    counts = np.asarray(counts, dtype=np.int64).reshape(-1, 4)
    C = int(n_cells if n_cells is not None else (cell.max() + 1 if cell.size else 0))
    if cell.size == 0:
        return np.zeros((C, 1, 4), np.int64), np.zeros((C, 1), np.int64)
    # unique (cell, k) pairs, then rank of k inside its cell
    key = cell * (int(k.max()) + 1) + k
    ukey, inv = np.unique(key, return_inverse=True)
    ucell = ukey // (int(k.max()) + 1)
    uk = ukey % (int(k.max()) + 1)
    first = np.searchsorted(ucell, ucell, side="left")
    slot = np.arange(ukey.size) - first
    G = int(slot.max()) + 1
    dense = np.zeros((C, G, 4), np.int64)
    dk = np.zeros((C, G), np.int64)
    np.add.at(dense, (ucell[inv], slot[inv]), counts)
    dk[ucell, slot] = uk
    return dense, dk


def cell_metrics(
    cell: np.ndarray, k: np.ndarray, counts: np.ndarray, n_cells: int | None = None
) -> dict[str, np.ndarray]:
    """Metrics for every cell from long stratum rows (see :func:`densify_strata`)."""
    dense, dk = densify_strata(cell, k, counts, n_cells)
    return metrics_from_strata(dense, dk)


def items_metrics(
    correct_pre: np.ndarray, correct_post: np.ndarray, k: np.ndarray | int | None
) -> dict[str, float]:
    """Metrics of one cell straight from per-item arrays (convenience for small inputs)."""
    pre = np.asarray(correct_pre, dtype=bool)
    kk = np.zeros(pre.size, np.int64) if k is None else np.broadcast_to(np.asarray(k), pre.shape)
    kk = np.where(has_k(kk), kk, 0)
    t = transition_index(pre, correct_post)
    counts = np.zeros((pre.size, 4), np.int64)
    counts[np.arange(pre.size), t] = 1
    out = cell_metrics(np.zeros(pre.size, np.int64), kk, counts, n_cells=1)
    return {name: float(v[0]) for name, v in out.items()}
