"""The registry as a table of rows (what `forgetmap tasks` lists): a task's declaration and, when
counted, its item count and options per item read from the data under a protocol."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

from forgetmap.errors import DataError
from forgetmap.suite.loaders import DataWarning
from forgetmap.suite.protocol import Protocol
from forgetmap.suite.protocol_loader import load_protocol
from forgetmap.suite.registry import TaskSpec


def task_row(
    spec: TaskSpec,
    data_dir: str | None,
    source: str | None,
    count: bool,
    protocol: Protocol | None = None,
) -> dict[str, Any]:
    """One registry row; with `count`, n_items and per-item k from the loaded data (the items
    evaluated under `protocol`: its exemplars from the evaluated split are left out and listed)."""
    protocol = protocol or load_protocol(None)
    row: dict[str, Any] = {
        "task": spec.name,
        "benchmark": spec.benchmark,
        "subset": spec.subset,
        "category": spec.category,
        "split": spec.split,
        "free_form": spec.free_form,
        "in_aggregate": spec.in_aggregate,
        "answer_mode": spec.answer_mode,
        "scorer": spec.scorer,
        "k": None if spec.free_form else (spec.k if spec.k is not None else "varies"),
        "protocol": protocol.name,
        "chance_k": protocol.for_task(spec)["chance_k"],
    }
    if spec.k_nominal is not None:
        row["k_nominal"] = spec.k_nominal
    row["n_official"] = spec.n_items  # the registry's official count (None: undeclared)
    if not count:
        return row
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # reported in the row instead
            loaded = protocol.load(spec, data_dir=data_dir, source=source)
    except DataError as exc:
        row.update(n_items=None, error=str(exc))
        return row
    ks = Counter(it.k for it in loaded.items if it.k is not None)
    row.update(
        n_items=loaded.n_items,
        k=None if spec.free_form else (next(iter(ks)) if len(ks) == 1 else "varies"),
        k_min=min(ks) if ks else None,
        k_max=max(ks) if ks else None,
        k_counts={str(k): n for k, n in sorted(ks.items())} if len(ks) > 1 else None,
        n_skipped=len(loaded.skipped),
        skipped=[str(s) for s in loaded.skipped],
        n_repaired=len(loaded.repaired),
        n_excluded=len(loaded.excluded),
        excluded=list(loaded.excluded),
        source=loaded.source,
    )
    return row
