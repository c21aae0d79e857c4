"""The record key (model, task, item_id, seed) and the one check that it is unique.

Every consumer that must not see a key twice (importers before writing, compare and the
flipped-item listings before pairing) calls `check_unique_keys`, so the rule and its error
message live here only.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.errors import DataError
from forgetmap.records.schema import KEY_COLUMNS

MAX_EXAMPLES = 5


def key_codes(table: pa.Table) -> np.ndarray:
    """One int64 per row, equal exactly for rows with the same (model, task, item_id, seed)."""
    codes = np.zeros(table.num_rows, np.int64)
    span = 1
    for name in KEY_COLUMNS:
        enc = pc.dictionary_encode(table.column(name)).combine_chunks()
        idx = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), np.int64)
        card = len(enc.dictionary) + 1  # + null
        if span * card >= 2**62:  # compact before the product could overflow
            _, codes = np.unique(codes, return_inverse=True)
            span = int(codes.max()) + 1 if codes.size else 1
        codes = codes * card + (idx + 1)
        span *= card
    return codes


def check_unique_keys(
    table: pa.Table,
    source: str,
    codes: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> None:
    """Raise DataError naming `source`, the number of repeated keys and a few of them when a
    (model, task, item_id, seed) occurs more than once in `table`.

    `codes` (one int64 per row, equal for equal keys) and `order` (their stable argsort) may be
    passed by a caller that already has them (compare's integer frames); otherwise computed.
    """
    if table.num_rows < 2:
        return
    if codes is None:
        codes = key_codes(table)
    if order is None:
        order = np.argsort(codes, kind="stable")
    s = codes[order]
    if not (s[1:] == s[:-1]).any():
        return
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    counts = np.diff(np.r_[starts, s.size])
    dup = np.flatnonzero(counts > 1)
    shown = dup[:MAX_EXAMPLES]
    rows = table.select(list(KEY_COLUMNS)).take(pa.array(order[starts[shown]])).to_pylist()
    examples = "; ".join(
        f"model={r['model']!r} task={r['task']!r} item_id={r['item_id']!r} seed={r['seed']} "
        f"(x{int(c)})"
        for r, c in zip(rows, counts[shown].tolist(), strict=True)
    )
    raise DataError(
        f"{source}: {dup.size} duplicate (model, task, item_id, seed) key(s), e.g. {examples}. "
        "Each item must be recorded once per model and seed; remove the repeated rows or run."
    )
