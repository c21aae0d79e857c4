"""Power of a design: the minimum detectable F_true (forgetting beyond the noise floor).

A planned comparison (tasks with their item counts and option counts k, S seeds, the models'
accuracy) has, under "no forgetting" (the after-model answers like the before-model), a known
distribution of item outcome patterns: an item is *known* with probability kappa and then answered
correctly with probability `consistency` on each sample, else the model guesses among k options
(free-form: never right), so that the accuracy is `acc`; before and after, and every seed, sample
independently. The standard error of the category / Total F_excess estimate under that model comes
from the same linearisation `forgetmap.metrics.joint` applies to real data (here on the exact
pattern probabilities), and

    MDE = (z_{1 - alpha/2} + z_{power}) * SE

is the smallest true F_excess a two-sided level-alpha test detects with the given power. With one
seed there is no noise floor and the MDE refers to F_true itself. docs/statistics.md has the
details and the assumptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from forgetmap.metrics.joint import joint_stats, mde_factor
from forgetmap.metrics.patterns import Patterns

EXACT_MAX_SEEDS = 6  # 4**6 patterns per task; more seeds are approximated by simulated items
DEFAULT_CONSISTENCY = 0.9
_SIM_ITEMS = 50_000


@dataclass(frozen=True)
class PlanTask:
    """One task of a planned design."""

    name: str
    category: str
    n_items: int
    k: int | None  # options per item; None = free-form


def null_patterns(
    k: int | None, n_seeds: int, acc: float, consistency: float = DEFAULT_CONSISTENCY, seed: int = 0
) -> Patterns:
    """Pattern probabilities (as `count`, summing to 1) of one item of a task under no forgetting.

    Exact enumeration of the 4**S transition patterns for S <= EXACT_MAX_SEEDS; beyond, the
    empirical patterns of _SIM_ITEMS simulated items (seeded) weighted 1/_SIM_ITEMS.
    """
    g = 1.0 / k if k is not None and k >= 2 else 0.0
    p_known = max(consistency, acc)
    kappa = float(np.clip((acc - g) / (p_known - g), 0.0, 1.0)) if p_known > g else 1.0
    types = [(kappa, p_known), (1.0 - kappa, g)]
    if n_seeds <= EXACT_MAX_SEEDS:
        states = (
            np.array(np.meshgrid(*[np.arange(4)] * n_seeds, indexing="ij")).reshape(n_seeds, -1).T
        )
        pre, post = states >= 2, states % 2 == 1
        prob = np.zeros(states.shape[0])
        for share, p in types:
            per = np.where(pre, p, 1 - p) * np.where(post, p, 1 - p)
            prob += share * per.prod(axis=1)
        keep = prob > 0
        states, prob = states[keep], prob[keep]
    else:
        rng = np.random.default_rng([seed, n_seeds])
        p_item = np.where(rng.random(_SIM_ITEMS) < kappa, p_known, g)[:, None]
        sim = 2 * (rng.random((_SIM_ITEMS, n_seeds)) < p_item) + (
            rng.random((_SIM_ITEMS, n_seeds)) < p_item
        )
        codes, cnt = np.unique(sim @ (4 ** np.arange(n_seeds)), return_counts=True)
        states = (codes[:, None] // 4 ** np.arange(n_seeds)) % 4
        prob = cnt / _SIM_ITEMS
    P = states.shape[0]
    return Patterns(
        task=np.zeros(P, np.int64),
        count=prob,
        k=np.full(P, k if k is not None and k >= 2 else 0, np.int64),
        state=states.astype(np.int8),
        n_tasks=1,
    )


@lru_cache(maxsize=4096)
def unit_variance(k: int | None, n_seeds: int, acc: float, consistency: float = 0.9) -> float:
    """Variance of one task's F_excess (F_true with one seed) estimate times its item count,
    under no forgetting (linearised, on the exact pattern probabilities)."""
    pats = null_patterns(k, n_seeds, acc, consistency)
    se = joint_stats(pats, np.zeros(1, np.int64), 1).se_F_excess[0]
    return float(se**2)  # the patterns stand for one item: SE^2 * 1


def unit_variances(
    k: Sequence[int | None] | np.ndarray,
    n_seeds: int,
    acc: np.ndarray,
    consistency: np.ndarray,
) -> np.ndarray:
    """`unit_variance` of many tasks at once, in closed form (no clipping at 0).

    Under no forgetting every seed of both models draws independently with the item's p, and
    at the population point (acc_pre = acc_post = A in every seed) the influence of an item
    with answers x_s (before) and y_s (after) on F_excess is, up to a constant,

        psi = mean_s x_s (1 - y_s) - mean_{s<s'} (x_s + x_s' - 2 x_s x_s') / 2
              + w (1 - A) mean_s (y_s - x_s),         w = 1 / (k - 1)

    (the linear terms of the chance corrections of F_true and of the floor partly cancel); with
    one seed there is no floor and the last term is w (1 - A)(x + y). Var = E psi^2 - (E psi)^2
    over the 4^S answer patterns, mixing known and guessed items; it equals the linearisation
    `unit_variance` applies to the same patterns (tested).
    """
    S = int(n_seeds)
    kk = np.array([int(x) if x is not None and x >= 2 else 0 for x in k])
    g = np.where(kk >= 2, 1.0 / np.maximum(kk, 1), 0.0)
    w = np.where(kk >= 2, 1.0 / np.maximum(kk - 1.0, 1.0), 0.0)
    acc = np.asarray(acc, float)
    p_known = np.maximum(np.asarray(consistency, float), acc)
    kappa = np.clip(
        np.where(p_known > g, (acc - g) / np.where(p_known > g, p_known - g, 1), 1), 0, 1
    )
    states = np.array(np.meshgrid(*[np.arange(4)] * S, indexing="ij")).reshape(S, -1).T
    x, y = (states >= 2).astype(float), (states % 2 == 1).astype(float)
    flips = (x * (1 - y)).mean(axis=1)
    if S >= 2:
        a, b = np.triu_indices(S, k=1)
        self_flips = (0.5 * (x[:, a] + x[:, b] - 2 * x[:, a] * x[:, b])).mean(axis=1)
        g1, g2 = flips - self_flips, (y - x).mean(axis=1)
    else:
        g1, g2 = flips, (x + y)[:, 0]
    n_x = x.sum(axis=1)
    n_y = y.sum(axis=1)
    out = np.empty(kk.size)
    for t in range(kk.size):  # one task at a time bounds memory at 4^S
        lam = w[t] * (1.0 - acc[t])
        psi = g1 + lam * g2
        prob = np.zeros(states.shape[0])
        for share, p in ((kappa[t], p_known[t]), (1.0 - kappa[t], g[t])):
            prob += share * p ** (n_x + n_y) * (1 - p) ** (2 * S - n_x - n_y)
        mean = prob @ psi
        out[t] = prob @ psi**2 - mean**2
    return out


def consistency_from_floor(acc: float, disagree: float, k: int | None) -> float:
    """The `consistency` that explains a model's accuracy and its disagreement with itself.

    In the planning model (an item known with probability kappa is right with probability c,
    else guessed: g = 1/k), acc = kappa c + (1 - kappa) g and the rate at which two seeds
    disagree is D = 2 [kappa c (1 - c) + (1 - kappa) g (1 - g)]; eliminating kappa gives
    c = 1 - g - (D/2 - g(1 - g)) / (acc - g). Clipped to [acc, 1]; DEFAULT_CONSISTENCY when the
    data cannot tell (one seed, accuracy at or below chance).
    """
    g = 1.0 / k if k is not None and k >= 2 else 0.0
    if not np.isfinite(disagree) or not np.isfinite(acc) or acc - g < 0.02:
        return DEFAULT_CONSISTENCY
    c = 1.0 - g - (disagree / 2.0 - g * (1.0 - g)) / (acc - g)
    return float(np.clip(c, acc, 1.0))


def design_mde(
    n_items: np.ndarray,
    unit_var: np.ndarray,
    task_cat: np.ndarray,
    n_cat: int,
    alpha: float = 0.05,
    power: float = 0.8,
) -> np.ndarray:
    """MDE [C + 1] per category and Total from each task's unit variance and item count.

    Tasks weigh equally within their category and categories equally in Total (the study's
    aggregation): Var_c = sum_t Var_t / (N_t T_c^2), Var_Total = sum_c Var_c / C^2.
    """
    task_cat = np.asarray(task_cat, dtype=np.int64)
    var_t = np.asarray(unit_var, float) / np.maximum(np.asarray(n_items, float), 1.0)
    t_c = np.bincount(task_cat, minlength=n_cat).astype(float)
    var_c = np.bincount(
        task_cat, weights=var_t / np.maximum(t_c[task_cat], 1) ** 2, minlength=n_cat
    )
    var_tot = var_c.sum() / max(n_cat, 1) ** 2
    return mde_factor(alpha, power) * np.sqrt(np.append(var_c, var_tot))


@dataclass
class PlanResult:
    """MDE per category (in order of first appearance) and Total for a design."""

    categories: list[str]
    n_tasks: list[int]
    n_items: list[int]
    mde: np.ndarray  # [C + 1], Total last


def plan_mde(
    tasks: Sequence[PlanTask],
    n_seeds: int,
    acc: float,
    consistency: float = DEFAULT_CONSISTENCY,
    limit: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> PlanResult:
    """MDE of F_true beyond the noise floor per category and Total (items capped at `limit`).

    Every task is weighted as the study aggregates: equally within its category, categories
    equally in Total, seeds (and seed pairs) equally.
    """
    if not tasks:
        raise ValueError("no tasks to plan for")
    cats = list(dict.fromkeys(t.category for t in tasks))
    n = np.array([min(t.n_items, limit) if limit else t.n_items for t in tasks], float)
    ci = np.array([cats.index(t.category) for t in tasks])
    unit = unit_variances(
        [t.k for t in tasks], n_seeds, np.full(len(tasks), acc), np.full(len(tasks), consistency)
    )
    return PlanResult(
        categories=cats,
        n_tasks=np.bincount(ci, minlength=len(cats)).tolist(),
        n_items=np.bincount(ci, weights=n, minlength=len(cats)).astype(int).tolist(),
        mde=design_mde(n, unit, ci, len(cats), alpha, power),
    )


def items_needed(
    tasks: Sequence[PlanTask],
    target: float,
    n_seeds: int,
    acc: float,
    consistency: float = 0.9,
    category: str | None = None,
    max_items: int | None = None,
) -> int | None:
    """Fewest items per task (a `--limit`) for MDE <= target in `category` (None: Total).

    Tasks keep at most their own item count unless `max_items` lifts the cap (a benchmark with
    more items); None when even the cap is not enough.
    """
    row = -1

    def mde(limit: int) -> float:
        capped = [
            PlanTask(t.name, t.category, max_items if max_items else t.n_items, t.k) for t in tasks
        ]
        res = plan_mde(capped, n_seeds, acc, consistency, limit=limit)
        return float(res.mde[res.categories.index(category) if category is not None else row])

    hi = max_items or max(t.n_items for t in tasks)
    if mde(hi) > target:
        return None
    lo = 1
    while lo < hi:
        mid = (lo + hi) // 2
        if mde(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo
