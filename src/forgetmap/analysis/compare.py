"""`compare`: every forgetting metric for a list of (before, after) model pairs.

Each model's records are read once into sorted integer-keyed arrays (forgetmap.analysis.frames);
a pair is then a `searchsorted` join on those keys, reduced with `bincount`/`reduceat` to
transition counts per (task, seed, k-stratum) and per-item seed tallies, on which numpy computes the
metrics (forgetmap.metrics) and the study's aggregation. No per-row Python work happens anywhere;
models and pairs are processed in a thread pool, so 60 pairs of study-scale data take seconds.

Aggregation (exactly as the study): for each seed, the mean of the per-task values of the tasks in
a category; then mean and sample std (ddof=1) of those per-seed values over seeds. Total: per seed,
the mean over categories; then mean/std over seeds. Tasks the registry marks `in_aggregate=False`
(free-form BBH tasks, TruthfulQA MC2) keep their cells but are left out of categories and total.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from forgetmap.analysis.frames import (
    ModelFrame,
    Vocab,
    build_frames,
    decode_key,
    duplicate_keys,
    parallel_map,
)
from forgetmap.analysis.pairing import check_pairs
from forgetmap.analysis.taskinfo import fallback_category, task_info
from forgetmap.errors import ForgetmapError
from forgetmap.metrics import (
    CI_METRICS,
    METRIC_NAMES,
    bootstrap_ci,
    item_view,
    mcnemar_exact,
    metrics_from_strata,
)
from forgetmap.records import ResultsStore

CI_LEVEL = 0.95

#: Per-cell values averaged into categories and the total (mean and std over seeds).
AGG_METRICS: tuple[str, ...] = (
    "F_true",
    "BT_true",
    "acc_pre",
    "acc_post",
    "acc_change",
    "F",
    "BT",
    "F_chance",
    "BT_chance",
    "F_max",
    "BT_max",
    "conventional",
    "NFI",
    "F_no_answer",
    "F_answered",
)

_COUNT_COLUMNS = ("n", "n00", "n01", "n10", "n11")
_CELL_FLOAT = (
    *(m for m in METRIC_NAMES if m not in _COUNT_COLUMNS),
    "F_no_answer",
    "F_answered",
    "p_mcnemar",
)

_Q_STRATA = """
SELECT pair_id, task, seed, coalesce(k, 0) AS k,
       count(*) FILTER (WHERE NOT cb AND NOT ca) AS n00,
       count(*) FILTER (WHERE NOT cb AND ca) AS n01,
       count(*) FILTER (WHERE cb AND NOT ca) AS n10,
       count(*) FILTER (WHERE cb AND ca) AS n11,
       count(*) FILTER (WHERE cb AND NOT ca AND sa = 'no_answer') AS n10_no_answer,
       count(*) FILTER (WHERE NOT cb AND ca AND sb = 'no_answer') AS n01_no_answer_before,
       count(*) FILTER (WHERE hash_differs) AS n_hash_differs,
       count(*) FILTER (WHERE k_differs) AS n_k_differs,
       min(cat) AS cat
FROM j GROUP BY pair_id, task, seed, coalesce(k, 0)
ORDER BY pair_id, task, seed, k
"""

_Q_ITEMS = """
SELECT pair_id, task, s, cp, cq, f10, f01, count(*) AS w FROM (
    SELECT pair_id, task, item_id, count(*) AS s,
           sum(cb::INTEGER) AS cp, sum(ca::INTEGER) AS cq,
           sum((cb AND NOT ca)::INTEGER) AS f10, sum((NOT cb AND ca)::INTEGER) AS f01
    FROM j GROUP BY pair_id, task, item_id
) GROUP BY ALL
"""


def _num(x: Any) -> Any:
    """JSON-safe number: python int/float, NaN/inf -> None."""
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return int(x)
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _jl(a: np.ndarray) -> list[Any]:
    """Array -> nested python list for JSON, NaN/inf -> None (vectorised, no per-value calls)."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isfinite(a), a, None).tolist()


