"""Multi-seed item view: how reliably each item is known before and after, pooled per group.

Inputs are per-item tallies over the seeds in which the item was paired: ``n_seeds``, ``c_pre`` and
``c_post`` (seeds correct before / after), ``f10`` and ``f01`` (seeds with a 1→0 / 0→1 flip), and a
group index (e.g. one group per (pair, task)). With p_pre(i) = c_pre/n_seeds and p_post(i) =
c_post/n_seeds:

- expected_P10 = mean_i p_pre(i) * (1 - p_post(i)): the chance that a random seed before and a
  random seed after show a 1→0 flip on item i, averaged over items; expected_P01 likewise;
- consistent_10 / consistent_01: items flipped 1→0 (0→1) in *every* one of their seeds;
- majority_10 / majority_01: items whose majority answer (correct in more than half the seeds;
  a tie counts as not correct) went from right to wrong / wrong to right. McNemar on these two
  counts is the seed-robust paired test.
"""

from __future__ import annotations

import numpy as np

from forgetmap.metrics.mcnemar import mcnemar_exact

ITEM_VIEW_NAMES: tuple[str, ...] = (
    "n_items",
    "p_pre_mean",
    "p_post_mean",
    "expected_P10",
    "expected_P01",
    "consistent_10",
    "consistent_01",
    "majority_10",
    "majority_01",
    "p_mcnemar_majority",
)


def item_view(
    group: np.ndarray,
    n_seeds: np.ndarray,
    c_pre: np.ndarray,
    c_post: np.ndarray,
    f10: np.ndarray,
    f01: np.ndarray,
    n_groups: int | None = None,
    weight: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-group item-view statistics (see module docstring); one entry per group index.

    `weight` (optional) says how many items share each row's tallies, so callers can pass the
    distinct (group, tallies) combinations with their counts instead of one row per item.
    """
    group = np.asarray(group, dtype=np.int64)
    wt = np.ones(group.size) if weight is None else np.asarray(weight, dtype=np.float64)
    s = np.asarray(n_seeds, dtype=np.float64)
    if (s <= 0).any():
        raise ValueError("every item needs at least one paired seed")
    G = int(n_groups if n_groups is not None else (group.max() + 1 if group.size else 0))
    p_pre = np.asarray(c_pre, dtype=np.float64) / s
    p_post = np.asarray(c_post, dtype=np.float64) / s

    def gsum(x: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=wt * np.asarray(x, dtype=np.float64), minlength=G)

    n_items = np.bincount(group, weights=wt, minlength=G)
    maj_pre = 2 * np.asarray(c_pre) > s
    maj_post = 2 * np.asarray(c_post) > s
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "n_items": n_items,
            "p_pre_mean": gsum(p_pre) / n_items,
            "p_post_mean": gsum(p_post) / n_items,
            "expected_P10": gsum(p_pre * (1.0 - p_post)) / n_items,
            "expected_P01": gsum((1.0 - p_pre) * p_post) / n_items,
            "consistent_10": gsum(np.asarray(f10) == s),
            "consistent_01": gsum(np.asarray(f01) == s),
            "majority_10": gsum(maj_pre & ~maj_post),
            "majority_01": gsum(~maj_pre & maj_post),
        }
    out["p_mcnemar_majority"] = mcnemar_exact(
        out["majority_01"].astype(np.int64), out["majority_10"].astype(np.int64)
    )
    return out
