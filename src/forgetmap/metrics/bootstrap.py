"""Bootstrap confidence intervals over items, for many cells at once.

Resampling the N items of a cell with replacement only changes how many items fall in each
(k-stratum, transition) class, and the metrics depend on nothing else. So instead of materialising
an index matrix of B x N draws we draw the class counts directly: a multinomial over the cell's
4*G classes with the observed proportions. This has exactly the distribution of the item bootstrap
and costs O(B * classes) instead of O(B * N) per cell.
"""

from __future__ import annotations

import numpy as np

from forgetmap.metrics.core import has_k

CI_METRICS: tuple[str, ...] = ("F_true", "BT_true", "acc_change")

# draw order of the transitions inside a stratum: the common classes first, so that numpy's
# binomial sampler mostly takes its constant-time BTPE path (inversion, used when n*p <= 30, costs
# O(n*p)); the rarest class (0->1 in post-training) takes the remainder
_DRAW_ORDER = (3, 0, 2, 1)


def bootstrap_ci(
    counts: np.ndarray,
    k: np.ndarray,
    n_boot: int = 1000,
    rng: np.random.Generator | int | None = 0,
    level: float = 0.95,
    metrics: tuple[str, ...] = CI_METRICS,
) -> dict[str, np.ndarray]:
    """Percentile bootstrap CIs for dense cells ``counts[C, G, 4]``, ``k[C, G]``.

    Returns ``{metric: array[C, 2]}`` (low, high) for metrics among F_true, BT_true, acc_change.
    Cells are resampled independently; the RNG is seeded so results are reproducible.
    n_boot <= 0 returns NaN intervals.
    """
    counts = np.asarray(counts, dtype=np.int64)
    k = np.asarray(k)
    C, G, _ = counts.shape
    out = {m: np.full((C, 2), np.nan) for m in metrics}
    if n_boot <= 0 or C == 0:
        return out
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n = counts.reshape(C, -1).sum(axis=1)
    n_strata = (counts.sum(axis=2) > 0).sum(axis=1)
    q = [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0]
    # cells with a single k need only 4 classes; mixed-k cells use all G strata
    for sel, g in ((n_strata <= 1, 1), (n_strata > 1, G)):
        idx = np.flatnonzero(sel & (n > 0))
        if idx.size == 0:
            continue
        if g == 1:
            order = np.argmax(counts[idx].sum(axis=2), axis=1)  # the one non-empty stratum
            sub = counts[idx, order][:, None, :]
            subk = k[idx, order][:, None]
        else:
            sub, subk = counts[idx], k[idx]
        perm = np.array([s * 4 + t for t in _DRAW_ORDER for s in range(g)])
        draws = np.empty((idx.size, n_boot, 4 * g), np.int64)
        draws[:, :, perm] = _multinomial(rng, sub.reshape(idx.size, -1)[:, perm], n_boot)
        rep = replicate_stats(draws.reshape(idx.size, n_boot, g, 4), subk, n[idx])
        for m in metrics:
            out[m][idx] = np.quantile(rep[m], q, axis=1).T
    return out


def replicate_stats(cnt: np.ndarray, k: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """F_true, BT_true, acc_change of replicate counts ``cnt[C, B, G, 4]`` (cells of size n[C]).

    The same formulas as `metrics_from_strata`, restricted to what the CIs need.
    """
    N = n.astype(np.float64)[:, None]
    tot = cnt.sum(axis=2) if cnt.shape[2] > 1 else cnt[:, :, 0, :]
    n01, n10, n11 = tot[..., 1], tot[..., 2], tot[..., 3]
    ap = (n10 + n11) / N
    aq = (n01 + n11) / N
    valid = has_k(k)
    inv = np.where(valid, 1.0 / np.where(valid, k - 1.0, 1.0), 0.0)  # [C, G]
    if cnt.shape[2] == 1:
        weight = inv[:, 0][:, None]
    else:
        weight = (cnt.sum(axis=3) * inv[:, None, :]).sum(axis=2) / N
    chance = (1.0 - ap) * (1.0 - aq) * weight
    return {
        "F_true": np.maximum(n10 / N - chance, 0.0),
        "BT_true": np.maximum(n01 / N - chance, 0.0),
        "acc_change": aq - ap,
    }


def _multinomial(rng: np.random.Generator, counts: np.ndarray, n_boot: int) -> np.ndarray:
    """Draws [C, n_boot, J] of Multinomial(N_c, counts_c / N_c), as conditional binomials.

    X_j ~ Binomial(N - sum_{i<j} X_i, p_j / (1 - sum_{i<j} p_i)); one vectorised binomial call
    per class over all cells and replicates (numpy's multinomial with per-cell pvals loops per
    draw and is far slower). Classes that are empty in every cell are skipped; the last non-empty
    class takes the remainder.
    """
    C, J = counts.shape
    n = counts.sum(axis=1).astype(np.int64)
    p = counts / np.maximum(n, 1)[:, None]
    out = np.zeros((C, n_boot, J), np.int64)
    remaining = np.repeat(n[:, None], n_boot, axis=1)
    p_left = np.ones(C)
    active = np.flatnonzero(counts.any(axis=0))
    for pos, j in enumerate(active):
        if pos == active.size - 1:
            out[:, :, j] = remaining
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.clip(np.where(p_left > 0, p[:, j] / p_left, 0.0), 0.0, 1.0)
        x = rng.binomial(remaining, q[:, None])
        out[:, :, j] = x
        remaining -= x
        p_left = p_left - p[:, j]
    return out
