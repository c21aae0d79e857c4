"""Layer 5: pairing two models' records and computing/aggregating the forgetting metrics.

Public entry points: `compare` (a typed `Comparison`; `.to_json()` is the `compare --json`
document), `flipped_items` (item-level drill-down), `pair_records`, `read_pairs_file`.
"""

from forgetmap.analysis.compare import compare
from forgetmap.analysis.flips import flipped_items
from forgetmap.analysis.pairing import pair_records, read_pairs_file
from forgetmap.analysis.results import (
    AGG_METRICS,
    TASK_METRICS,
    TOTAL,
    CategorySummary,
    Cell,
    Comparison,
    GroupItemView,
    ItemView,
    PairResult,
    Pooled,
    Settings,
    Stat,
    TaskSummary,
    Unpaired,
)

__all__ = [
    "AGG_METRICS",
    "TASK_METRICS",
    "TOTAL",
    "CategorySummary",
    "Cell",
    "Comparison",
    "GroupItemView",
    "ItemView",
    "PairResult",
    "Pooled",
    "Settings",
    "Stat",
    "TaskSummary",
    "Unpaired",
    "compare",
    "flipped_items",
    "pair_records",
    "read_pairs_file",
]
