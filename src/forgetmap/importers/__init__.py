"""Layer 3: importers turning other tools' per-sample logs into forgetmap records.

Each importer returns `ImportedRun`s (records already conformed to the schema + a run manifest);
`write_runs` stores them in a results directory. Imported task names, item ids and categories
are kept verbatim.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    SEED_BASE,
    ImportBatch,
    ImportedRun,
    Refused,
    describe_seeds,
    scorer_key,
    seed_label,
    split_seed_label,
)
from forgetmap.records import DUPLICATE_POLICIES, ResultsStore, check_unique_keys, conform
from forgetmap.records.schema import KEY_COLUMNS
from forgetmap.records.store import duplicate_error
from forgetmap.suite.extract import reextract

# tool name (CLI) -> "module:function"; modules import lazily so one broken importer (or a
# missing optional dependency) never breaks the others.
IMPORTERS: dict[str, str] = {
    "lm-eval": "forgetmap.importers.lm_eval:import_lm_eval",
    "lighteval": "forgetmap.importers.lighteval:import_lighteval",
    "inspect": "forgetmap.importers.inspect_logs:import_inspect",
    "opencompass": "forgetmap.importers.opencompass:import_opencompass",
    "helm": "forgetmap.importers.helm:import_helm",
}


def get_importer(tool: str) -> Callable[..., list[ImportedRun]]:
    """The import function of `tool` (one of IMPORTERS)."""
    if tool not in IMPORTERS:
        raise ForgetmapError(f"unknown log format {tool!r}; choose from {', '.join(IMPORTERS)}")
    mod, _, fn = IMPORTERS[tool].partition(":")
    return getattr(importlib.import_module(mod), fn)


def reextract_runs(runs: Sequence[ImportedRun]) -> ImportBatch:
    """Recompute pred/extract_status/extract_rule/correct from `response` with forgetmap's
    extractor (`forgetmap.suite.extract.reextract`)."""
    out = ImportBatch(refused=getattr(runs, "refused", ()))
    for r in runs:
        if (
            "response" not in r.table.column_names
            or r.table.column("response").null_count == r.table.num_rows
        ):
            raise ForgetmapError(
                f"{', '.join(r.sources) or r.model}: --reextract needs the 'response' column "
                "(the raw generations); this log has none"
            )
        table = conform(reextract(r.table), source=", ".join(r.sources) or r.model)
        out.append(
            ImportedRun(
                r.model, r.run_id, table, {**r.manifest, "reextracted": True}, r.sources, r.notes
            )
        )
    return out


@dataclass
class WriteSummary:
    """What `write_runs` did, for the CLI to print."""

    written: list[tuple[str, str, int]]  # (model, run_id, rows)
    skipped: list[tuple[str, str]]  # (model, run_id) already imported
    same_run: list[tuple[str, str, str]] = field(default_factory=list)  # (model, run_id, stored)
    # (model, run_id, rows skipped, rows replaced) where keys were stored by other runs
    duplicates: list[tuple[str, str, int, int]] = field(default_factory=list)


def write_runs(
    runs: Sequence[ImportedRun],
    results: str | Path,
    force: bool = False,
    on_duplicate: str = "error",
) -> WriteSummary:
    """Store runs under `results`, each written whole and atomically (`ResultsStore.write` with
    `replace_run`: a failed write keeps what was there). A run already there (same deterministic
    run id: same source files, or the same source run under another id) is skipped unless
    `force`, which replaces it in the same swap. Keys already stored by *other* runs of the model
    follow `on_duplicate` (docs/records.md): "error" (checked for every run before anything is
    written, so an import is all or nothing), "skip" or "replace"."""
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ForgetmapError(
            f"--on-duplicate must be one of {', '.join(DUPLICATE_POLICIES)}, got {on_duplicate!r}"
        )
    _check_across_runs(runs)
    store = ResultsStore(results)
    written, skipped, same, todo = [], [], [], []
    for r in runs:
        d = store.run_dir(r.model, r.run_id)
        if d.is_dir() and any(d.glob("*.parquet")) and not force:
            skipped.append((r.model, r.run_id))
            continue
        stored = _stored_as(store, r)
        if stored is not None and not force:
            same.append((r.model, r.run_id, stored))
            continue
        todo.append((r, () if stored is None else (stored,)))  # --force: it replaces that run
    if on_duplicate == "error":
        for r, retire in todo:
            keys = store.duplicates(r.table, r.model, exclude_run=r.run_id)
            if retire:
                keys = keys.filter(pc.invert(pc.is_in(keys.column("run_id"), pa.array(retire))))
            if keys.num_rows:
                raise duplicate_error(r.model, keys)
    dups = []
    for r, retire in todo:
        res = store.write(
            r.table, r.model, r.run_id, source=", ".join(r.sources) or r.model,
            on_duplicate=on_duplicate, manifest=r.manifest, replace_run=True, also_replace=retire,
        )  # fmt: skip
        written.append((r.model, r.run_id, res.n_written))
        if res.n_skipped or res.n_replaced:
            dups.append((r.model, r.run_id, res.n_skipped, res.n_replaced))
    return WriteSummary(written, skipped, same, dups)


def _stored_as(store: ResultsStore, run: ImportedRun) -> str | None:
    """The run id under which the same source run is already stored (e.g. an inspect eval
    imported before from its other format: same `source_run`, other files); None if none."""
    key = run.manifest.get("source_run")
    if not key:
        return None
    for other in store.runs(run.model):
        if other == run.run_id:
            continue
        m = store.read_manifest(run.model, other) or {}
        if m.get("source_run") == key:
            return other
    return None


def _check_across_runs(runs: Sequence[ImportedRun]) -> None:
    """Two runs of one import recorded under the same model must not repeat a
    (task, item_id, seed): e.g. two models' logs imported with one --model name. (Each run's
    own keys are unique already, so a repeated key here is one that occurs in two runs.)"""
    by_model: dict[str, list[ImportedRun]] = {}
    for r in runs:
        by_model.setdefault(r.model, []).append(r)
    for model, rs in by_model.items():
        if len(rs) < 2:
            continue
        keys = pa.concat_tables([r.table.select(list(KEY_COLUMNS)) for r in rs])
        try:
            check_unique_keys(
                keys, f"model {model!r}, keys that occur in more than one imported run"
            )
        except DataError as exc:
            raise ForgetmapError(
                f"{exc} Import such logs separately with different --model or --seed."
            ) from None


def concat(runs: Sequence[ImportedRun]) -> pa.Table:
    """All runs' records as one table."""
    return pa.concat_tables([r.table for r in runs]) if runs else pa.table({})


