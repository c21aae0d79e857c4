"""Layer 5: pairing two models' records and computing/aggregating the forgetting metrics.

Public entry points: `compare` (the DESIGN section-9 JSON for a list of pairs), `flipped_items`
(item-level drill-down), `read_pairs_file`, `cells_table` (flat per-cell table for CSV).
"""

from forgetmap.analysis.compare import AGG_METRICS, cells_table, compare
from forgetmap.analysis.flips import flipped_items
from forgetmap.analysis.pairing import pair_records, read_pairs_file

__all__ = [
    "AGG_METRICS",
    "cells_table",
    "compare",
    "flipped_items",
    "pair_records",
    "read_pairs_file",
]
