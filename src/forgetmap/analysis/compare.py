"""`compare`: every forgetting metric for a list of (before, after) model pairs.

Each model's records are read once into sorted integer-keyed arrays (forgetmap.analysis.frames);
a pair is then the pairing join (forgetmap.analysis.pairing), reduced with `bincount`/`reduceat`
to transition counts per (task, seed, k-stratum) and per-item seed tallies, on which numpy
computes the metrics (forgetmap.metrics) and the study's aggregation
(forgetmap.analysis.aggregate). No per-row Python work happens anywhere; pairs are processed in
a thread pool, so 60 pairs of study-scale data take seconds. The result is typed
(forgetmap.analysis.results); formulas and fields: docs/metrics.md.

Tasks the registry marks `in_aggregate=False` (free-form BBH tasks, TruthfulQA MC2) keep their
cells but are left out of categories and total.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.analysis.aggregate import aggregate, group_mean_std, item_view_of_groups
from forgetmap.analysis.frames import ModelFrame, Vocab, build_frames, parallel_map, read_lock
from forgetmap.analysis.pairing import Paired, check_pairs, pair_frames
from forgetmap.analysis.results import (
    AGG_METRICS,
    CELL_COUNTS,
    CELL_FLOATS,
    TASK_METRICS,
    TOTAL,
    CategorySummary,
    Cell,
    Comparison,
    GroupItemView,
    ItemView,
    Mismatch,
    PairResult,
    Pooled,
    Settings,
    Stat,
    TaskSummary,
    Unpaired,
)
from forgetmap.analysis.scorers import scorer_sets, scorer_warnings
from forgetmap.analysis.taskinfo import fallback_category, task_info
from forgetmap.analysis.uncertainty import (
    MDE_ALPHA,
    MDE_POWER,
    PairUncertainty,
    attach,
    pair_patterns,
    pair_uncertainty,
)
from forgetmap.errors import ForgetmapError
from forgetmap.importers import describe_seeds
from forgetmap.metrics import (
    CI_METRICS,
    Patterns,
    SizeTables,
    bootstrap_ci,
    item_view,
    mcnemar_exact,
    metrics_from_strata,
)
from forgetmap.records import ResultsStore

CI_LEVEL = 0.95
#: per-seed category values written to `per_seed`
PER_SEED_METRICS = ("F_true", "BT_true", "acc_pre", "acc_post")
_IV_COUNTS = ("n_items", "consistent_10", "consistent_01", "majority_10", "majority_01")


def _num(x: Any) -> Any:
    """JSON-safe number: python int/float, NaN/inf -> None."""
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return int(x)
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _jl(a: np.ndarray) -> list[Any]:
    """Array -> nested python list for JSON, NaN/inf -> None (vectorised, no per-value calls)."""
    a = np.asarray(a, dtype=np.float64)
    out = a.astype(object)
    out[~np.isfinite(a)] = None
    return out.tolist()


ON_MISMATCH = ("warn", "exclude", "error")


def compare(
    store: ResultsStore | pa.Table,
    pairs: Sequence[tuple[str, str]],
    bootstrap: int = 1000,
    seed: int = 0,
    chance_k: str | int = "item",
    multi_answer: str | None = None,
    on_mismatch: str = "warn",
) -> Comparison:
    """Compare each (before, after) pair of models in a results store (or a records table).

    Per pair (`PairResult`): `cells` (one per task and seed: every docs/metrics.md metric, exact
    McNemar p, bootstrap 95% CIs over items, no_answer flips, NFI), `tasks` (seed-pooled
    McNemar, multi-seed item view, mean/std over seeds), `categories` and `total` (mean/std
    over seeds, std None with < 2 seeds), `unpaired` counts and `warnings` (prompt_hash or
    n_choices differing between sides, a task scored by different filters/scorers on the two
    sides; also issued as Python warnings). `.to_json()` is the
    `compare --json` document. Raises ForgetmapError for unknown models, duplicate records or a
    pair with no common items.

    `chance_k` is the number of options the chance terms and ceilings count (docs/metrics.md):
    `item` (each item's own k, the default), `nominal` (the registry's declared k of the task,
    e.g. BBH's), or an integer N >= 2 for every multiple-choice item (4 reproduces the study's
    convention outside BBH). Free-form items keep no chance term either way.

    `multi_answer` rescoring of letter-set tasks (SALAD-Bench): None keeps `correct` as recorded
    (the protocol's rule at evaluation); `exact_set` or `any_gold` (the study's: every predicted
    letter is gold) recompute it from `pred` and `gold`, so both can be shown side by side.

    Paired rows whose gold, options or question differ between the sides are not the same item
    (`Paired.mismatches`): counted per task in `mismatched` and warned about (`on_mismatch`
    "warn"), left out of the cells and counted in `unpaired.mismatched` ("exclude"), or an error
    ("error"). Rows without a partner are named in `warnings` too.
    """
    if on_mismatch not in ON_MISMATCH:
        raise ForgetmapError(
            f"on_mismatch must be one of {', '.join(ON_MISMATCH)}, got {on_mismatch!r}"
        )
    pairs = check_pairs(pairs)
    rule = check_chance_k(chance_k)
    models = list(dict.fromkeys(m for p in pairs for m in p))
    with read_lock(store, models):  # the files stay as they are until the comparison is done
        if multi_answer is not None:
            store = rescore_letter_sets(store, models, multi_answer)
        frames, vocab = build_frames(store, models)
        grid = _Grid.of(vocab)
        kt = chance_table(vocab, rule)
        jobs = parallel_map(
            lambda p: _pair_counts(
                frames[pairs[p][0]], frames[pairs[p][1]], vocab, grid, p, kt, on_mismatch
            ),
            list(range(len(pairs))),
        )
        cells = _CellArrays.build(jobs, kt, bootstrap, seed)
        ctx = _Context.build(pairs, frames, vocab, grid, cells, jobs, scorer_sets(store, models))
        results = [_pair_result(ctx, p) for p in range(len(pairs))]
    # category / Total CIs, noise floors, MDE (docs/statistics.md); pairs in parallel
    unc = parallel_map(lambda p: _uncertainty(ctx, jobs[p]["patterns"], p), list(range(len(pairs))))
    for r, u in zip(results, unc, strict=True):
        attach(r, u, TOTAL)
    for r in results:
        for w in r.warnings:
            warnings.warn(w, stacklevel=2)
    return Comparison(
        pairs=results,
        settings=Settings(
            bootstrap=int(bootstrap),
            bootstrap_seed=int(seed),
            ci_level=CI_LEVEL,
            mde={"alpha": MDE_ALPHA, "power": MDE_POWER},
            chance_k=None if rule == "item" else rule,
            multi_answer=multi_answer,
        ),
    )


MULTI_ANSWER = ("exact_set", "any_gold")


def rescore_letter_sets(
    source: ResultsStore | pa.Table, models: Sequence[str], multi_answer: str
) -> pa.Table:
    """The records of `models` with `correct` recomputed from pred and gold for the rows of
    letter-set tasks (registry answer_mode letter_set) under the `multi_answer` rule."""
    from forgetmap.suite.extract import is_correct
    from forgetmap.suite.registry import category_for, get_task
    from forgetmap.suite.scoring import scoring_mode

    if multi_answer not in MULTI_ANSWER:
        raise ForgetmapError(
            f"--multi-answer must be one of {', '.join(MULTI_ANSWER)}, got {multi_answer!r}"
        )
    if isinstance(source, ResultsStore):
        table = source.read(models=list(models))
    else:
        table = source.filter(pc.is_in(source.column("model"), pa.array(list(models))))
    tasks = [t for t in pc.unique(table.column("task")).to_pylist() if category_for(t) is not None]
    sets = [t for t in tasks if get_task(t).answer_mode == "letter_set"]
    if not sets:
        return table
    rows = pc.is_in(table.column("task"), pa.array(sets)).to_numpy(zero_copy_only=False)
    mode = scoring_mode(get_task(sets[0]), multi_answer)
    pred = table.column("pred").to_pylist()
    gold = table.column("gold").to_pylist()
    correct = table.column("correct").to_pylist()
    verdict: dict[tuple[str | None, str | None], bool] = {}  # per distinct (pred, gold)
    for i in np.flatnonzero(rows).tolist():
        key = (pred[i], gold[i])
        if key not in verdict:
            verdict[key] = is_correct(pred[i], gold[i], mode)
        correct[i] = verdict[key]
    col = pa.array(correct, table.schema.field("correct").type)
    return table.set_column(table.schema.get_field_index("correct"), "correct", col)


def check_chance_k(value: str | int) -> str | int:
    """`item`, `nominal` or an integer >= 2 (also given as text, e.g. from the CLI)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if value in ("item", "nominal"):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2:
        return value
    raise ForgetmapError(f"--chance-k must be item, nominal or an integer >= 2, got {value!r}")


