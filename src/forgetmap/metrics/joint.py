"""Category and Total uncertainty: joint item bootstrap, sampling-noise floor, linearised SEs, MDE.

The study's aggregation (per seed, mean of the per-task values of a category; then mean over
seeds; Total = per seed, mean over categories, then mean over seeds) is recomputed on bootstrap
replicates that resample the items of every task with replacement, all seeds of an item together
(the estimator, its assumptions and the simulation check: docs/statistics.md).

Replicates are exact item resamples done on patterns (forgetmap.metrics.patterns): a task's items
are laid out in contiguous pattern blocks, and one replicate is N_t uniform positions in [0, N_t);
the multiplicity of each pattern is the number of positions in its block, read off a cumulative
histogram of the positions ([N_t + 1, B], built once per task and size and shared by every pair
that has the task: `IndexTables`). Each task draws from its own stream
``default_rng([seed, task key, N_t])``, so tasks are resampled independently of one another and a
pair's intervals depend only on (seed, its own items).

The noise floor of a model is its chance-corrected forgetting against itself: seed s against
seed s' of the same model on the pair's items, F_true(s→s') and F_true(s'→s) averaged (so the
floor's F_true and BT_true are the same number), aggregated like the pair's metrics with seed
pairs in place of seeds. F_excess = F_true - floor of the before-model (the 1→0 rate the swap to
the after-model adds to that of the before-model re-sampled), BT_excess likewise.

Standard errors for the minimum detectable effect come from the first-order (delta-method)
linearisation of the same estimator around the observed feature means: the influence of a pattern
is the directional derivative of the aggregate towards it, computed exactly by complex-step
differentiation of the very functions that make the point estimates. It equals the bootstrap
variance to first order and needs no replicates.

Array layout: task values are [T, S, ...] (seeds, or seed pairs Q, on axis 1; replicates last).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from forgetmap.metrics.bootstrap import SizeTables
from forgetmap.metrics.patterns import FeatureLayout, Patterns, pattern_features

SEED_METRICS: tuple[str, ...] = ("F_true", "BT_true", "F", "BT", "acc_pre", "acc_post")
FLOOR_SIDES: tuple[str, ...] = ("before", "after")
#: Every aggregate this module returns, per category and Total.
JOINT_METRICS: tuple[str, ...] = (
    *SEED_METRICS,
    "floor_before",
    "floor_after",
    "F_excess",
    "BT_excess",
)
_STEP = 1e-30  # complex-step size: exact first derivatives, no cancellation
_BLOCK = 64  # replicates per block of resampling positions
# OpenBLAS runs a GEMM on several threads above m*n*k ~ 2.6e5; the per-task products here are
# faster on one thread (threads spin idle on a busy machine), so they are cut into column blocks
# below that size.
_GEMM_ONE_THREAD = 200_000

#: (feature name, side) -> totals [T, S or Q, ...]
Getter = Callable[[str, "str | None"], np.ndarray]


def _clip(x: np.ndarray) -> np.ndarray:
    """max(x, 0) that keeps NaN and works on complex input (compares the real part)."""
    return np.where(x.real < 0, 0.0, x)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / np.where(b.real == 0, np.nan, b)


def seed_values(get: Getter) -> dict[str, np.ndarray]:
    """Per-seed cell metrics (NaN where a task has no item at that seed) from feature totals."""
    n = get("n", None)
    acc_pre = _div(get("pre", None), n)
    acc_post = _div(get("post", None), n)
    F = _div(get("n10", None), n)
    BT = _div(get("n01", None), n)
    chance = (1.0 - acc_pre) * (1.0 - acc_post) * _div(get("w", None), n)
    return {
        "F_true": _clip(F - chance),
        "BT_true": _clip(BT - chance),
        "F": F,
        "BT": BT,
        "acc_pre": acc_pre,
        "acc_post": acc_post,
    }


def floor_values(get: Getter, side: str) -> np.ndarray:
    """Noise floor F_true of one model per seed pair (mean of the two directions)."""
    n = get("pair_n", None)
    a1 = _div(get("c1", side), n)
    a2 = _div(get("c2", side), n)
    chance = (1.0 - a1) * (1.0 - a2) * _div(get("pair_w", None), n)
    fwd = _clip(_div(get("d10", side), n) - chance)
    bwd = _clip(_div(get("d01", side), n) - chance)
    return 0.5 * (fwd + bwd)


def layout_getter(X: np.ndarray, L: FeatureLayout) -> Getter:
    """Getter over a full feature matrix X[T or P, D, ...]."""

    def get(name: str, side: str | None) -> np.ndarray:
        if name.startswith("pair_"):
            return X[:, L.pair_col(name[5:])]
        if side is None:
            return X[:, L.seed_col(name)]
        return X[:, L.pair_col(name, side)]

    return get


def _nanmean(v: np.ndarray, axis: int) -> np.ndarray:
    ok = ~np.isnan(v)
    cnt = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, np.where(ok, v, 0.0).sum(axis=axis) / cnt, np.nan)


def study_aggregate(v: np.ndarray, task_cat: np.ndarray, n_cat: int) -> np.ndarray:
    """Study aggregation of task values v[T, S, ...] -> rows [C + 1, ...] (categories, Total).

    Per (category, seed): mean of the non-NaN task values; category: mean over seeds with a
    value; Total: per seed the mean over categories, then the mean over seeds (NaN-skipping
    throughout, as `analysis.compare.aggregate`). A category without tasks gets NaN.
    """
    order = np.argsort(task_cat, kind="stable")
    have = np.flatnonzero(np.bincount(task_cat, minlength=n_cat) > 0)
    starts = np.searchsorted(task_cat[order], have)
    vs = v[order]
    ok = ~np.isnan(vs)
    per_seed = np.full((n_cat, *v.shape[1:]), np.nan, dtype=np.result_type(v, np.float32))
    if have.size:
        sums = np.add.reduceat(np.where(ok, vs, 0.0), starts, axis=0)  # [C', S, ...]
        cnts = np.add.reduceat(ok.astype(np.int32), starts, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_seed[have] = np.where(cnts > 0, sums / np.maximum(cnts, 1), np.nan)
    cats = _nanmean(per_seed, axis=1)  # [C, ...]
    total = _nanmean(_nanmean(per_seed, axis=0), axis=0)  # [...]
    return np.concatenate([cats, total[None]], axis=0)


def aggregation_weights(
    ok: np.ndarray, task_cat: np.ndarray, n_cat: int
) -> tuple[np.ndarray, np.ndarray]:
    """Linear weights of the study aggregation for a fixed presence pattern ok[T, S].

    Returns (own[T, S]: weight of task value (t, s) in its own category's mean, total[T, S]:
    its weight in Total): category c = sum over its tasks of own * v, Total = sum of total * v.
    """
    okf = ok.astype(np.float64)
    onehot = np.zeros((task_cat.size, n_cat))
    onehot[np.arange(task_cat.size), task_cat] = 1.0
    n_cs = onehot.T @ okf  # [C, S] tasks with a value
    has = n_cs > 0
    s_c = has.sum(axis=1)  # seeds with a value per category
    c_s = has.sum(axis=0)  # categories with a value per seed
    s_tot = max(int((c_s > 0).sum()), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        w_cs = np.where(has, 1.0 / (n_cs * s_c[:, None]), 0.0)
        w_tot = np.where(has, 1.0 / (n_cs * c_s[None, :] * s_tot), 0.0)
    return okf * w_cs[task_cat], okf * w_tot[task_cat]


@dataclass
class JointStats:
    """Per category (rows 0..C-1) and Total (row C): point values, CIs, SEs, MDE."""

    point: dict[str, np.ndarray]  # metric -> [C + 1]
    ci: dict[str, np.ndarray]  # metric -> [C + 1, 2]; NaN without replicates
    se_F_excess: np.ndarray  # [C + 1] linearised SE of F_excess (of F_true with one seed)
    task_floor: dict[str, np.ndarray]  # side -> [T] floor F_true per task (mean over seed pairs)
    #: per task, what a power calculation needs: n_items, k (most common), acc (before-model,
    #: mean over seeds), disagree (before-model 1→0 plus 0→1 rate between two of its seeds,
    #: mean over seed pairs; NaN with one seed); and n_seeds (seeds with any paired item)
    design: dict[str, np.ndarray] = field(default_factory=dict)
    replicates: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # [C + 1, B]


def mde_factor(alpha: float = 0.05, power: float = 0.8) -> float:
    """z_{1-alpha/2} + z_{power}: MDE = factor x SE for a two-sided level-alpha z-test."""
    nd = NormalDist()
    return nd.inv_cdf(1.0 - alpha / 2.0) + nd.inv_cdf(power)


def joint_stats(
    patterns: Patterns,
    task_cat: np.ndarray,
    n_cat: int,
    tables: SizeTables | None = None,
    level: float = 0.95,
    keep_replicates: bool = False,
) -> JointStats:
    """Everything category- and Total-level for one pair's aggregated tasks (the MDE is
    forgetmap.metrics.power's, from `design`).

    task_cat[T]: category index (0..n_cat-1) of each task. `tables`: the comparison's resampling
    tables (forgetmap.metrics.bootstrap.SizeTables); None means no bootstrap (point values, SEs
    and MDE only).
    """
    task_cat = np.asarray(task_cat, dtype=np.int64)
    L = FeatureLayout(patterns.n_seeds)
    phi = pattern_features(patterns, L)
    tot0 = _segment_sums(phi * patterns.count[:, None], patterns.task_bounds)  # [T, D]
    vals0 = _values(layout_getter(tot0[..., None], L), FLOOR_SIDES)  # [T, S or Q, 1]
    point = {m: r[:, 0] for m, r in _rows(vals0, task_cat, n_cat).items()}
    ci = {m: np.full((n_cat + 1, 2), np.nan) for m in point}
    reps: dict[str, np.ndarray] = {}
    if tables is not None and tables.n_boot > 0:
        reps = replicate_rows(patterns, phi, task_cat, n_cat, tables)
        q = [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0]
        for m, rep in reps.items():
            ci[m] = _percentiles(rep.astype(np.float64), q)
    se = _linearised_se(patterns, phi, tot0, L, task_cat, n_cat, vals0)
    return JointStats(
        point=point,
        ci=ci,
        se_F_excess=se,
        task_floor={s: _nanmean(vals0[f"floor_{s}"][..., 0], axis=1) for s in FLOOR_SIDES},
        design=_design(patterns, tot0, L),
        replicates=reps if keep_replicates else {},
    )


def _design(p: Patterns, tot0: np.ndarray, L: FeatureLayout) -> dict[str, np.ndarray]:
    get = layout_getter(tot0, L)
    acc = _nanmean(_div(get("pre", None), get("n", None)), axis=1)
    if L.n_pairs:
        n = get("pair_n", None)
        disagree = _nanmean(_div(get("d10", "before") + get("d01", "before"), n), axis=1)
    else:
        disagree = np.full(p.n_tasks, np.nan)
    # most common k of each task (weighted by items)
    key = p.task * (int(p.k.max(initial=0)) + 1) + p.k
    w = np.bincount(key, weights=p.count)
    k_mode = np.zeros(p.n_tasks, np.int64)
    best = np.full(p.n_tasks, -1.0)
    for kk in np.unique(p.k).tolist():
        kw = np.zeros(p.n_tasks)
        idx = np.arange(p.n_tasks) * (int(p.k.max(initial=0)) + 1) + kk
        ok = idx < w.size
        kw[ok] = w[idx[ok]]
        better = kw > best
        k_mode[better], best[better] = kk, kw[better]
    seeds = int((get("n", None).sum(axis=0) > 0).sum())
    return {
        "n_items": p.n_items,
        "k": k_mode,
        "acc": acc,
        "disagree": disagree,
        "n_seeds": np.array(seeds),
    }


def task_floors(patterns: Patterns) -> dict[str, np.ndarray]:
    """Noise floor F_true [T] of each model per task (mean over seed pairs; NaN with one seed)."""
    L = FeatureLayout(patterns.n_seeds)
    phi = pattern_features(patterns, L)
    tot = _segment_sums(phi * patterns.count[:, None], patterns.task_bounds)
    get = layout_getter(tot, L)
    return {s: _nanmean(floor_values(get, s), axis=1) for s in FLOOR_SIDES}


def _percentiles(rep: np.ndarray, q: list[float]) -> np.ndarray:
    """[rows, 2] percentile interval of replicates rep[rows, B]; NaN replicates are skipped and
    a row without any finite replicate (e.g. the floor with one seed) gets NaN."""
    out = np.full((rep.shape[0], 2), np.nan)
    nan = np.isnan(rep)
    some = ~nan.all(axis=1)
    if nan[some].any():
        out[some] = np.nanquantile(rep[some], q, axis=1).T
    elif some.any():
        out[some] = np.quantile(rep[some], q, axis=1).T
    return out


def _rows(vals: dict[str, np.ndarray], task_cat: np.ndarray, n_cat: int) -> dict[str, np.ndarray]:
    """Aggregated rows [C + 1, ...] (categories, then Total) per metric, plus the excesses."""
    rows = {m: study_aggregate(v, task_cat, n_cat) for m, v in vals.items()}
    rows["F_excess"] = rows["F_true"] - rows["floor_before"]
    rows["BT_excess"] = rows["BT_true"] - rows["floor_before"]
    return rows


def _segment_sums(x: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sums of row segments [bounds[t], bounds[t+1]) of x (empty segments give 0)."""
    c = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    return c[bounds[1:]] - c[bounds[:-1]]


