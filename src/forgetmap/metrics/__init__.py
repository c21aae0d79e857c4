"""Layer 2: pure numpy forgetting metrics (docs/metrics.md). No I/O, no table libraries."""

from forgetmap.metrics.bootstrap import CI_METRICS, SizeTables, bootstrap_ci
from forgetmap.metrics.core import (
    METRIC_NAMES,
    cell_metrics,
    densify_strata,
    has_k,
    items_metrics,
    metrics_from_strata,
    transition_counts,
    transition_index,
)
from forgetmap.metrics.item_view import ITEM_VIEW_NAMES, item_view
from forgetmap.metrics.joint import JOINT_METRICS, JointStats, joint_stats, mde_factor
from forgetmap.metrics.mcnemar import mcnemar_exact
from forgetmap.metrics.patterns import Patterns, item_patterns

__all__ = [
    "CI_METRICS",
    "ITEM_VIEW_NAMES",
    "JOINT_METRICS",
    "METRIC_NAMES",
    "JointStats",
    "Patterns",
    "SizeTables",
    "bootstrap_ci",
    "cell_metrics",
    "densify_strata",
    "has_k",
    "item_patterns",
    "item_view",
    "items_metrics",
    "joint_stats",
    "mcnemar_exact",
    "mde_factor",
    "metrics_from_strata",
    "transition_counts",
    "transition_index",
]
