"""`forgetmap plan`: how many items and seeds a comparison needs to detect a given forgetting.

Builds the design (tasks of a suite or a list, their categories, item counts from the benchmark
files or a fixed `items`, and option counts) and asks `forgetmap.metrics.power` for the minimum
detectable F_true per category and Total, and for the items per task needed at several seed
counts (docs/statistics.md, "Power").
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

from forgetmap.errors import ForgetmapError
from forgetmap.metrics.power import PlanTask, items_needed, plan_mde

SEED_GRID = (1, 2, 3, 5)
MAX_SEEDS = 8
DEFAULT_TARGETS = (0.01, 0.02, 0.05)


def design_tasks(
    suite: str | None,
    tasks: str | None,
    items: int | None = None,
    data_dir: str | None = None,
) -> tuple[list[PlanTask], list[str]]:
    """The aggregated tasks of the design with category, item count and k, and the tasks left
    out because their benchmark files are missing (one message each).

    Item counts and k come from the benchmark files unless `items` is given (then k is the
    registry's; a task whose k varies uses 4 without data). A task whose items have several k
    is planned with its most common k.
    """
    from forgetmap.suite.registry import resolve_tasks

    specs = [s for s in resolve_tasks(suite, tasks) if s.in_aggregate]
    if not specs:
        raise ForgetmapError("none of the selected tasks counts in the aggregates")
    if items is None:
        from forgetmap.suite.data import data_dir as resolve_data_dir
        from forgetmap.suite.data import default_source

        if default_source(None) == "local":  # a missing data dir is one clear error
            try:
                data_dir = str(resolve_data_dir(data_dir))
            except ForgetmapError as exc:
                raise ForgetmapError(f"{exc}; or give --items N to plan without data") from None
    out, missing = [], []
    for spec in specs:
        k = None if spec.free_form else (spec.k or spec.k_nominal)
        n = items
        if n is None:
            try:
                n, k = _counted(spec, data_dir)
            except ForgetmapError as exc:
                missing.append(str(exc))
                continue
        elif k is None and not spec.free_form:
            k = 4
        out.append(PlanTask(spec.name, spec.category or spec.benchmark, int(n), k))
    if not out:
        raise ForgetmapError("no task could be counted: " + "; ".join(missing[:3]))
    return out, missing


def _counted(spec: Any, data_dir: str | None) -> tuple[int, int | None]:
    from forgetmap.suite.loaders import DataWarning, load_task

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            loaded = load_task(spec, data_dir=data_dir)
    except ForgetmapError as exc:
        raise ForgetmapError(
            f"{spec.name}: left out, its items cannot be counted ({exc}); --items N plans "
            "without data"
        ) from None
    ks = Counter(it.k for it in loaded.items if it.k is not None and it.k >= 2)
    k = None if spec.free_form or not ks else ks.most_common(1)[0][0]
    return len(loaded.items), k


def plan(
    tasks: list[PlanTask],
    seeds: int,
    acc: float,
    consistency: float = 0.9,
    targets: tuple[float, ...] = DEFAULT_TARGETS,
    lift_cap: bool = False,
    left_out: list[str] | None = None,
) -> dict[str, Any]:
    """The plan as a JSON-able dict: the design's MDE per category and Total, then per target
    the items per task needed at each seed count (None: not reachable with these tasks).

    `lift_cap`: tasks may grow beyond their item count (a planned benchmark, `--items`).
    """
    if not 1 <= seeds <= MAX_SEEDS:
        raise ForgetmapError(f"--seeds must be between 1 and {MAX_SEEDS}, got {seeds}")
    if not 0.0 < acc < 1.0 or not 0.0 < consistency <= 1.0:
        raise ForgetmapError("--acc must be in (0, 1) and --consistency in (0, 1]")
    res = plan_mde(tasks, seeds, acc, consistency)
    rows = [*res.categories, "Total"]
    mde = {
        r: {
            "tasks": res.n_tasks[i] if i < len(res.categories) else sum(res.n_tasks),
            "items": res.n_items[i] if i < len(res.categories) else sum(res.n_items),
            "mde_F_true": float(res.mde[i]),
        }
        for i, r in enumerate(rows)
    }
    grid = sorted(set(SEED_GRID) | {seeds})
    cap = 10**6 if lift_cap else None
    detect = []
    for target in targets:
        need = {
            str(s): {
                r: items_needed(tasks, target, s, acc, consistency,
                                category=None if r == "Total" else r, max_items=cap)
                for r in rows
            }
            for s in grid
        }  # fmt: skip
        detect.append({"target": target, "items_per_task": need})
    return {
        "design": {
            "seeds": seeds,
            "acc": acc,
            "consistency": consistency,
            "alpha": 0.05,
            "power": 0.8,
            "n_tasks": len(tasks),
            "tasks": [
                {"task": t.name, "category": t.category, "n_items": t.n_items, "k": t.k}
                for t in tasks
            ],
            "left_out": list(left_out or []),
        },
        "mde": mde,
        "detect": detect,
    }
