"""Bootstrap confidence intervals over items, for many cells at once.

Resampling the N items of a cell with replacement only changes how many items fall in each
(k-stratum, transition) class, and the metrics depend on nothing else. Lay the cell's items out in
contiguous class blocks ([0, n_0), [n_0, n_0 + n_1), ...); one bootstrap resample is N uniform
indices in [0, N), and its class counts are how many indices fall in each block. With the
cumulative histogram H[x, b] = #{indices of resample b below x}, the counts of every cell of size
N are differences H[block end, b] - H[block start, b]: so one (N x B) index matrix per distinct N
serves every cell of that size, and each cell costs O(B * classes) instead of O(B * N).

This is the ordinary item bootstrap, exactly (not an approximation): each cell's replicates are
multinomial(N, class shares). Cells of the same size share their resampling indices (common random
numbers), so their intervals are correlated, while each interval on its own is exact; and a cell's
interval depends only on (seed, N, its counts), never on which other cells are computed with it.
Cells above _MAX_TABLE_N items draw their multinomial class counts directly (conditional
binomials) instead: an index table costs ~B*N cheap draws, direct draws ~B*classes binomials
(~50x dearer each) per cell, so tables pay off for the many small cells and not for a few huge
ones. The choice depends on N only, so reproducibility per (seed, N, counts) holds either way.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from forgetmap.metrics.core import has_k

CI_METRICS: tuple[str, ...] = ("F_true", "BT_true", "acc_change")
_CHUNK = 256  # cells per gather, bounds memory to ~B * 256 * classes
_BLOCK = 64  # replicates per block of resampling indices
_MAX_TABLE_N = 2_000  # larger cells draw multinomial counts directly (no B x N table)


def size_table(rng: np.random.Generator, n_boot: int, N: int) -> np.ndarray:
    """Cumulative histograms H[N + 1, n_boot] of N uniform indices in [0, N) per replicate:
    H[x, b] = indices of resample b below x (built in blocks of replicates; rows are positions,
    so reading the counts at a few block edges copies whole rows)."""
    H = np.zeros((N + 1, n_boot), np.int32)
    for b0 in range(0, n_boot, _BLOCK):
        nb = min(_BLOCK, n_boot - b0)
        idx = rng.integers(0, N, size=(nb, N)) + (np.arange(nb) * N)[:, None]
        hist = np.bincount(idx.ravel(), minlength=nb * N).reshape(nb, N)
        H[1:, b0 : b0 + nb] = np.cumsum(hist, axis=1).T
    return H


class SizeTables:
    """The resampling tables of one bootstrap run, per (N, group), shared and thread-safe.

    Group 0 of size N is the table of ``default_rng([seed, N])`` that the per-cell CIs use;
    groups g > 0 (``default_rng([seed, N, g])``) serve the category bootstrap when more tasks of
    size N must be resampled independently than there are replicates (forgetmap.metrics.joint).
    """

    def __init__(self, n_boot: int, seed: int) -> None:
        self.n_boot = n_boot
        self.seed = seed
        self._tables: dict[tuple[int, int], np.ndarray] = {}
        self._lock = threading.Lock()
        self._size_locks: dict[tuple[int, int], threading.Lock] = {}

    def get(self, N: int, group: int = 0, rng: np.random.Generator | None = None) -> np.ndarray:
        """The table of (N, group), built on first use (from `rng` when given)."""
        key = (int(N), int(group))
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                return table
            lock = self._size_locks.setdefault(key, threading.Lock())
        with lock:  # one builder per key; other keys build in parallel
            table = self._tables.get(key)
            if table is None:
                if rng is None:
                    entropy = [self.seed, key[0]] + ([key[1]] if key[1] else [])
                    rng = np.random.default_rng(entropy)
                table = size_table(rng, self.n_boot, key[0])
                with self._lock:
                    self._tables[key] = table
        return table


def bootstrap_ci(
    counts: np.ndarray,
    k: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    metrics: tuple[str, ...] = CI_METRICS,
    threads: int | None = None,
    tables: SizeTables | None = None,
) -> dict[str, np.ndarray]:
    """Percentile bootstrap CIs for dense cells ``counts[C, G, 4]``, ``k[C, G]``.

    Returns ``{metric: array[C, 2]}`` (low, high) for metrics among F_true, BT_true, acc_change.
    Reproducible: the resampling indices of cells with N items come from ``default_rng([seed,
    N])``. n_boot <= 0 returns NaN intervals. `tables` (same n_boot and seed) keeps the
    resampling tables for later use (the category bootstrap reuses them).
    """
    counts = np.asarray(counts, dtype=np.int64)
    k = np.asarray(k)
    C, G, _ = counts.shape
    out = {m: np.full((C, 2), np.nan) for m in metrics}
    if n_boot <= 0 or C == 0:
        return out
    n = counts.reshape(C, -1).sum(axis=1)
    n_strata = (counts.sum(axis=2) > 0).sum(axis=1)
    # single-k cells (the common case) keep only their one stratum: 4 classes instead of 4*G
    single = n_strata <= 1
    s_idx = np.argmax(counts.sum(axis=2), axis=1)
    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (cell ids, counts, k)
    one = np.flatnonzero(single & (n > 0))
    if one.size:
        groups.append((one, counts[one, s_idx[one]][:, None, :], k[one, s_idx[one]][:, None]))
    many = np.flatnonzero(~single & (n > 0))
    if many.size:
        groups.append((many, counts[many], k[many]))
    q = [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0]
    sizes = np.unique(n[n > 0])

    def one_size(N: int) -> None:
        rng = np.random.default_rng([seed, N])
        big = N > _MAX_TABLE_N
        if not big:
            # cumulative histograms of the resampled indices, built in blocks of replicates
            H = tables.get(N, 0, rng) if tables is not None else size_table(rng, n_boot, N)
        for ids, cnt, kk in groups:
            g = cnt.shape[1]
            flat = cnt.reshape(ids.size, 4 * g)
            of_size = np.flatnonzero(n[ids] == N)
            for lo_ in range(0, of_size.size, _CHUNK):
                rows = of_size[lo_ : lo_ + _CHUNK]
                used = np.flatnonzero(flat[rows].any(axis=0))  # classes present
                rep_counts = np.zeros((rows.size, n_boot, 4 * g), np.int64)
                if big:  # very large cells: conditional binomials, no N-sized tables
                    rep_counts[:, :, used] = _multinomial(rng, flat[rows][:, used], n_boot)
                else:
                    bounds = np.concatenate(
                        [
                            np.zeros((rows.size, 1), np.int64),
                            np.cumsum(flat[rows][:, used], axis=1),
                        ],
                        axis=1,
                    )
                    rep_counts[:, :, used] = np.diff(H[bounds], axis=1).transpose(0, 2, 1)
                rep = replicate_stats(
                    rep_counts.reshape(rows.size, n_boot, g, 4), kk[rows], n[ids[rows]]
                )
                for m in metrics:
                    out[m][ids[rows]] = np.quantile(rep[m], q, axis=1).T

    workers = threads if threads is not None else min(sizes.size, os.cpu_count() or 1)
    # numpy releases the GIL in the heavy calls; each size has its own RNG stream
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as ex:
            list(ex.map(one_size, sizes.tolist()))
    else:
        for N in sizes.tolist():
            one_size(N)
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
