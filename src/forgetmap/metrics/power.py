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
_SIM_ITEMS = 50_000


@dataclass(frozen=True)
class PlanTask:
    """One task of a planned design."""

    name: str
    category: str
    n_items: int
    k: int | None  # options per item; None = free-form


def null_patterns(
    k: int | None, n_seeds: int, acc: float, consistency: float = 0.9, seed: int = 0
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


@lru_cache(maxsize=256)
def unit_variance(k: int | None, n_seeds: int, acc: float, consistency: float = 0.9) -> float:
    """Variance of one task's F_excess (F_true with one seed) estimate times its item count."""
    pats = null_patterns(k, n_seeds, acc, consistency)
    se = joint_stats(pats, np.zeros(1, np.int64), 1).se_F_excess[0]
    return float(se**2)  # the patterns stand for one item: SE^2 * 1


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
    consistency: float = 0.9,
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
    unit = {k: unit_variance(k, n_seeds, acc, consistency) for k in {t.k for t in tasks}}
    n = np.array([min(t.n_items, limit) if limit else t.n_items for t in tasks], float)
    var_t = np.array([unit[t.k] for t in tasks]) / np.maximum(n, 1)
    ci = np.array([cats.index(t.category) for t in tasks])
    t_c = np.bincount(ci, minlength=len(cats)).astype(float)
    var_c = np.bincount(ci, weights=var_t / t_c[ci] ** 2, minlength=len(cats))
    var_tot = var_c.sum() / len(cats) ** 2
    return PlanResult(
        categories=cats,
        n_tasks=t_c.astype(int).tolist(),
        n_items=np.bincount(ci, weights=n, minlength=len(cats)).astype(int).tolist(),
        mde=mde_factor(alpha, power) * np.sqrt(np.append(var_c, var_tot)),
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
