"""Category and Total uncertainty of compared pairs: joint bootstrap CIs, noise floors, MDE.

A thin layer between compare's paired rows and `forgetmap.metrics.joint`: it turns a pair's
paired records into item patterns, runs the joint statistics on the pair's aggregated tasks, and
returns the JSON-ready fields (docs/statistics.md) keyed by category and task names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forgetmap.analysis.results import Interval, PairResult
from forgetmap.metrics import SizeTables, item_patterns, joint_stats
from forgetmap.metrics.joint import FLOOR_SIDES, SEED_METRICS, task_floors
from forgetmap.metrics.patterns import Patterns
from forgetmap.metrics.power import consistency_from_floor, design_mde, unit_variances

#: metrics with a `ci95` beside their mean/std in categories and total
CI95_METRICS: tuple[str, ...] = SEED_METRICS
MDE_ALPHA, MDE_POWER = 0.05, 0.8


def pair_patterns(
    item_key: np.ndarray,
    task: np.ndarray,
    seed: np.ndarray,
    trans: np.ndarray,
    k: np.ndarray,
    n_tasks: int,
    n_seeds: int,
) -> Patterns:
    """Item patterns of one pair from its paired rows.

    item_key: an integer unique per (task, item), the rows of one item contiguous (compare's rows
    are sorted by task, item, seed); seed: seed index 0..n_seeds-1; trans: 2 * correct_before +
    correct_after; k: option count of the row (0 = none).
    """
    new_item = np.r_[True, item_key[1:] != item_key[:-1]]
    first = np.flatnonzero(new_item)
    state = np.full((first.size, n_seeds), -1, np.int8)
    state[np.cumsum(new_item) - 1, seed] = trans
    return item_patterns(task[first], k[first], state, n_tasks)


def _f(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _ci(row: np.ndarray) -> list[float | None]:
    return [_f(row[0]), _f(row[1])]


@dataclass
class PairUncertainty:
    """JSON-ready uncertainty fields of one pair (fractions; None where undefined)."""

    ci95: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)  # row -> m -> ci
    excess: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # row -> F/BT
    mde_F_true: dict[str, float | None] = field(default_factory=dict)  # row -> mde
    noise_floor: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    task_floor: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)


def pair_uncertainty(
    patterns: Patterns,
    task_names: Sequence[str],
    agg_tasks: Sequence[int],
    cat_of: dict[int, str],
    categories: Sequence[str],
    tables: SizeTables | None,
    total: str = "Total",
) -> PairUncertainty:
    """Uncertainty fields of one pair: rows are the `categories` (names) and `total`.

    patterns: all of the pair's tasks (indices into task_names); agg_tasks: those that count in
    categories and Total; cat_of: task index -> category name. `tables` None: no bootstrap
    (intervals None; floors, F_excess and MDE still computed).
    """
    out = PairUncertainty()
    floors = task_floors(patterns)
    for t in np.flatnonzero(np.diff(patterns.task_bounds) > 0).tolist():
        fl = {s: _f(floors[s][t]) for s in FLOOR_SIDES}
        out.task_floor[task_names[t]] = {s: {"F_true": v, "BT_true": v} for s, v in fl.items()}
    if not agg_tasks or not categories:
        return out
    sub = _restrict(patterns, np.asarray(agg_tasks, dtype=np.int64))
    cat_index = {c: i for i, c in enumerate(categories)}
    task_cat = np.array([cat_index[cat_of[t]] for t in agg_tasks], dtype=np.int64)
    js = joint_stats(sub, task_cat, len(categories), tables)
    mde = _design_mde(js.design, task_cat, len(categories))
    rows = [*categories, total]
    for i, r in enumerate(rows):
        out.ci95[r] = {m: _ci(js.ci[m][i]) for m in CI95_METRICS}
        out.excess[r] = {
            m: {"mean": _f(js.point[m][i]), "ci95": _ci(js.ci[m][i])}
            for m in ("F_excess", "BT_excess")
        }
        out.mde_F_true[r] = _f(mde[i])
    for side in FLOOR_SIDES:
        m = f"floor_{side}"
        out.noise_floor[side] = {
            r: {
                metric: {"mean": _f(js.point[m][i]), "ci95": _ci(js.ci[m][i])}
                for metric in ("F_true", "BT_true")
            }
            for i, r in enumerate(rows)
        }
    return out


def _design_mde(design: dict[str, np.ndarray], task_cat: np.ndarray, n_cat: int) -> np.ndarray:
    """The pair's MDE per category and Total: its tasks' items, k and before-model accuracy, its
    seeds, and the consistency its noise floor implies (forgetmap.metrics.power)."""
    k = design["k"].tolist()
    cons = [
        consistency_from_floor(a, d, kk)
        for a, d, kk in zip(design["acc"].tolist(), design["disagree"].tolist(), k, strict=True)
    ]
    unit = unit_variances(k, int(design["n_seeds"]), design["acc"], np.array(cons))
    return design_mde(design["n_items"], unit, task_cat, n_cat, MDE_ALPHA, MDE_POWER)


def _restrict(p: Patterns, tasks: np.ndarray) -> Patterns:
    """The patterns of `tasks` (renumbered 0..len(tasks)-1 in that order)."""
    new = np.full(p.n_tasks, -1, np.int64)
    new[tasks] = np.arange(tasks.size)
    keep = np.flatnonzero(new[p.task] >= 0)
    order = keep[np.argsort(new[p.task[keep]], kind="stable")]
    return Patterns(
        task=new[p.task[order]],
        count=p.count[order],
        k=p.k[order],
        state=p.state[order],
        n_tasks=int(tasks.size),
    )


def attach(result: PairResult, unc: PairUncertainty, total: str = "Total") -> None:
    """Set the uncertainty fields of a PairResult (typed, written only when set)."""
    for name, block in [*result.categories.items(), (total, result.total)]:
        if block is None or name not in unc.ci95:
            continue
        for m in CI95_METRICS:
            stat = block.stat(m)
            if stat is not None:
                stat.ci95 = unc.ci95[name][m]
        block.F_excess = Interval(**unc.excess[name]["F_excess"])
        block.BT_excess = Interval(**unc.excess[name]["BT_excess"])
        block.mde_F_true = unc.mde_F_true[name]
    for task, summary in result.tasks.items():
        if task in unc.task_floor:
            summary.noise_floor = {s: dict(v) for s, v in unc.task_floor[task].items()}
    if unc.noise_floor:
        result.noise_floor = {
            side: {row: {m: Interval(**v) for m, v in ms.items()} for row, ms in rows.items()}
            for side, rows in unc.noise_floor.items()
        }
