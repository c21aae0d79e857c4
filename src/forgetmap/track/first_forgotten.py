"""Items forgotten for good: "first forgotten at step" per item.

Definition (docs/tracking.md). An item's state in a model is its seed majority: right when more
than half of its seeds are correct, wrong when fewer than half are (an exact tie is neither; with
`loglik` elicitation every seed is the same). An item is *forgotten at step s* when it is right
in the base, wrong at checkpoint s and wrong at every later checkpoint up to the last one
evaluated, and s is the earliest such step; an item that comes back (right, tied or missing at a
later checkpoint) is not listed. Reading all records at once, the steps are columns of an
items x checkpoints matrix; the "stays wrong" test is a reversed cumulative AND (numpy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.records import ResultsStore

COLUMNS = ["model", "task", "item_id", "seed", "correct", "category", "question"]
OUT_SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("item_id", pa.string()),
        ("category", pa.string()),
        ("first_forgotten_step", pa.int64()),
        ("n_checkpoints_wrong", pa.int64()),
        ("p_correct_base", pa.float64()),
        ("p_correct_last", pa.float64()),
        ("question", pa.string()),
    ]
)


def first_forgotten(
    store: ResultsStore, base: str, checkpoints: Sequence[tuple[int, str]]
) -> pa.Table:
    """One row per item forgotten for good (see the module docstring), ordered by step, task and
    item; `checkpoints` are (step, model name) in step order."""
    names = [base] + [m for _, m in checkpoints]
    t = store.read(models=names, columns=COLUMNS)
    if t.num_rows == 0 or not checkpoints:
        return OUT_SCHEMA.empty_table()
    key = pc.binary_join_element_wise(t.column("task"), t.column("item_id"), "\x1f")
    enc = pc.dictionary_encode(key.combine_chunks())
    item = enc.indices.to_numpy().astype(np.int64)
    col = pc.index_in(t.column("model"), value_set=pa.array(names)).to_numpy()
    n_items, n_cols = len(enc.dictionary), len(names)
    flat = item * n_cols + col
    correct = t.column("correct").to_numpy(zero_copy_only=False).astype(float)
    right = np.bincount(flat, weights=correct, minlength=n_items * n_cols)
    seeds = np.bincount(flat, minlength=n_items * n_cols).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (right / seeds).reshape(n_items, n_cols)  # NaN where an item was not evaluated
    wrong = p[:, 1:] < 0.5  # NaN compares False: a missing item is not "still wrong"
    stays = np.logical_and.accumulate(wrong[:, ::-1], axis=1)[:, ::-1]
    hit = (p[:, 0] > 0.5) & stays.any(axis=1)
    rows = np.flatnonzero(hit)
    first = stays[rows].argmax(axis=1)
    steps = np.array([s for s, _ in checkpoints], dtype=np.int64)
    # task, item, category and question of each listed item, from its first record
    _, first_row = np.unique(item, return_index=True)  # every item index 0..n-1 occurs
    take = pa.array(first_row[rows])
    out = pa.table(
        {
            "task": t.column("task").take(take),
            "item_id": t.column("item_id").take(take),
            "category": t.column("category").take(take),
            "first_forgotten_step": steps[first],
            "n_checkpoints_wrong": wrong[rows].sum(axis=1).astype(np.int64),
            "p_correct_base": p[rows, 0],
            "p_correct_last": p[rows, -1],
            "question": t.column("question").take(take),
        },
        schema=OUT_SCHEMA,
    )
    order = [("first_forgotten_step", "ascending"), ("task", "ascending"), ("item_id", "ascending")]
    return out.sort_by(order)