def _mean_std(per_seed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std (ddof=1) over the last axis ignoring NaN; std NaN with < 2 values."""
    ok = ~np.isnan(per_seed)
    cnt = ok.sum(axis=-1)
    filled = np.where(ok, per_seed, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=-1) / cnt
        dev = np.where(ok, per_seed - mean[..., None], 0.0)
        std = np.sqrt((dev**2).sum(axis=-1) / (cnt - 1))
    mean = np.where(cnt > 0, mean, np.nan)
    std = np.where(cnt >= 2, std, np.nan)
    return mean, std


def aggregate(
    values: dict[str, np.ndarray], cat: np.ndarray, seed: np.ndarray, n_cat: int, n_seed: int
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, tuple[float, float]]]:
    """Study aggregation of per-cell values (cells already restricted to aggregate tasks).

    Returns ({metric: (per_seed[n_cat, n_seed], mean[n_cat], std[n_cat])},
    {metric: (total_mean, total_std)}). NaN cell values (e.g. NFI with no errors) are skipped.
    """
    cats: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    total: dict[str, tuple[float, float]] = {}
    key = cat * n_seed + seed
    for m, v in values.items():
        ok = ~np.isnan(v)
        s = np.bincount(key[ok], weights=v[ok], minlength=n_cat * n_seed)
        c = np.bincount(key[ok], minlength=n_cat * n_seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_seed = np.where(c > 0, s / np.maximum(c, 1), np.nan).reshape(n_cat, n_seed)
        mean, std = _mean_std(per_seed)
        cats[m] = (per_seed, mean, std)
        with np.errstate(invalid="ignore"):
            okc = ~np.isnan(per_seed)
            tot_seed = np.where(
                okc.any(axis=0),
                np.where(okc, per_seed, 0).sum(axis=0) / np.maximum(okc.sum(axis=0), 1),
                np.nan,
            )
        tm, ts = _mean_std(tot_seed)
        total[m] = (float(tm), float(ts))
    return cats, total


def compare(
    store: ResultsStore | pa.Table,
    pairs: Sequence[tuple[str, str]],
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare each (before, after) pair; returns the DESIGN section-9 `compare --json` dict.

    Per pair: `cells` (one per task and seed, all section-4 metrics plus exact McNemar p, bootstrap
    95% CIs over items, no_answer flips, NFI), `tasks` (seed-pooled McNemar, multi-seed item view,
    mean/std over seeds), `categories` and `total` ({metric: {mean, std}}, std None with < 2
    seeds), `unpaired` counts, and `warnings` (prompt_hash or n_choices differing between sides).
    Raises ForgetmapError for unknown models, duplicate records or a pair with no common items.
    """
    pairs = check_pairs(pairs)
    models = list(dict.fromkeys(m for p in pairs for m in p))
    frames, vocab = build_frames(store, models)
    for m in models:
        dup = duplicate_keys(frames[m])
        if dup.size:
            ex = "; ".join(
                "{} item {!r} seed {}".format(*decode_key(k, vocab)) for k in dup[:5].tolist()
            )
            raise ForgetmapError(
                f"{dup.size} duplicate (model, task, item_id, seed) key(s) for model {m!r}, e.g. "
                f"{ex}. Each item must be recorded once per model and seed; remove the repeated "
                "run or rows."
            )
    T, S, K = len(vocab.tasks), max(vocab.n_seeds, 1), len(vocab.ks)
    NI = max(vocab.n_items, 1)
    P = len(pairs)

    def pair_job(p: int) -> dict[str, Any]:
        b, a = pairs[p]
        fb, fa = frames[b], frames[a]
        if fa.key.size == 0 or fb.key.size == 0:
            raise ForgetmapError(_empty_message(frames, vocab, b, a))
        pos = np.minimum(np.searchsorted(fa.key, fb.key), fa.key.size - 1)
        ib = np.flatnonzero(fa.key[pos] == fb.key)
        if ib.size == 0:
            raise ForgetmapError(_empty_message(frames, vocab, b, a))
        ia = pos[ib]
        key = fb.key[ib]
        cb, ca = fb.correct[ib], fa.correct[ia]
        trans = 2 * cb.astype(np.int64) + ca
        kb, ka = fb.k_code[ib], fa.k_code[ia]
        kc = np.where(kb > 0, kb, ka)
        ti = key // S
        task = ti // NI
        cellbin = task * S + key % S
        full = np.bincount((cellbin * K + kc) * 4 + trans, minlength=T * S * K * 4)
        full = full.reshape(T * S, K, 4)
        cells = np.flatnonzero(full.sum(axis=(1, 2)))
        na10 = np.bincount(cellbin, weights=(trans == 2) & fa.no_answer[ia], minlength=T * S)
        na01 = np.bincount(cellbin, weights=(trans == 1) & fb.no_answer[ib], minlength=T * S)
        hb, ha = fb.hash_code[ib], fa.hash_code[ia]
        # rows of one item are contiguous (keys sorted by task, item, seed)
        starts = np.flatnonzero(np.r_[True, ti[1:] != ti[:-1]])
        return {
            "dense": full[cells],
            "cells": np.stack([np.full(cells.size, p), cells // S, cells % S], axis=1),
            "na10": na10[cells],
            "na01": na01[cells],
            "hash": np.bincount(task, weights=(hb >= 0) & (ha >= 0) & (hb != ha), minlength=T),
            "kdiff": np.bincount(task, weights=(kb > 0) & (ka > 0) & (kb != ka), minlength=T),
            "iv": item_view(
                task[starts],
                np.diff(np.r_[starts, ti.size]),
                np.add.reduceat(cb.astype(np.int64), starts),
                np.add.reduceat(ca.astype(np.int64), starts),
                np.add.reduceat((trans == 2).astype(np.int64), starts),
                np.add.reduceat((trans == 1).astype(np.int64), starts),
                n_groups=T,
            ),
        }

    jobs = parallel_map(pair_job, list(range(P)))
    dense_parts = [j["dense"] for j in jobs]
    cell_parts = [j["cells"] for j in jobs]
    na10_parts = [j["na10"] for j in jobs]
    na01_parts = [j["na01"] for j in jobs]
    hash_pt = np.concatenate([j["hash"] for j in jobs])
    kdiff_pt = np.concatenate([j["kdiff"] for j in jobs])
    iv_parts = [j["iv"] for j in jobs]
    dense = np.concatenate(dense_parts)
    cell_ids = np.concatenate(cell_parts)
    c_pair, c_task, c_seed = cell_ids[:, 0], cell_ids[:, 1], cell_ids[:, 2]
    C = dense.shape[0]
    dk = np.broadcast_to(vocab.ks, (C, K))
    met = metrics_from_strata(dense, dk)
    n10_na = np.concatenate(na10_parts)
    n01_na_b = np.concatenate(na01_parts)
    met["F_no_answer"] = n10_na / met["n"]
    met["F_answered"] = (met["n10"] - n10_na) / met["n"]
    met["p_mcnemar"] = mcnemar_exact(met["n01"].astype(np.int64), met["n10"].astype(np.int64))

    # per-cell CIs; a cell's interval depends only on (seed, its size, its counts)
    ci = bootstrap_ci(dense, dk, bootstrap, seed, CI_LEVEL)

    iv = {name: np.concatenate([part[name] for part in iv_parts]) for name in iv_parts[0]}
    row_cat: dict[tuple[int, int], str] = {}
    for p, (b, a) in enumerate(pairs):
        cat = np.where(frames[b].cat_by_task >= 0, frames[b].cat_by_task, frames[a].cat_by_task)
        for t in np.flatnonzero(cat >= 0).tolist():
            row_cat[(p, t)] = vocab.categories[cat[t]]
    used = sorted(set(c_task.tolist()))
    info = task_info([vocab.tasks[t] for t in used])
    rows_by = {
        m: {vocab.tasks[t]: int(n) for t, n in enumerate(f.rows_by_task.tolist()) if n}
        for m, f in frames.items()
    }
    seed_list = vocab.seeds.tolist()
    g_pt = c_pair * T + c_task
    task_stats = {
        m: (_jl(mean), _jl(std)) for m, (mean, std) in _group_mean_std(met, g_pt, P * T).items()
    }

    def pt_sum(v: np.ndarray) -> np.ndarray:
        return np.bincount(g_pt, weights=v, minlength=P * T).astype(np.int64)

    n01_pt, n10_pt = pt_sum(met["n01"]), pt_sum(met["n10"])
    task_lists = {
        "n": pt_sum(met["n"]).tolist(),
        "n01": n01_pt.tolist(),
        "n10": n10_pt.tolist(),
        "p_mcnemar": _jl(mcnemar_exact(n01_pt, n10_pt)),
        "n10_no_answer": pt_sum(n10_na).tolist(),
        "item_view": {
            k: (v.astype(np.int64).tolist() if k in _IV_COUNTS else _jl(v)) for k, v in iv.items()
        },
    }
    out_pairs = []
    for p, (b, a) in enumerate(pairs):
        sel = np.flatnonzero(c_pair == p)
        out_pairs.append(
            _pair_result(
                p, b, a, sel, met, ci, n10_na, n01_na_b, c_task, c_seed, vocab.tasks, seed_list,
                row_cat, info, hash_pt, kdiff_pt, iv, rows_by, task_stats, task_lists,
            )
        )  # fmt: skip
    return {
        "pairs": out_pairs,
        "settings": {
            "bootstrap": int(bootstrap),
            "bootstrap_seed": int(seed),
            "ci_level": CI_LEVEL,
        },
    }


def _empty_message(frames: dict[str, ModelFrame], vocab: Vocab, b: str, a: str) -> str:
    def short(m: str) -> str:
        ts = [vocab.tasks[t] for t in np.flatnonzero(frames[m].rows_by_task).tolist()]
        return ", ".join(ts[:8]) + (f", ... ({len(ts)} tasks)" if len(ts) > 8 else "") or "none"

    return (
        f"{b!r} and {a!r} have no items in common (pairing by task, item_id, seed): "
        f"{b} has tasks {short(b)}; {a} has tasks {short(a)}. "
        "Check that both were evaluated on the same tasks, item ids and seeds."
    )


def _pair_result(
    p: int,
    before: str,
    after: str,
    sel: np.ndarray,
    met: dict[str, np.ndarray],
    ci: dict[str, np.ndarray],
    n10_na: np.ndarray,
    n01_na_b: np.ndarray,
    c_task: np.ndarray,
    c_seed: np.ndarray,
    task_names: list[str],
    seed_list: list[int],
    row_cat: dict[tuple[int, int], str],
    info: dict[str, tuple[str | None, bool]],
    hash_pt: np.ndarray,
    kdiff_pt: np.ndarray,
    iv: dict[str, np.ndarray],
    rows_by: dict[str, dict[str, int]],
    task_stats: dict[str, tuple[list[Any], list[Any]]],
    task_lists: dict[str, Any],
) -> dict[str, Any]:
    n_t = len(task_names)
    tasks_here = np.unique(c_task[sel])
    cat_of: dict[int, str] = {}
    in_agg: dict[int, bool] = {}
    for t in tasks_here.tolist():
        name = task_names[t]
        reg_cat, agg = info[name]
        cat_of[t] = row_cat.get((p, t)) or reg_cat or fallback_category(name)
        in_agg[t] = agg

    # cells
    cells: list[dict[str, Any]] = []
    cols = {m: _jl(met[m][sel]) for m in _CELL_FLOAT}
    ints = {m: met[m][sel].astype(np.int64).tolist() for m in _COUNT_COLUMNS}
    na = n10_na[sel].astype(np.int64).tolist()
    nab = n01_na_b[sel].astype(np.int64).tolist()
    cis = {m: _jl(ci[m][sel]) for m in CI_METRICS}
    for j, (t, s) in enumerate(zip(c_task[sel].tolist(), c_seed[sel].tolist(), strict=True)):
        cell = {
            "task": task_names[t],
            "seed": seed_list[s],
            "category": cat_of[t],
            "in_aggregate": in_agg[t],
        }
        for m in _COUNT_COLUMNS:
            cell[m] = ints[m][j]
        for m in _CELL_FLOAT:
            cell[m] = cols[m][j]
        cell["n10_no_answer"] = na[j]
        cell["n01_no_answer_before"] = nab[j]
        cell["ci"] = {m: cis[m][j] for m in CI_METRICS}
        cells.append(cell)

    # categories and total (aggregate tasks only)
    agg_tasks = sorted(t for t in tasks_here.tolist() if in_agg[t])
    cat_names = sorted({cat_of[t] for t in agg_tasks})
    cat_idx = {c: i for i, c in enumerate(cat_names)}
    asel = sel[np.isin(c_task[sel], agg_tasks)]
    cats_json: dict[str, Any] = {}
    total_json: dict[str, Any] = {}
    if asel.size:
        ccode = np.array([cat_idx[cat_of[t]] for t in c_task[asel].tolist()], dtype=np.int64)
        per_cat, total = aggregate(
            {m: met[m][asel] for m in AGG_METRICS},
            ccode,
            c_seed[asel],
            len(cat_names),
            len(seed_list),
        )
        n01c = np.bincount(ccode, weights=met["n01"][asel], minlength=len(cat_names))
        n10c = np.bincount(ccode, weights=met["n10"][asel], minlength=len(cat_names))
        pc_cat = mcnemar_exact(n01c.astype(np.int64), n10c.astype(np.int64))
        for c, i in cat_idx.items():
            tasks_c = [t for t in agg_tasks if cat_of[t] == c]
            entry: dict[str, Any] = {
                m: {"mean": _num(per_cat[m][1][i]), "std": _num(per_cat[m][2][i])}
                for m in AGG_METRICS
            }
            entry["per_seed"] = {
                m: {
                    str(seed_list[s]): _num(per_cat[m][0][i, s])
                    for s in range(len(seed_list))
                    if not np.isnan(per_cat[m][0][i, s])
                }
                for m in ("F_true", "BT_true", "acc_pre", "acc_post")
            }
            entry["n_tasks"] = len(tasks_c)
            entry["tasks"] = [task_names[t] for t in tasks_c]
            entry["pooled"] = {
                "n01": int(n01c[i]),
                "n10": int(n10c[i]),
                "p_mcnemar": _num(pc_cat[i]),
            }
            entry["item_view"] = _item_view_mean(iv, [p * n_t + t for t in tasks_c])
            cats_json[c] = entry
        total_json = {m: {"mean": _num(total[m][0]), "std": _num(total[m][1])} for m in AGG_METRICS}
        n01t, n10t = int(n01c.sum()), int(n10c.sum())
        total_json["n_categories"] = len(cat_names)
        total_json["n_tasks"] = len(agg_tasks)
        total_json["pooled"] = {
            "n01": n01t,
            "n10": n10t,
            "p_mcnemar": _num(mcnemar_exact(n01t, n10t)[()]),
        }
        total_json["item_view"] = _item_view_mean(iv, [p * n_t + t for t in agg_tasks])
        _fill_majority_p([c["item_view"] for c in cats_json.values()] + [total_json["item_view"]])

    # tasks
    tasks_json: dict[str, Any] = {}
    warn: list[str] = []
    by_b, by_a = rows_by.get(before, {}), rows_by.get(after, {})
    paired_task = np.bincount(c_task[sel], weights=met["n"][sel], minlength=n_t)
    unpaired_by_task: dict[str, dict[str, int]] = {}
    for t in sorted(set(by_b) | set(by_a)):
        ti = task_names.index(t) if t in task_names else -1
        paired = int(paired_task[ti]) if ti >= 0 else 0
        bo, ao = by_b.get(t, 0) - paired, by_a.get(t, 0) - paired
        if bo or ao:
            unpaired_by_task[t] = {"before_only": bo, "after_only": ao}
    for t in tasks_here.tolist():
        ts = sel[c_task[sel] == t]
        name = task_names[t]
        g = p * n_t + t
        entry = {
            "category": cat_of[t],
            "in_aggregate": in_agg[t],
            "seeds": [seed_list[s] for s in c_seed[ts].tolist()],
            "n": task_lists["n"][g],
        }
        for m, (mean, std) in task_stats.items():
            entry[m] = {"mean": mean[g], "std": std[g]}
        entry["pooled"] = {
            "n01": task_lists["n01"][g],
            "n10": task_lists["n10"][g],
            "p_mcnemar": task_lists["p_mcnemar"][g],
        }
        entry["n10_no_answer"] = task_lists["n10_no_answer"][g]
        entry["item_view"] = {k: v[g] for k, v in task_lists["item_view"].items()}
        tasks_json[name] = entry
        if hash_pt[g] > 0:
            warn.append(
                f"{before} -> {after}: prompt_hash differs between the two sides for task {name} "
                f"({int(hash_pt[g])} paired rows); the two models did not see the same prompts"
            )
        if kdiff_pt[g] > 0:
            warn.append(
                f"{before} -> {after}: n_choices differs between the two sides for task {name} "
                f"({int(kdiff_pt[g])} paired rows); using the before side's n_choices"
            )
    for w in warn:
        warnings.warn(w, stacklevel=3)
    return {
        "before": before,
        "after": after,
        "seeds": sorted({seed_list[s] for s in c_seed[sel].tolist()}),
        "n_paired": int(met["n"][sel].sum()),
        "cells": cells,
        "tasks": tasks_json,
        "categories": cats_json,
        "total": total_json,
        "unpaired": {
            "before_only": int(sum(v["before_only"] for v in unpaired_by_task.values())),
            "after_only": int(sum(v["after_only"] for v in unpaired_by_task.values())),
        },
        "unpaired_by_task": unpaired_by_task,
        "excluded_from_aggregate": sorted(
            task_names[t] for t in tasks_here.tolist() if not in_agg[t]
        ),
        "warnings": warn,
    }


_IV_COUNTS = ("n_items", "consistent_10", "consistent_01", "majority_10", "majority_01")

TASK_METRICS: tuple[str, ...] = (
    "F_true",
    "BT_true",
    "acc_pre",
    "acc_post",
    "F",
    "BT",
    "F_max",
    "BT_max",
    "conventional",
    "NFI",
    "F_no_answer",
)


def _group_mean_std(
    met: dict[str, np.ndarray], group: np.ndarray, n_groups: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean and sample std (ddof=1) over the seeds of each (pair, task) group, NaN-skipping."""
    out = {}
    for m in TASK_METRICS:
        v = met[m]
        ok = ~np.isnan(v)
        cnt = np.bincount(group[ok], minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(group[ok], weights=v[ok], minlength=n_groups) / cnt
            ss = np.bincount(group[ok], weights=(v[ok] - mean[group[ok]]) ** 2, minlength=n_groups)
            std = np.sqrt(ss / (cnt - 1))
        out[m] = (np.where(cnt > 0, mean, np.nan), np.where(cnt >= 2, std, np.nan))
    return out


def _item_view_mean(iv: dict[str, np.ndarray], groups: list[int]) -> dict[str, Any]:
    """Item view of a set of tasks: rates averaged over tasks, counts summed."""
    if not groups:
        return {}
    g = np.asarray(groups)
    out: dict[str, Any] = {}
    for k in ("p_pre_mean", "p_post_mean", "expected_P10", "expected_P01"):
        out[k] = _num(np.mean(iv[k][g]))
    for k in ("n_items", "consistent_10", "consistent_01", "majority_10", "majority_01"):
        out[k] = int(iv[k][g].sum())
    out["p_mcnemar_majority"] = None  # filled in one vectorised call by _fill_majority_p
    return out


def _fill_majority_p(views: list[dict[str, Any]]) -> None:
    views = [v for v in views if v]
    if views:
        p = mcnemar_exact(
            np.array([v["majority_01"] for v in views]), np.array([v["majority_10"] for v in views])
        )
        for v, pv in zip(views, _jl(p), strict=True):
            v["p_mcnemar_majority"] = pv


def cells_table(result: dict[str, Any]) -> pa.Table:
    """All cells of a compare result as one flat Arrow table (for CSV export)."""
    rows = []
    for pr in result["pairs"]:
        for c in pr["cells"]:
            row = {"before": pr["before"], "after": pr["after"]}
            row.update({k: v for k, v in c.items() if k != "ci"})
            for m, (lo, hi) in c["ci"].items():
                row[f"{m}_ci_low"] = lo
                row[f"{m}_ci_high"] = hi
            rows.append(row)
    return pa.Table.from_pylist(rows)
