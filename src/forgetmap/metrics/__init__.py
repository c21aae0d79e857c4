"""Layer 2: pure numpy forgetting metrics (DESIGN.md section 4). No I/O, no table libraries."""

from forgetmap.metrics.bootstrap import CI_METRICS, bootstrap_ci
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
from forgetmap.metrics.items import ITEM_VIEW_NAMES, item_view
from forgetmap.metrics.mcnemar import mcnemar_exact

__all__ = [
    "CI_METRICS",
    "ITEM_VIEW_NAMES",
    "METRIC_NAMES",
    "bootstrap_ci",
    "cell_metrics",
    "densify_strata",
    "has_k",
    "item_view",
    "items_metrics",
    "mcnemar_exact",
    "metrics_from_strata",
    "transition_counts",
    "transition_index",
]