def import_logs(
    tool: str,
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    results: str | os.PathLike[str] | None = None,
    *,
    model: str | None = None,
    reextract: bool = False,
    force: bool = False,
    **options: Any,
) -> list[ImportedRun]:
    """Read per-sample logs of another tool into forgetmap records (the Python side of
    `forgetmap import TOOL`); with `results`, also store them there.

    `tool`: one of IMPORTERS (lm-eval, lighteval, inspect, opencompass, helm) or "table" (flat
    CSV/JSONL/Parquet files; `path` may then be a list). `model` overrides the log's model name;
    `options` go to the importer (e.g. `seed=`, `metric=`, `filter_name=`, `scorer=`; see
    docs/importers.md). `reextract` recomputes answers from the raw responses with forgetmap's
    extractor. A run already stored (same source files) is skipped unless `force`.
    """
    if tool == "table":
        from forgetmap.importers.table import import_table

        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        if options:
            raise ForgetmapError(f"import table takes no options, got {', '.join(options)}")
        runs = import_table(paths, model=model)
    else:
        if not isinstance(path, (str, os.PathLike)):
            raise ForgetmapError(f"import {tool}: give one file or directory, got {path!r}")
        runs = get_importer(tool)(path, model=model, **options)
    if reextract:
        runs = reextract_runs(runs)
    if results is not None:
        write_runs(runs, results, force=force)
    return list(runs)


__all__ = [
    "IMPORTERS",
    "SEED_BASE",
    "ImportBatch",
    "ImportedRun",
    "Refused",
    "WriteSummary",
    "concat",
    "describe_seeds",
    "get_importer",
    "import_logs",
    "reextract_runs",
    "scorer_key",
    "seed_label",
    "split_seed_label",
    "write_runs",
]