def _values(get: Getter, sides: tuple[str, ...]) -> dict[str, np.ndarray]:
    vals = seed_values(get)
    for side in sides:
        vals[f"floor_{side}"] = floor_values(get, side)
    return vals


def _matmul_blocks(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b, in column blocks of b small enough for a single-threaded GEMM."""
    out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    step = max(1, _GEMM_ONE_THREAD // max(1, a.shape[0] * a.shape[1]))
    for c in range(0, b.shape[1], step):
        np.matmul(a, b[:, c : c + step], out=out[:, c : c + step])
    return out


# -- replicates ------------------------------------------------------------------------------------
def replicate_rows(
    p: Patterns, phi: np.ndarray, task_cat: np.ndarray, n_cat: int, tables: SizeTables
) -> dict[str, np.ndarray]:
    """Bootstrap replicates [C + 1, B] of every aggregate (the rows of `joint_stats`).

    Task t of size N draws replicate b from column (b + r) mod B of the comparison's size-N table
    (group r // B), r its rank among the pair's tasks of size N: within a replicate every task
    uses its own column, so tasks are resampled independently, and the columns are the per-cell
    CIs' own (no second table for a size they already drew).
    A "compact" task (items present in every seed, one k) carries only its correct-before, 1→0
    and 0→1 counts per seed and the before-model's seed-pair flips: the rest follows from N_t and
    k, which resampling leaves unchanged. Other tasks carry every feature.
    """
    S = p.n_seeds
    L = FeatureLayout(S)
    phi = phi.astype(np.float32)
    bounds = p.task_bounds
    tasks = np.flatnonzero(np.diff(bounds) > 0)
    lo_k = np.minimum.reduceat(p.k, bounds[tasks])
    hi_k = np.maximum.reduceat(p.k, bounds[tasks])
    full = np.logical_and.reduceat((p.state >= 0).all(axis=1), bounds[tasks])
    compact = tasks[full & (lo_k == hi_k)]
    general = np.setdiff1d(tasks, compact)
    rank = np.zeros(p.n_tasks, np.int64)
    rank[tasks] = _task_ranks(p.n_items[tasks].astype(np.int64))
    acc = _CategorySums(n_cat, tables.n_boot, S, L.n_pairs)
    if compact.size:
        short = np.concatenate(
            [L.seed_col(c) for c in ("pre", "n10", "n01")]
            + [L.pair_col(c, "before") for c in ("d10", "d01")]
        )
        xs = _task_products(p, phi[:, short], compact, rank[compact], tables)
        _add_compact(acc, xs, p, compact, task_cat[compact], L)
    if general.size:
        xg = _task_products(p, phi[:, _general_cols(L)], general, rank[general], tables)
        Lb = FeatureLayout(S, sides=("before",))
        acc.add_values(_values(layout_getter(xg, Lb), ("before",)), task_cat[general])
    return acc.rows()


def _general_cols(L: FeatureLayout) -> np.ndarray:
    """Columns of the full layout that make the before-only layout (the bootstrap's)."""
    seed = [L.seed_col(c) for c in ("n", "pre", "post", "n10", "n01", "w")]
    pair = [L.pair_col(c) for c in ("n", "w")]
    pair += [L.pair_col(c, "before") for c in ("c1", "c2", "d10", "d01")]
    return np.concatenate(seed + pair)


def _task_ranks(sizes: np.ndarray) -> np.ndarray:
    """Rank of each task among the pair's tasks of the same size (its resampling column)."""
    order = np.lexsort((np.arange(sizes.size), sizes))
    first = np.searchsorted(sizes[order], sizes[order])
    rank = np.empty(sizes.size, np.int64)
    rank[order] = np.arange(sizes.size) - first
    return rank


def _task_products(
    p: Patterns, phi: np.ndarray, tasks: np.ndarray, ranks: np.ndarray, tables: SizeTables
) -> np.ndarray:
    """Replicate feature totals [len(tasks), D, B]: phi^T @ pattern multiplicities, read off
    column (b + rank) mod B of the size tables (group rank // B)."""
    bounds = p.task_bounds
    B = tables.n_boot
    out = np.empty((tasks.size, phi.shape[1], B), np.float32)
    for j, t in enumerate(tasks.tolist()):
        lo, hi = int(bounds[t]), int(bounds[t + 1])
        cnt = p.count[lo:hi]
        r = int(ranks[j])
        G = tables.get(int(cnt.sum()), r // B)[np.concatenate([[0], np.cumsum(cnt)])]
        if r % B:
            G = np.roll(G, -(r % B), axis=1)
        G = G.astype(np.float32)
        out[j] = _matmul_blocks(np.ascontiguousarray(phi[lo:hi].T), G[1:] - G[:-1])
    return out


class _CategorySums:
    """Per (category, seed, replicate) sums and counts of task values, then the study's rows."""

    def __init__(self, n_cat: int, n_boot: int, n_seeds: int, n_pairs: int) -> None:
        self.n_cat = n_cat
        self.shape = {m: (n_cat, n_seeds, n_boot) for m in SEED_METRICS}
        self.shape["floor_before"] = (n_cat, n_pairs, n_boot)
        self.sums = {m: np.zeros(sh, np.float32) for m, sh in self.shape.items()}
        self.cnts = {m: np.zeros(sh, np.float32) for m, sh in self.shape.items()}

    def onehot(self, cats: np.ndarray, weight: np.ndarray | float = 1.0) -> np.ndarray:
        W = np.zeros((self.n_cat, cats.size), np.float32)
        W[cats, np.arange(cats.size)] = weight
        return W

    def matmul(self, W: np.ndarray, v: np.ndarray) -> np.ndarray:
        """W[C, T'] @ v[T', S, B] -> [C, S, B]."""
        return _matmul_blocks(W, v.reshape(v.shape[0], -1)).reshape(self.n_cat, *v.shape[1:])

    def add(self, m: str, W: np.ndarray, v: np.ndarray, counts: np.ndarray | None = None) -> None:
        """Sums += W[C, T'] @ v[T', S, B]; counts += `counts` [C] (v has no NaN) or W @ ok."""
        flat = v.reshape(v.shape[0], -1)
        if counts is None:
            ok = ~np.isnan(flat)
            flat = np.where(ok, flat, 0.0)
            self.cnts[m] += _matmul_blocks(W, ok.astype(np.float32)).reshape(self.shape[m])
        else:
            self.cnts[m] += counts[:, None, None]
        self.sums[m] += _matmul_blocks(W, flat).reshape(self.shape[m])

    def add_values(self, vals: dict[str, np.ndarray], cats: np.ndarray) -> None:
        """Task values [T', S, B] that may hold NaN (tasks missing a seed in a replicate)."""
        W = self.onehot(cats)
        for m, v in vals.items():
            self.add(m, W, v.astype(np.float32))

    def rows(self) -> dict[str, np.ndarray]:
        out = {}
        for m in self.sums:
            with np.errstate(invalid="ignore", divide="ignore"):
                per_seed = np.where(self.cnts[m] > 0, self.sums[m] / self.cnts[m], np.nan)
            cats = _nanmean(per_seed, axis=1)  # [C, B]
            total = _nanmean(_nanmean(per_seed, axis=0), axis=0)  # [B]
            out[m] = np.concatenate([cats, total[None]], axis=0)
        out["F_excess"] = out["F_true"] - out["floor_before"]
        out["BT_excess"] = out["BT_true"] - out["floor_before"]
        return out


def _add_compact(
    acc: _CategorySums,
    xs: np.ndarray,
    p: Patterns,
    tasks: np.ndarray,
    cats: np.ndarray,
    L: FeatureLayout,
) -> None:
    """Compact tasks' replicate totals xs[Tc, 3S + 2Q, B] (pre, n10, n01; d10, d01 before)."""
    S, Q = L.n_seeds, L.n_pairs
    n = p.n_items[tasks].astype(np.float32)
    k = p.k[p.task_bounds[tasks]]
    inv_k = np.where(k >= 2, 1.0 / np.maximum(k - 1.0, 1.0), 0.0).astype(np.float32)[:, None, None]
    inv_n = (1.0 / n)[:, None, None]
    # rates (count / N) once; everything below is on contiguous [Tc, S or Q, B] arrays
    rates = xs * inv_n
    a, f, b = rates[:, :S], rates[:, S : 2 * S], rates[:, 2 * S : 3 * S]
    W1 = acc.onehot(cats)
    n_c = W1.sum(axis=1)
    s_pre = acc.matmul(W1, a)
    s_10 = acc.matmul(W1, f)
    s_01 = acc.matmul(W1, b)
    for m, x in (("acc_pre", s_pre), ("F", s_10), ("BT", s_01), ("acc_post", s_pre - s_10 + s_01)):
        acc.sums[m] += x
        acc.cnts[m] += n_c[:, None, None]
    post_wrong = 1.0 - a + f - b  # 1 - acc_post
    chance = (1.0 - a) * post_wrong * inv_k
    acc.add("F_true", W1, np.maximum(f - chance, 0.0), n_c)
    acc.add("BT_true", W1, np.maximum(b - chance, 0.0), n_c)
    if Q:
        wrong = (1.0 - a) * np.sqrt(inv_k)
        ch = wrong[:, L.seed_pairs[:, 0]] * wrong[:, L.seed_pairs[:, 1]]
        fl = np.maximum(rates[:, 3 * S : 3 * S + Q] - ch, 0.0)
        fl += np.maximum(rates[:, 3 * S + Q :] - ch, 0.0)
        acc.add("floor_before", W1 * 0.5, fl, n_c)


def _linearised_se(
    p: Patterns,
    phi: np.ndarray,
    tot0: np.ndarray,
    L: FeatureLayout,
    task_cat: np.ndarray,
    n_cat: int,
    vals0: dict[str, np.ndarray],
) -> np.ndarray:
    """Delta-method SE [C + 1] of F_excess per category and Total (of F_true with one seed).

    Var = sum over tasks t of (1 / N_t^2) sum over items i of psi_i^2, psi_i the directional
    derivative of the aggregate towards item i's features (the empirical influence function), so
    it matches the bootstrap variance to first order.
    """
    n_t = p.n_items
    xbar = tot0 / np.maximum(n_t, 1)[:, None]  # [T, D] feature means
    base = xbar[p.task]
    get = layout_getter(base + 1j * _STEP * (phi - base), L)
    d_f = np.nan_to_num(seed_values(get)["F_true"].imag / _STEP)  # [P, S]
    own, tot = aggregation_weights(~np.isnan(vals0["F_true"][..., 0]), task_cat, n_cat)
    psi = np.stack([(d_f * own[p.task]).sum(axis=1), (d_f * tot[p.task]).sum(axis=1)])
    if L.n_pairs:
        # seed pairs without a floor (a seed the pair lacks) have weight 0: no NaN may leak in;
        # a category with no floor at all keeps the F_true basis
        d_fl = np.nan_to_num(floor_values(get, "before").imag / _STEP)  # [P, Q]
        own, tot = aggregation_weights(~np.isnan(vals0["floor_before"][..., 0]), task_cat, n_cat)
        psi -= np.stack([(d_fl * own[p.task]).sum(axis=1), (d_fl * tot[p.task]).sum(axis=1)])
    scale = p.count / np.maximum(n_t[p.task], 1) ** 2
    var_c = np.bincount(task_cat[p.task], weights=scale * psi[0] ** 2, minlength=n_cat)
    return np.sqrt(np.append(var_c, (scale * psi[1] ** 2).sum()))