def declared_k(task: str) -> int | None:
    """The registry's declared number of options of `task` (None: unknown task, or none
    declared because its items differ)."""
    from forgetmap.suite.registry import category_for, get_task

    if category_for(task) is None:
        return None
    spec = get_task(task)
    return spec.k_nominal or spec.k


def chance_table(vocab: Vocab, rule: str | int) -> np.ndarray:
    """k counted by the chance terms per (task, k-stratum): [tasks, strata]; 0 = none."""
    ks = np.asarray(vocab.ks, dtype=np.int64)
    table = np.broadcast_to(ks, (max(len(vocab.tasks), 1), len(ks))).copy()
    if rule == "item":
        return table
    if isinstance(rule, int):
        return np.where(table > 0, rule, 0)
    for t, name in enumerate(vocab.tasks):
        declared = declared_k(name)  # an unknown task keeps its items' k
        if declared:
            table[t] = np.where(ks > 0, declared, 0)
    return table


@dataclass(frozen=True)
class _Grid:
    """Sizes of the integer key space: tasks, seeds, k strata, item ids."""

    T: int
    S: int
    K: int
    NI: int

    @classmethod
    def of(cls, vocab: Vocab) -> _Grid:
        return cls(len(vocab.tasks), max(vocab.n_seeds, 1), len(vocab.ks), max(vocab.n_items, 1))


