"""Items of one pair collapsed to their distinct outcome patterns, and the pattern features.

Category and Total statistics resample *items* (all seeds of an item together, docs/statistics.md).
An item is fully described, for every statistic here, by its task, its option count k and its
per-seed state: absent (-1) or the transition ``2 * correct_before + correct_after`` (0..3). Items
of one task with the same (k, states) are interchangeable, so a task's N items collapse to P <= N
distinct *patterns* with multiplicities; resampling N items then only changes the multiplicities.

Every statistic is a smooth function of per-task sums of per-item *features* (``FeatureLayout``):
per seed s, present / correct before / correct after / 1→0 / 0→1 / chance weight 1/(k-1); per pair
of seeds (s < s'), for each model on its own, correct at s, correct at s', s→s' flips 1→0 and
0→1 (the noise floor compares a model with itself across seeds), plus presence and chance weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from forgetmap.metrics.core import has_k

ABSENT = -1


@dataclass(frozen=True)
class FeatureLayout:
    """Column indices of the feature matrix for S seeds (seed pairs q enumerate s < s').

    `sides`: the models whose seed-pair (noise floor) features are laid out; the bootstrap only
    carries the before-model's.
    """

    n_seeds: int
    sides: tuple[str, ...] = ("before", "after")

    @cached_property
    def seed_pairs(self) -> np.ndarray:
        """[Q, 2] seed index pairs (s, s'), s < s'."""
        s, t = np.triu_indices(self.n_seeds, k=1)
        return np.stack([s, t], axis=1).astype(np.int64)

    @property
    def n_pairs(self) -> int:
        return int(self.seed_pairs.shape[0])

    def seed_col(self, name: str) -> np.ndarray:
        """Columns [S] of a per-seed feature: n, pre, post, n10, n01, w."""
        j = ("n", "pre", "post", "n10", "n01", "w").index(name)
        return j * self.n_seeds + np.arange(self.n_seeds)

    def pair_col(self, name: str, side: str | None = None) -> np.ndarray:
        """Columns [Q] of a seed-pair feature: n, w (shared), c1, c2, d10, d01 (per side)."""
        base = 6 * self.n_seeds
        q = self.n_pairs
        if name in ("n", "w"):
            j = ("n", "w").index(name)
        else:
            j = 2 + 4 * self.sides.index(side or "") + ("c1", "c2", "d10", "d01").index(name)
        return base + j * q + np.arange(q)

    @property
    def n_features(self) -> int:
        return 6 * self.n_seeds + (2 + 4 * len(self.sides)) * self.n_pairs


@dataclass(frozen=True)
class Patterns:
    """Distinct item patterns of one pair, grouped by task (tasks contiguous, ascending)."""

    task: np.ndarray  # [P] task index 0..T-1
    count: np.ndarray  # [P] items with this pattern
    k: np.ndarray  # [P] option count, 0 = none
    state: np.ndarray  # [P, S] ABSENT or transition 0..3
    n_tasks: int

    @property
    def n_seeds(self) -> int:
        return int(self.state.shape[1])

    @cached_property
    def task_bounds(self) -> np.ndarray:
        """[T + 1] start offsets of each task's patterns."""
        return np.searchsorted(self.task, np.arange(self.n_tasks + 1)).astype(np.int64)

    @cached_property
    def n_items(self) -> np.ndarray:
        """[T] items per task."""
        return np.bincount(self.task, weights=self.count, minlength=self.n_tasks)


def item_patterns(task: np.ndarray, k: np.ndarray, state: np.ndarray, n_tasks: int) -> Patterns:
    """Collapse per-item rows (task, k, state[S]) to distinct patterns with counts.

    `state[i, s]` is ABSENT when item i has no paired record at seed s, else
    2 * correct_before + correct_after.
    """
    task = np.asarray(task, dtype=np.int64)
    k = np.where(has_k(np.asarray(k)), np.asarray(k), 0).astype(np.int64)
    state = np.asarray(state, dtype=np.int64).reshape(task.size, -1)
    S = state.shape[1]
    if task.size == 0:
        return Patterns(task, np.zeros(0, np.int64), k, state.astype(np.int8), n_tasks)
    k_max = int(k.max()) + 1
    # one int64 code per item when it fits (S <= ~20 seeds), else unique rows
    if (n_tasks * k_max) * 5.0**S < 2**62:
        code = (task * k_max + k) * 5**S + ((state + 1) * 5 ** np.arange(S)).sum(axis=1)
        ucode, first, cnt = np.unique(code, return_index=True, return_counts=True)
        del ucode
    else:
        rows = np.concatenate([task[:, None], k[:, None], state], axis=1)
        _, first, cnt = np.unique(rows, axis=0, return_index=True, return_counts=True)
    return Patterns(
        task=task[first],
        count=cnt.astype(np.int64),
        k=k[first],
        state=state[first].astype(np.int8),
        n_tasks=n_tasks,
    )


def pattern_features(p: Patterns, layout: FeatureLayout | None = None) -> np.ndarray:
    """Feature matrix [P, D] (float64) of the patterns; see FeatureLayout for the columns."""
    L = layout or FeatureLayout(p.n_seeds)
    st = p.state.astype(np.int64)
    present = st != ABSENT
    pre = present & (st >= 2)
    post = present & (st % 2 == 1)
    kk = p.k[:, None]
    inv = np.where(has_k(kk), 1.0 / np.where(has_k(kk), kk - 1.0, 1.0), 0.0)
    X = np.zeros((st.shape[0], L.n_features))
    X[:, L.seed_col("n")] = present
    X[:, L.seed_col("pre")] = pre
    X[:, L.seed_col("post")] = post
    X[:, L.seed_col("n10")] = pre & ~post
    X[:, L.seed_col("n01")] = ~pre & post & present
    X[:, L.seed_col("w")] = present * inv
    if L.n_pairs:
        a, b = L.seed_pairs[:, 0], L.seed_pairs[:, 1]
        both = present[:, a] & present[:, b]
        X[:, L.pair_col("n")] = both
        X[:, L.pair_col("w")] = both * inv
        for side, c in (("before", pre), ("after", post)):
            if side not in L.sides:
                continue
            c1, c2 = c[:, a] & both, c[:, b] & both
            X[:, L.pair_col("c1", side)] = c1
            X[:, L.pair_col("c2", side)] = c2
            X[:, L.pair_col("d10", side)] = c1 & ~c2
            X[:, L.pair_col("d01", side)] = ~c1 & c2
    return X
