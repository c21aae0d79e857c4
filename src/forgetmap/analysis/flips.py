"""Item-level drill-down: the items that flipped between two models, with both answers.

Built on the pairing join (`forgetmap.analysis.pairing`): which rows flipped is decided on the
integer frames; record text (responses, questions) is then read only for the rows listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.analysis.frames import read_lock
from forgetmap.analysis.pairing import Paired, pair_models
from forgetmap.records import ResultsStore

FLIP_LABELS = ("0->1", "1->0")  # indexed by correct_before
_FLIP_COLUMNS = [
    "task",
    "item_id",
    "seed",
    "category",
    "n_choices",
    "gold",
    "pred",
    "extract_status",
    "response",
    "question",
]
_SHOWN_COLUMNS = [
    "task",
    "item_id",
    "seed",
    "question",
    "gold",
    "choices",
    "category",
    "pred",
    "extract_status",
    "extract_rule",
    "response",
]


def flipped_items(source: ResultsStore | pa.Table, before: str, after: str) -> pa.Table:
    """Every paired (task, item_id, seed) whose correctness changed from `before` to `after`.

    Columns: task, item_id, seed, category, flip ('1->0' forgotten, '0->1' gained), n_choices,
    gold, pred_before/after, status_before/after, response_before/after, question; ordered by
    task, item_id, seed.
    """
    with read_lock(source, [before, after]):  # responses are read after the pairing
        paired, _ = pair_models(source, before, after)
        return _flip_table(paired, np.flatnonzero(paired.flipped()))


def _flip_table(paired: Paired, sel: np.ndarray) -> pa.Table:
    sides = paired.take(_FLIP_COLUMNS, sel)
    b, a = sides["before"], sides["after"]
    return pa.table(
        {
            "task": b["task"],
            "item_id": b["item_id"],
            "seed": b["seed"],
            "category": pc.coalesce(b["category"], a["category"]),
            "flip": _flip_labels(paired, sel),
            "n_choices": pc.coalesce(b["n_choices"], a["n_choices"]),
            "gold": b["gold"],
            "pred_before": b["pred"],
            "pred_after": a["pred"],
            "status_before": b["extract_status"],
            "status_after": a["extract_status"],
            "response_before": b["response"],
            "response_after": a["response"],
            "question": pc.coalesce(b["question"], a["question"]),
        }
    )


def _flip_labels(paired: Paired, sel: np.ndarray) -> pa.Array:
    """'1->0' / '0->1' for flipped rows, null where the row did not flip."""
    cb, ca = paired.correct_before[sel], paired.correct_after[sel]
    labels = np.array(FLIP_LABELS, dtype=object)[cb.astype(np.int64)]
    return pa.array(labels, pa.string(), mask=cb == ca)


@dataclass
class FlipListing:
    """What the report lists for a pair: every flip, the flipped items ranked, and for the first
    items every paired seed of both models."""

    flips: pa.Table  # = flipped_items(...)
    items: pa.Table  # task, item_id, n_forgotten, n_gained, rank (0 = listed first)
    shown: pa.Table  # one row per (shown item, paired seed), see flip_listing


def flip_listing(
    source: ResultsStore | pa.Table,
    before: str,
    after: str,
    cap: int,
    response_tail: int,
) -> FlipListing:
    """Flips of a pair and the first `cap` items in rank order with every paired seed.

    Items flipped the same way on the most seeds come first (consistent flips are the signal,
    one-seed flips are often sampling noise); forgotten before gained at equal counts; then by
    task and item_id. `shown` has, per seed of those items (flipped or not): task, item_id,
    seed, flip (null when that seed did not flip), n_forgotten, n_gained, question, gold,
    choices, category, before/after_correct, _pred, _status, _rule, _response (the last
    `response_tail` characters, where the answer is) and _len (full length).
    """
    with read_lock(source, [before, after]):  # rows are read again after the pairing
        return _flip_listing(source, before, after, cap, response_tail)


def _flip_listing(
    source: ResultsStore | pa.Table, before: str, after: str, cap: int, response_tail: int
) -> FlipListing:
    paired, vocab = pair_models(source, before, after)
    item = paired.key // max(vocab.n_seeds, 1)  # (task, item) code, ordered like its names
    flipped = np.flatnonzero(paired.flipped())
    items, inv = np.unique(item[flipped], return_inverse=True)
    n_forgotten = np.bincount(inv, weights=paired.correct_before[flipped], minlength=items.size)
    n_forgotten = n_forgotten.astype(np.int64)
    n_gained = np.bincount(inv, minlength=items.size) - n_forgotten
    order = np.lexsort((items, -n_forgotten, -np.maximum(n_forgotten, n_gained)))
    rank = np.empty(items.size, np.int64)
    rank[order] = np.arange(items.size)
    first_row = flipped[np.unique(inv, return_index=True)[1]]
    names = paired.take(["task", "item_id"], first_row[order])["before"]
    ranked = pa.table(
        {
            "task": names["task"],
            "item_id": names["item_id"],
            "n_forgotten": n_forgotten[order],
            "n_gained": n_gained[order],
            "rank": np.arange(items.size, dtype=np.int64),
        }
    )
    top = items[order[:cap]]
    rows = np.flatnonzero(np.isin(item, top))
    item_rank = rank[np.searchsorted(items, item[rows])]
    rows = rows[np.lexsort((paired.key[rows], item_rank))]
    g = np.searchsorted(items, item[rows])
    return FlipListing(
        flips=_flip_table(paired, flipped),
        items=ranked,
        shown=_shown_table(paired, rows, n_forgotten[g], n_gained[g], response_tail),
    )


def _shown_table(
    paired: Paired, rows: np.ndarray, nf: np.ndarray, ng: np.ndarray, tail: int
) -> pa.Table:
    sides = paired.take(_SHOWN_COLUMNS, rows)
    b, a = sides["before"], sides["after"]
    cols: dict[str, pa.Array | pa.ChunkedArray | np.ndarray] = {
        "task": b["task"],
        "item_id": b["item_id"],
        "seed": b["seed"],
        "flip": _flip_labels(paired, rows),
        "n_forgotten": nf,
        "n_gained": ng,
        "question": pc.coalesce(b["question"], a["question"]),
        "gold": pc.coalesce(b["gold"], a["gold"]),
        "choices": b["choices"],
        "category": pc.coalesce(b["category"], a["category"]),
        "before_correct": paired.correct_before[rows],
        "after_correct": paired.correct_after[rows],
    }
    for field in ("pred", "status", "rule"):
        col = {"status": "extract_status", "rule": "extract_rule"}.get(field, field)
        cols[f"before_{field}"], cols[f"after_{field}"] = b[col], a[col]
    for side, t in (("before", b), ("after", a)):
        cols[f"{side}_response"] = pc.utf8_slice_codeunits(t["response"], start=-tail)
    for side, t in (("before", b), ("after", a)):
        cols[f"{side}_len"] = pc.utf8_length(t["response"])
    return pa.table(cols)
