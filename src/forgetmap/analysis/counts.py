"""A comparison from transition counts alone: e.g. the study's `comparison_results_all.csv`.

The study's analysis wrote, per (before, after, task, seed), the counts n00, n01, n10, n11
(`forgetmap.importers.post_forget.read_comparison_counts` reads them). Every per-cell metric
and the study's aggregation over categories and seeds depend on those counts only, so
`compare_counts` gives the same cells, task summaries (seed-pooled McNemar included),
categories and total as `compare` would on the records behind them, and the report draws the
study's tables and figures from it. What needs item identities across seeds is not available
and left empty: the multi-seed item views (`n_items` 0), no-answer flips (the counts do not
say), noise floors and category intervals; per-cell bootstrap intervals need only the counts.

Internally each pair's counts become records of two stand-in models, item j of a cell right or
wrong as the counts say (the items of a cell are interchangeable for every per-cell metric), and
go through `compare`, so there is one implementation of the metrics and the aggregation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.analysis.compare import check_chance_k, compare, declared_k
from forgetmap.analysis.results import CategorySummary, Comparison, ItemView, PairResult, Stat
from forgetmap.errors import ForgetmapError

COUNT_COLUMNS = ("n00", "n01", "n10", "n11")
STUDY_RULE = "study"  # chance k as the study's analysis counted it (suite/study_checkout.yaml)
# stand-in model names (replaced by the real ones in the result; names with control characters
# cannot be records: records.names)
_B, _A = "counts:before", "counts:after"


def chance_ks(tasks: list[str], rule: str | int) -> dict[str, int]:
    """k per task for counts without per-item k: an integer for every task, the registry's
    declared k (`nominal`), or the study's rule (4 outside BBH, BBH's declared counts).
    Free-form tasks get 0 (no chance term); a task without a declared k under `nominal` is an
    error naming it."""
    from forgetmap.suite.registry import category_for, get_task
    from forgetmap.suite.study_protocol import declaration

    study = dict(declaration()["scoring"]["chance_k"]) if rule == STUDY_RULE else {}
    out: dict[str, int] = {}
    missing = []
    for task in tasks:
        known = category_for(task) is not None
        if known and get_task(task).free_form:
            out[task] = 0
            continue
        this: Any = rule
        if rule == STUDY_RULE:
            bench = get_task(task).benchmark if known else task.partition(":")[0]
            this = study.get(bench, study["default"])
        if isinstance(this, int):
            out[task] = this
            continue
        declared = declared_k(task)
        if not declared:
            missing.append(task)
        out[task] = int(declared or 0)
    if missing:
        raise ForgetmapError(
            f"--chance-k {rule}: no declared number of options for {', '.join(missing[:5])}; "
            "give --chance-k N"
        )
    return out


def _records(rows: pa.Table, ks: dict[str, int]) -> pa.Table:
    """Two stand-in models' records with exactly the counts of `rows` (one pair)."""
    counts = np.stack([rows.column(c).to_numpy() for c in COUNT_COLUMNS], axis=1).astype(np.int64)
    n = counts.sum(axis=1)
    cell = np.repeat(np.arange(len(n)), n)
    j = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)  # item index within its cell
    edges = np.cumsum(counts, axis=1)[cell]  # ends of the 00, 01, 10, 11 runs
    before = j >= edges[:, 1]
    after = ((j >= edges[:, 0]) & (j < edges[:, 1])) | (j >= edges[:, 2])
    tasks = pc.take(rows.column("task"), pa.array(cell))
    seeds = pc.take(rows.column("seed"), pa.array(cell))
    k = pa.array([ks[t] or None for t in tasks.to_pylist()], pa.int32())
    common = {
        "task": tasks,
        "item_id": pa.array(j.astype(str)),
        "seed": seeds,
        "n_choices": k,
        "extract_status": pa.array(["ok"] * len(j)),
    }
    return pa.concat_tables(
        [
            pa.table({"model": pa.array([name] * len(j)), **common, "correct": pa.array(side)})
            for name, side in ((_B, before), (_A, after))
        ]
    )


def _no_items(view: ItemView) -> Any:
    """The same kind of item view, saying that no items were seen (n_items 0, rates None)."""
    return type(view)(
        n_items=0,
        p_pre_mean=None,
        p_post_mean=None,
        expected_P10=None,
        expected_P01=None,
        consistent_10=0,
        consistent_01=0,
        majority_10=0,
        majority_01=0,
        p_mcnemar_majority=None,
    )


def _plain(summary: CategorySummary) -> CategorySummary:
    """A category without what needs items: intervals, item view, excess over noise, MDE."""
    out = replace(
        summary,
        item_view=_no_items(summary.item_view),
        F_excess=None,
        BT_excess=None,
        mde_F_true=None,
    )
    for name, value in vars(out).items():
        if isinstance(value, Stat):
            setattr(out, name, replace(value, ci95=None))
    return out


def compare_counts(
    counts: pa.Table,
    chance_k: str | int = STUDY_RULE,
    source: str = "counts",
    pairs: list[tuple[str, str]] | None = None,
) -> Comparison:
    """A Comparison from counts (columns before, after, task, seed, n00, n01, n10, n11).

    `chance_k`: `study` (default: 4 outside BBH, BBH's declared counts, as the study's CSVs),
    `nominal` or an integer; `pairs`: which (before, after) to take, in this order (default:
    every pair of the table in first-seen order)."""
    rule = chance_k if chance_k == STUDY_RULE else check_chance_k(chance_k)
    if rule == "item":
        raise ForgetmapError("--chance-k item needs records; counts carry no per-item k")
    missing = [
        c
        for c in ("before", "after", "task", "seed", *COUNT_COLUMNS)
        if c not in counts.column_names
    ]
    if missing:
        raise ForgetmapError(f"{source}: missing column(s) {', '.join(missing)}")
    have = list(
        dict.fromkeys(
            zip(
                counts.column("before").to_pylist(), counts.column("after").to_pylist(), strict=True
            )
        )
    )
    wanted = pairs if pairs is not None else have
    unknown = [p for p in wanted if p not in have]
    if unknown:
        b, a = unknown[0]
        raise ForgetmapError(f"{source}: no counts for the pair {b} -> {a}")
    ks = chance_ks(sorted(set(counts.column("task").to_pylist())), rule)
    note = (
        f"{source}: from aggregate counts: item views, no-answer flips, noise floors and "
        "intervals need item-level records and are not available"
    )
    results: list[PairResult] = []
    for before, after in wanted:
        mask = pc.and_(
            pc.equal(counts.column("before"), before), pc.equal(counts.column("after"), after)
        )
        rows = counts.filter(mask)
        pr = compare(_records(rows, ks), [(_B, _A)], bootstrap=0).pairs[0]
        tasks = {
            t: replace(s, item_view=_no_items(s.item_view), noise_floor=None)
            for t, s in pr.tasks.items()
        }
        results.append(
            replace(
                pr,
                before=before,
                after=after,
                tasks=tasks,
                categories={c: _plain(s) for c, s in pr.categories.items()},
                total=_plain(pr.total) if pr.total is not None else None,
                noise_floor=None,
                warnings=[note],
            )
        )
    base = compare(_records(counts.slice(0, 1), ks), [(_B, _A)], bootstrap=0).settings
    settings = replace(base, chance_k=rule, extra={"source": source})
    return Comparison(pairs=results, settings=settings)


__all__ = ["STUDY_RULE", "chance_ks", "compare_counts"]