def _pair_counts(
    fb: ModelFrame,
    fa: ModelFrame,
    vocab: Vocab,
    g: _Grid,
    p: int,
    kt: np.ndarray,
    on_mismatch: str = "warn",
) -> dict[str, Any]:
    """Transition counts per (task, seed, k) cell, no_answer flips, per-task prompt_hash and
    n_choices disagreements, items that are not the same on both sides, and the per-task item
    view of one pair."""
    paired = pair_frames(fb, fa)
    if paired.size == 0:
        raise ForgetmapError(_empty_message(vocab, fb, fa))
    mism = _mismatch_counts(paired, vocab, g, on_mismatch)
    if on_mismatch == "exclude" and mism["excluded"].any():
        paired = paired.subset(~mism["mask"])
        if paired.size == 0:
            raise ForgetmapError(
                f"{fb.model!r} and {fa.model!r}: every paired item differs between the two "
                "sides (gold, options or question), so none is left to compare"
            )
    ib, ia, key = paired.ib, paired.ia, paired.key
    cb, ca = fb.correct[ib], fa.correct[ia]
    trans = 2 * cb.astype(np.int64) + ca
    kb, ka = fb.k_code[ib], fa.k_code[ia]
    kc = np.where(kb > 0, kb, ka)
    ti = key // g.S
    task = ti // g.NI
    cellbin = task * g.S + key % g.S
    full = np.bincount((cellbin * g.K + kc) * 4 + trans, minlength=g.T * g.S * g.K * 4)
    full = full.reshape(g.T * g.S, g.K, 4)
    cells = np.flatnonzero(full.sum(axis=(1, 2)))
    na10 = np.bincount(cellbin, weights=(trans == 2) & fa.no_answer[ia], minlength=g.T * g.S)
    na01 = np.bincount(cellbin, weights=(trans == 1) & fb.no_answer[ib], minlength=g.T * g.S)
    hb, ha = fb.hash_code[ib], fa.hash_code[ia]
    return {
        "dense": full[cells],
        "cells": np.stack([np.full(cells.size, p), cells // g.S, cells % g.S], axis=1),
        "na10": na10[cells],
        "na01": na01[cells],
        "hash": np.bincount(task, weights=(hb >= 0) & (ha >= 0) & (hb != ha), minlength=g.T),
        "kdiff": np.bincount(task, weights=(kb > 0) & (ka > 0) & (kb != ka), minlength=g.T),
        "iv": _task_item_view(paired, task, ti, trans, g.T),
        "patterns": pair_patterns(ti, task, key % g.S, trans, kt[task, kc], g.T, g.S),
        "mismatch": {k: v for k, v in mism.items() if k != "mask"},
        "seeds": (np.unique(fb.key % g.S), np.unique(fa.key % g.S)),
    }


MISMATCH_FIELDS = ("gold", "options", "question")


def _mismatch_counts(paired: Paired, vocab: Vocab, g: _Grid, on_mismatch: str) -> dict[str, Any]:
    """Per task: mismatched items and rows, items per differing field, rows excluded; the row
    mask; and the first example (raised as the error under on_mismatch="error")."""
    fields = paired.mismatches()
    mask = fields["gold"] | fields["options"] | fields["question"]
    ti = paired.key // g.S  # (task, item) code
    task = ti // g.NI
    out: dict[str, Any] = {"mask": mask, "rows": np.bincount(task[mask], minlength=g.T)}

    def items(m: np.ndarray) -> np.ndarray:  # distinct items per task among rows `m`
        return np.bincount(np.unique(ti[m]) // g.NI, minlength=g.T)

    out["items"] = items(mask)
    for name in MISMATCH_FIELDS:
        out[name] = items(fields[name])
    out["excluded"] = out["rows"] if on_mismatch == "exclude" else np.zeros(g.T, np.int64)
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        t, item = int(task[i]), int(ti[i] % g.NI)
        which = [n for n in MISMATCH_FIELDS if fields[n][i]]
        out["example"] = (vocab.tasks[t], vocab.item_ids[item].as_py(), which)
        if on_mismatch == "error":
            b, a = paired.before.model, paired.after.model
            n = int(out["items"].sum())
            raise ForgetmapError(
                f"{b} -> {a}: {n} paired item(s) are not the same item on both sides, e.g. "
                f"task {out['example'][0]} item {out['example'][1]!r}: "
                f"{', '.join(which)} differ(s); pass --on-mismatch warn to compare them anyway "
                "or --on-mismatch exclude to leave them out"
            )
    return out


def _task_item_view(
    paired: Paired, task: np.ndarray, ti: np.ndarray, trans: np.ndarray, n_tasks: int
) -> dict[str, np.ndarray]:
    # rows of one item are contiguous (keys sorted by task, item, seed)
    starts = np.flatnonzero(np.r_[True, ti[1:] != ti[:-1]])
    return item_view(
        task[starts],
        np.diff(np.r_[starts, ti.size]),
        np.add.reduceat(paired.correct_before.astype(np.int64), starts),
        np.add.reduceat(paired.correct_after.astype(np.int64), starts),
        np.add.reduceat((trans == 2).astype(np.int64), starts),
        np.add.reduceat((trans == 1).astype(np.int64), starts),
        n_groups=n_tasks,
    )


@dataclass
class _CellArrays:
    """Every (pair, task, seed) cell of the comparison as parallel arrays."""

    pair: np.ndarray
    task: np.ndarray
    seed: np.ndarray
    met: dict[str, np.ndarray]  # docs/metrics.md values, + F_no_answer, F_answered, p_mcnemar
    ci: dict[str, np.ndarray]  # CI_METRICS -> [cells, 2]
    n10_no_answer: np.ndarray
    n01_no_answer_before: np.ndarray
    tables: SizeTables | None  # the bootstrap's resampling tables, reused by the category CIs

    @classmethod
    def build(
        cls, jobs: list[dict[str, Any]], kt: np.ndarray, bootstrap: int, seed: int
    ) -> _CellArrays:
        dense = np.concatenate([j["dense"] for j in jobs])
        ids = np.concatenate([j["cells"] for j in jobs])
        dk = kt[ids[:, 1]]  # k of each stratum of each cell, under the chance-k rule
        met = metrics_from_strata(dense, dk)
        na10 = np.concatenate([j["na10"] for j in jobs])
        met["F_no_answer"] = na10 / met["n"]
        met["F_answered"] = (met["n10"] - na10) / met["n"]
        met["p_mcnemar"] = mcnemar_exact(met["n01"].astype(np.int64), met["n10"].astype(np.int64))
        # a cell's interval depends only on (seed, its size, its counts)
        tables = SizeTables(bootstrap, seed) if bootstrap > 0 else None
        ci = bootstrap_ci(dense, dk, bootstrap, seed, CI_LEVEL, tables=tables)
        return cls(
            pair=ids[:, 0],
            task=ids[:, 1],
            seed=ids[:, 2],
            met=met,
            ci=ci,
            n10_no_answer=na10,
            n01_no_answer_before=np.concatenate([j["na01"] for j in jobs]),
            tables=tables,
        )


@dataclass
class _Context:
    """What building one PairResult needs, shared by all pairs."""

    pairs: list[tuple[str, str]]
    vocab: Vocab
    grid: _Grid
    cells: _CellArrays
    row_cat: dict[tuple[int, int], str]  # (pair, task) -> category given by the rows
    info: dict[str, tuple[str | None, bool]]  # task -> (registry category, in_aggregate)
    hash_pt: np.ndarray  # per (pair, task): paired rows whose prompt_hash differs
    kdiff_pt: np.ndarray  # per (pair, task): paired rows whose n_choices differs
    mismatch: list[dict[str, Any]]  # per pair: _mismatch_counts (arrays per task)
    seeds_by_pair: list[tuple[list[int], list[int]]]  # per pair: seeds before, seeds after
    iv: dict[str, np.ndarray]  # per (pair, task): item view
    rows_by: dict[str, dict[str, int]]  # model -> task -> rows
    task_stats: dict[str, tuple[list[Any], list[Any]]]  # metric -> (mean, std) per (pair, task)
    task_sums: dict[str, Any]  # per (pair, task): n, n01, n10, p_mcnemar, n10_no_answer
    scorers: dict[tuple[str, str], set[str]]  # (model, task) -> what scored its rows

    @classmethod
    def build(
        cls,
        pairs: list[tuple[str, str]],
        frames: dict[str, ModelFrame],
        vocab: Vocab,
        grid: _Grid,
        cells: _CellArrays,
        jobs: list[dict[str, Any]],
        scorers: dict[tuple[str, str], set[str]],
    ) -> _Context:
        row_cat: dict[tuple[int, int], str] = {}
        for p, (b, a) in enumerate(pairs):
            fb, fa = frames[b].cat_by_task, frames[a].cat_by_task
            cat = np.where(fb >= 0, fb, fa)
            for t in np.flatnonzero(cat >= 0).tolist():
                row_cat[(p, t)] = vocab.categories[cat[t]]
        n_pt = len(pairs) * grid.T
        g_pt = cells.pair * grid.T + cells.task
        stats = group_mean_std({m: cells.met[m] for m in TASK_METRICS}, g_pt, n_pt)

        def pt_sum(v: np.ndarray) -> np.ndarray:
            return np.bincount(g_pt, weights=v, minlength=n_pt).astype(np.int64)

        n01, n10 = pt_sum(cells.met["n01"]), pt_sum(cells.met["n10"])
        ivs = [j["iv"] for j in jobs]
        return cls(
            pairs=pairs,
            vocab=vocab,
            grid=grid,
            cells=cells,
            row_cat=row_cat,
            info=task_info([vocab.tasks[t] for t in sorted(set(cells.task.tolist()))]),
            hash_pt=np.concatenate([j["hash"] for j in jobs]),
            kdiff_pt=np.concatenate([j["kdiff"] for j in jobs]),
            mismatch=[j["mismatch"] for j in jobs],
            seeds_by_pair=[
                (vocab.seeds[j["seeds"][0]].tolist(), vocab.seeds[j["seeds"][1]].tolist())
                for j in jobs
            ],
            iv={name: np.concatenate([v[name] for v in ivs]) for name in ivs[0]},
            rows_by={
                m: {vocab.tasks[t]: int(n) for t, n in enumerate(f.rows_by_task.tolist()) if n}
                for m, f in frames.items()
            },
            task_stats={m: (_jl(mean), _jl(std)) for m, (mean, std) in stats.items()},
            task_sums={
                "n": pt_sum(cells.met["n"]).tolist(),
                "n01": n01.tolist(),
                "n10": n10.tolist(),
                "p_mcnemar": _jl(mcnemar_exact(n01, n10)),
                "n10_no_answer": pt_sum(cells.n10_no_answer).tolist(),
            },
            scorers=scorers,
        )


def _empty_message(vocab: Vocab, fb: ModelFrame, fa: ModelFrame) -> str:
    def short(f: ModelFrame) -> str:
        ts = [vocab.tasks[t] for t in np.flatnonzero(f.rows_by_task).tolist()]
        return ", ".join(ts[:8]) + (f", ... ({len(ts)} tasks)" if len(ts) > 8 else "") or "none"

    def seeds(f: ModelFrame) -> set[int]:
        codes = np.unique(f.key % max(vocab.n_seeds, 1))
        return {int(s) for s in np.asarray(vocab.seeds)[codes].tolist()}

    b, a = fb.model, fa.model
    sb, sa = seeds(fb), seeds(fa)
    why = (
        f" They share no seed: {b} has seeds {describe_seeds(sb)}, {a} has "
        f"{describe_seeds(sa)} (imported runs: seed label = sampling seed + repeat x 10^10, and a "
        "run without a recorded seed is 0, docs/importers.md; --seed N sets it at import)."
        if not sb & sa
        else ""
    )
    return (
        f"{b!r} and {a!r} have no items in common (pairing by task, item_id, seed): "
        f"{b} has tasks {short(fb)}; {a} has tasks {short(fa)}.{why} "
        "Check that both were evaluated on the same tasks, item ids and seeds."
    )


@dataclass
class _PairTasks:
    """The tasks of one pair with their category and aggregate membership."""

    sel: np.ndarray  # this pair's cells
    tasks: list[int]  # task codes, ascending
    category: dict[int, str]
    in_agg: dict[int, bool]


def _pair_tasks(ctx: _Context, p: int) -> _PairTasks:
    sel = np.flatnonzero(ctx.cells.pair == p)
    tasks = np.unique(ctx.cells.task[sel]).tolist()
    category, in_agg = {}, {}
    for t in tasks:
        name = ctx.vocab.tasks[t]
        reg_cat, agg = ctx.info[name]
        category[t] = ctx.row_cat.get((p, t)) or reg_cat or fallback_category(name)
        in_agg[t] = agg
    return _PairTasks(sel, tasks, category, in_agg)


def _uncertainty(ctx: _Context, patterns: Patterns, p: int) -> PairUncertainty:
    """Category / Total CIs, noise floors and MDE of pair p (categories named as in _categories)."""
    pt = _pair_tasks(ctx, p)
    agg = sorted(t for t in pt.tasks if pt.in_agg[t])
    names = sorted({pt.category[t] for t in agg})
    return pair_uncertainty(
        patterns, ctx.vocab.tasks, agg, pt.category, names, ctx.cells.tables, TOTAL
    )


def _pair_result(ctx: _Context, p: int) -> PairResult:
    before, after = ctx.pairs[p]
    pt = _pair_tasks(ctx, p)
    cats, total = _categories(ctx, p, pt)
    unpaired_by_task = _unpaired(ctx, p, pt)
    excluded = int(ctx.mismatch[p]["excluded"].sum())
    seeds = ctx.vocab.seeds.tolist()
    return PairResult(
        before=before,
        after=after,
        seeds=sorted({seeds[s] for s in ctx.cells.seed[pt.sel].tolist()}),
        n_paired=int(ctx.cells.met["n"][pt.sel].sum()),
        cells=_cells(ctx, pt),
        tasks={ctx.vocab.tasks[t]: _task_summary(ctx, p, pt, t) for t in pt.tasks},
        categories=cats,
        total=total,
        unpaired=Unpaired(
            before_only=sum(u.before_only for u in unpaired_by_task.values()),
            after_only=sum(u.after_only for u in unpaired_by_task.values()),
            mismatched=excluded or None,
        ),
        unpaired_by_task=unpaired_by_task,
        excluded_from_aggregate=sorted(ctx.vocab.tasks[t] for t in pt.tasks if not pt.in_agg[t]),
        warnings=_warnings(ctx, p, pt, unpaired_by_task),
        mismatched=_mismatched(ctx, p),
    )


def _mismatched(ctx: _Context, p: int) -> dict[str, Mismatch] | None:
    m = ctx.mismatch[p]
    tasks = np.flatnonzero(m["items"]).tolist()
    if not tasks:
        return None
    return {
        ctx.vocab.tasks[t]: Mismatch(
            items=int(m["items"][t]),
            rows=int(m["rows"][t]),
            gold=int(m["gold"][t]),
            options=int(m["options"][t]),
            question=int(m["question"][t]),
        )
        for t in tasks
    }


def _cells(ctx: _Context, pt: _PairTasks) -> list[Cell]:
    c, sel = ctx.cells, pt.sel
    floats = {m: _jl(c.met[m][sel]) for m in CELL_FLOATS}
    counts = {m: c.met[m][sel].astype(np.int64).tolist() for m in CELL_COUNTS}
    na10 = c.n10_no_answer[sel].astype(np.int64).tolist()
    na01 = c.n01_no_answer_before[sel].astype(np.int64).tolist()
    cis = {m: _jl(c.ci[m][sel]) for m in CI_METRICS}
    rel = {m: _jl(c.met[m][sel]) for m in ("F_rel", "BT_rel")}
    seeds = ctx.vocab.seeds.tolist()
    out = []
    for j, (t, s) in enumerate(zip(c.task[sel].tolist(), c.seed[sel].tolist(), strict=True)):
        out.append(
            Cell(
                task=ctx.vocab.tasks[t],
                seed=seeds[s],
                category=pt.category[t],
                in_aggregate=pt.in_agg[t],
                **{m: counts[m][j] for m in CELL_COUNTS},
                **{m: floats[m][j] for m in CELL_FLOATS},
                n10_no_answer=na10[j],
                n01_no_answer_before=na01[j],
                ci={m: (cis[m][j][0], cis[m][j][1]) for m in CI_METRICS},
                F_rel=rel["F_rel"][j],
                BT_rel=rel["BT_rel"][j],
            )
        )
    return out


def _stats(per: dict[str, tuple[Any, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    return {m: Stat(mean=per[m][0], std=per[m][1]) for m in metrics}


def _categories(
    ctx: _Context, p: int, pt: _PairTasks
) -> tuple[dict[str, CategorySummary], CategorySummary | None]:
    """Categories and total over the pair's aggregate tasks (study aggregation)."""
    agg_tasks = sorted(t for t in pt.tasks if pt.in_agg[t])
    c = ctx.cells
    asel = pt.sel[np.isin(c.task[pt.sel], agg_tasks)]
    if not asel.size:
        return {}, None
    names = sorted({pt.category[t] for t in agg_tasks})
    index = {n: i for i, n in enumerate(names)}
    code = np.array([index[pt.category[t]] for t in c.task[asel].tolist()], dtype=np.int64)
    seeds = ctx.vocab.seeds.tolist()
    per_cat, total = aggregate(
        {m: c.met[m][asel] for m in AGG_METRICS}, code, c.seed[asel], len(names), len(seeds)
    )
    n01 = np.bincount(code, weights=c.met["n01"][asel], minlength=len(names)).astype(np.int64)
    n10 = np.bincount(code, weights=c.met["n10"][asel], minlength=len(names)).astype(np.int64)
    p_cat = mcnemar_exact(n01, n10)
    members = {n: [t for t in agg_tasks if pt.category[t] == n] for n in names}
    T = ctx.grid.T
    views = item_view_of_groups(
        ctx.iv, [[p * T + t for t in members[n]] for n in names] + [[p * T + t for t in agg_tasks]]
    )
    cats = {}
    for n, i in index.items():
        stats = {m: (_num(per_cat[m][1][i]), _num(per_cat[m][2][i])) for m in AGG_METRICS}
        cats[n] = CategorySummary(
            **_stats(stats, AGG_METRICS),
            per_seed={
                m: {
                    str(seeds[s]): _num(per_cat[m][0][i, s])
                    for s in range(len(seeds))
                    if not np.isnan(per_cat[m][0][i, s])
                }
                for m in PER_SEED_METRICS
            },
            n_tasks=len(members[n]),
            tasks=[ctx.vocab.tasks[t] for t in members[n]],
            pooled=Pooled(n01=int(n01[i]), n10=int(n10[i]), p_mcnemar=_num(p_cat[i])),
            item_view=_group_view(views[i]),
        )
    n01t, n10t = int(n01.sum()), int(n10.sum())
    tot = CategorySummary(
        **_stats({m: (_num(total[m][0]), _num(total[m][1])) for m in AGG_METRICS}, AGG_METRICS),
        n_categories=len(names),
        n_tasks=len(agg_tasks),
        pooled=Pooled(n01=n01t, n10=n10t, p_mcnemar=_num(mcnemar_exact(n01t, n10t)[()])),
        item_view=_group_view(views[-1]),
    )
    return cats, tot


def _group_view(v: dict[str, Any]) -> GroupItemView:
    return GroupItemView(**{k: _num(x) for k, x in v.items()})


def _task_summary(ctx: _Context, p: int, pt: _PairTasks, t: int) -> TaskSummary:
    g = p * ctx.grid.T + t
    ts = pt.sel[ctx.cells.task[pt.sel] == t]
    seeds = ctx.vocab.seeds.tolist()
    sums = ctx.task_sums
    iv: dict[str, Any] = {
        k: (int(v[g]) if k in _IV_COUNTS else _num(v[g])) for k, v in ctx.iv.items()
    }  # n_items ... p_mcnemar_majority
    stats: dict[str, Any] = {
        m: Stat(mean=mean[g], std=std[g]) for m, (mean, std) in ctx.task_stats.items()
    }
    return TaskSummary(
        category=pt.category[t],
        in_aggregate=pt.in_agg[t],
        seeds=[seeds[s] for s in ctx.cells.seed[ts].tolist()],
        n=sums["n"][g],
        **stats,
        pooled=Pooled(n01=sums["n01"][g], n10=sums["n10"][g], p_mcnemar=sums["p_mcnemar"][g]),
        n10_no_answer=sums["n10_no_answer"][g],
        item_view=ItemView(**iv),
    )


def _unpaired(ctx: _Context, p: int, pt: _PairTasks) -> dict[str, Unpaired]:
    before, after = ctx.pairs[p]
    by_b, by_a = ctx.rows_by.get(before, {}), ctx.rows_by.get(after, {})
    c = ctx.cells
    paired_task = np.bincount(c.task[pt.sel], weights=c.met["n"][pt.sel], minlength=ctx.grid.T)
    code = {name: i for i, name in enumerate(ctx.vocab.tasks)}
    excluded = ctx.mismatch[p]["excluded"]
    out = {}
    for t in sorted(set(by_b) | set(by_a)):
        paired = int(paired_task[code[t]]) if t in code else 0
        if t in code:  # rows left out as mismatched are counted apart (Unpaired.mismatched)
            paired += int(excluded[code[t]])
        bo, ao = by_b.get(t, 0) - paired, by_a.get(t, 0) - paired
        if bo or ao:
            out[t] = Unpaired(before_only=bo, after_only=ao)
    return out


def _warnings(
    ctx: _Context, p: int, pt: _PairTasks, unpaired_by_task: dict[str, Unpaired]
) -> list[str]:
    before, after = ctx.pairs[p]
    out = []
    bo = sum(u.before_only for u in unpaired_by_task.values())
    ao = sum(u.after_only for u in unpaired_by_task.values())
    if bo or ao:
        sb, sa = ctx.seeds_by_pair[p]
        seeds = (
            f"; seeds before {','.join(map(str, sb))}, after {','.join(map(str, sa))}"
            if sb != sa
            else ""
        )
        tasks = sorted(unpaired_by_task)
        shown = ", ".join(tasks[:5]) + (f", ... ({len(tasks)} tasks)" if len(tasks) > 5 else "")
        out.append(
            f"{before} -> {after}: unpaired rows left out of every metric: {bo} before-only and "
            f"{ao} after-only (no partner with the same task, item_id and seed){seeds}; "
            f"tasks: {shown}"
        )
    m = ctx.mismatch[p]
    for t in np.flatnonzero(m["items"]).tolist():
        name = ctx.vocab.tasks[t]
        what = ", ".join(f"{f} {int(m[f][t])}" for f in MISMATCH_FIELDS if m[f][t])
        ex = m["example"]
        e = f", e.g. item {ex[1]!r} ({', '.join(ex[2])})" if ex[0] == name else ""
        action = (
            "left out of the cells (counted as unpaired)"
            if m["excluded"][t]
            else "compared anyway (--on-mismatch exclude leaves them out)"
        )
        out.append(
            f"{before} -> {after}: {int(m['items'][t])} paired item(s) of task {name} are not "
            f"the same item on both sides ({int(m['rows'][t])} rows; items whose {what} "
            f"differ{e}); {action}"
        )
    for t in pt.tasks:
        g, name = p * ctx.grid.T + t, ctx.vocab.tasks[t]
        if ctx.hash_pt[g] > 0:
            out.append(
                f"{before} -> {after}: prompt_hash differs between the two sides for task {name} "
                f"({int(ctx.hash_pt[g])} paired rows); the two models did not see the same prompts"
            )
        if ctx.kdiff_pt[g] > 0:
            out.append(
                f"{before} -> {after}: n_choices differs between the two sides for task {name} "
                f"({int(ctx.kdiff_pt[g])} paired rows); using the before side's n_choices"
            )
    tasks = [ctx.vocab.tasks[t] for t in pt.tasks]
    return out + scorer_warnings(ctx.scorers, before, after, tasks)


def cells_table(result: Comparison) -> pa.Table:
    """All cells of a comparison as one flat Arrow table (for CSV export)."""
    return result.cells_table()
