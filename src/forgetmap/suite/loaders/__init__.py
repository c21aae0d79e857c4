"""Load a task's items from the local data dir (official raw files) or the Hugging Face Hub.

    load_items(task, data_dir=None, limit=None, source=None) -> list[Item]
    load_task(...) -> LoadedTask (items + skipped + repaired + source description)
    fewshot_items(task, n, data_dir=None, exclude=(), source=None) -> list[Item]

Parsed tasks are cached per process (keyed by task, source and data dir). Malformed rows are
skipped, reported with file and line in `LoadedTask.skipped` and a `DataWarning`, never dropped
silently. Conventions for ids and option shuffling: `forgetmap.suite.loaders.items`.
"""

from __future__ import annotations

import random
import re
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from forgetmap.errors import DataError
from forgetmap.suite.data import data_dir as resolve_data_dir
from forgetmap.suite.data import default_source
from forgetmap.suite.loaders import adapters as ad
from forgetmap.suite.loaders import sources as src
from forgetmap.suite.loaders.items import (
    LETTERS,
    Item,
    LoadedTask,
    Skipped,
    shuffle_seed,
    stable_id,
)
from forgetmap.suite.registry import TaskSpec, get_task

__all__ = [
    "LETTERS",
    "DataWarning",
    "Item",
    "LoadedTask",
    "Skipped",
    "clear_cache",
    "fewshot_items",
    "load_items",
    "load_task",
    "shuffle_seed",
    "stable_id",
]

FEWSHOT_SEED = 1234  # sampling seed when few-shot examples come from the evaluated split


class DataWarning(UserWarning):
    """Rows of a benchmark were skipped as malformed (listed in the message)."""


_CACHE: dict[tuple[str, str, str], LoadedTask] = {}

# adapters for the Hub's row schema where the local format differs
_HUB_ADAPTER = {"arc_requests": "arc", "mctest": "mctest_hub"}


def clear_cache() -> None:
    """Forget parsed tasks (tests; data that changed on disk)."""
    _CACHE.clear()


def _local(spec: TaskSpec, root: Path) -> ad.Built:
    paths = [root / p for p in spec.local_paths]
    fmt, name = spec.local_format, spec.name
    if fmt == "synthetic":
        raise DataError(f"{name}: synthetic tasks have no files")
    if fmt == "arrow":
        table = src.read_arrow_dir(paths[0], name)
        return getattr(ad, spec.adapter)(spec, table, str(paths[0]))
    if fmt == "bbh_json":
        doc = src.read_json(paths[0], name)
        if not isinstance(doc, dict) or not isinstance(doc.get("examples"), list):
            raise DataError(f"{name}: {paths[0]}: no 'examples' list")
        rows = [(f"{paths[0]} examples[{i}]", r) for i, r in enumerate(doc["examples"])]
        return ad.bbh(spec, rows, str(paths[0]))
    if fmt == "json":
        doc = src.read_json(paths[0], name)
        if not isinstance(doc, list):
            raise DataError(f"{name}: {paths[0]}: expected a JSON list of records")
        rows = [(f"{paths[0]} [{i}]", r) for i, r in enumerate(doc)]
        return getattr(ad, spec.adapter)(spec, rows, str(paths[0]))
    if fmt in ("jsonl", "oe_requests"):
        bad: list[tuple[str, str]] = []
        keep = _first_request_per_doc() if fmt == "oe_requests" else None
        rows = list(src.iter_jsonl(paths[0], name, bad, keep))
        built = getattr(ad, spec.adapter)(spec, rows, str(paths[0]))
        built.skipped[:0] = [Skipped(name, loc, why) for loc, why in bad]
        return built
    if fmt == "csv":
        return getattr(ad, spec.adapter)(spec, src.read_csv(paths[0], name), str(paths[0]))
    if fmt == "mctest":
        out = ad.Built(name)
        for p in paths:
            ans = _mctest_answers(p)
            part = ad.mctest_tsv(spec, src.read_tsv_lines(p, name), src.read_tsv_lines(ans, name))
            out.items += part.items
            out.skipped += part.skipped
        return out.finish()
    raise DataError(f"{name}: unknown local format {fmt!r} in the registry")


_DOC_ID = re.compile(r'"doc_id": (\d+)')


def _first_request_per_doc() -> Callable[[str], bool]:
    """For OLMES request files (one line per option, plus unconditioned copies with doc_id >= 1e6):
    keep the first line of each real doc without parsing the others. Lines without a visible
    doc_id are kept, so the adapter reports them."""
    seen: set[int] = set()

    def keep(line: str) -> bool:
        m = _DOC_ID.search(line)
        if m is None:
            return True
        doc = int(m.group(1))
        if doc >= 1_000_000 or doc in seen:
            return False
        seen.add(doc)
        return True

    return keep


def _mctest_answers(tsv: Path) -> Path:
    """MCTest answers sit beside the TSV, except test answers (only in MCTestAnswers/)."""
    ans = tsv.with_suffix(".ans")
    official = tsv.parent.parent / "MCTestAnswers" / ans.name
    return official if official.exists() or not ans.exists() else ans


def _hub(spec: TaskSpec, split: str | None = None) -> ad.Built:
    configs = spec.extra.get("hub_files") or [spec.hub_config]
    out = ad.Built(spec.name)
    adapter = getattr(ad, _HUB_ADAPTER.get(spec.adapter, spec.adapter))
    for config in configs:
        rows = src.hub_rows(
            spec.name, spec.hub_id, config, split or spec.hub_split, spec.hub_revision
        )
        part = adapter(spec, rows, f"hub:{spec.hub_id}")
        out.items += part.items
        out.skipped += part.skipped
        out.repaired += part.repaired
    return out.finish()


def _synth(spec: TaskSpec) -> ad.Built:
    from forgetmap.suite import synthetic  # noqa: PLC0415 - optional module of another part

    n = getattr(synthetic, "DEFAULT_N", None)
    size = getattr(synthetic, "SIZES", {}).get(spec.subset)
    if n is not None and size is not None:
        n = min(n, size)  # a family whose pool is smaller than the default gives all it has
    return ad.Built(spec.name, items=list(synthetic.generate(spec.subset, n)))


def _report(loaded: LoadedTask) -> None:
    if loaded.skipped:
        listed = "; ".join(str(s) for s in loaded.skipped[:10])
        more = f" (+{len(loaded.skipped) - 10} more)" if len(loaded.skipped) > 10 else ""
        warnings.warn(
            f"{loaded.task}: skipped {len(loaded.skipped)} malformed row(s): {listed}{more}",
            DataWarning,
            stacklevel=3,
        )


def load_task(
    task: str | TaskSpec,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    source: str | None = None,
) -> LoadedTask:
    """All items of `task` with the skip/repair report; cached per process.

    source: `local` (data dir: `data_dir`, else $FORGETMAP_DATA_DIR), `hub`, or `auto` (local
    when the task's files exist, else the Hub); default $FORGETMAP_SOURCE or `local`.
    """
    spec = get_task(task)
    how = default_source(source)
    root = ""
    if spec.benchmark == "synth":
        how = "synthetic"
    elif how in ("local", "auto"):
        try:
            base = resolve_data_dir(data_dir)
        except DataError:
            if how == "local":
                raise
            how = "hub"
        else:
            root = str(base)
            if how == "auto":
                how = "local" if all((base / p).exists() for p in spec.local_paths) else "hub"
    key = (spec.name, how, root)
    loaded = _CACHE.get(key)
    if loaded is None:
        if how == "synthetic":
            built, where = _synth(spec), "synthetic"
        elif how == "local":
            built = _local(spec, Path(root))
            where = ", ".join(str(Path(root) / p) for p in spec.local_paths)
        else:
            built = _hub(spec)
            where = f"hub:{spec.hub_id}@{spec.hub_revision}"
        loaded = LoadedTask(spec.name, built.items, built.skipped, built.repaired, where)
        _CACHE[key] = loaded
        _report(loaded)
    if limit is not None:
        return LoadedTask(
            spec.name, loaded.items[:limit], loaded.skipped, loaded.repaired, loaded.source
        )
    return loaded


def load_items(
    task: str | TaskSpec,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    source: str | None = None,
) -> list[Item]:
    """The items of `task` in source order (the first `limit` when given)."""
    return load_task(task, data_dir=data_dir, limit=limit, source=source).items


def _fewshot_pool(spec: TaskSpec, data_dir: str | Path | None, source: str | None) -> list[Item]:
    """Few-shot candidates from the task's few-shot split, or [] when none is available."""
    how = default_source(source)
    if spec.fewshot_split is None or spec.benchmark == "synth":
        return []
    if how == "hub":
        if spec.adapter in ("bbh",):
            return []
        return _hub(spec, split=spec.fewshot_split).items
    root = resolve_data_dir(data_dir)
    if spec.benchmark == "bbh":
        p = root / "bbh" / "cot-prompts" / f"{spec.subset}.txt"
        src.require(p, spec.name)
        return ad.bbh_cot_prompts(spec, p.read_text(encoding="utf-8"), str(p)).items
    if spec.fewshot_paths:  # ARC: original-format validation split
        p = root / spec.fewshot_paths[0]
        if not p.exists():
            return []
        return ad.arc(spec, src.read_arrow_dir(p, spec.name), str(p)).items
    split_paths = [
        root
        / p.replace(f"/{spec.split}", f"/{spec.fewshot_split}").replace(
            f".{spec.split}.", f".{spec.fewshot_split}."
        )
        for p in spec.local_paths
    ]
    if not all(p.exists() for p in split_paths) or split_paths == [
        root / p for p in spec.local_paths
    ]:
        return []
    fs = TaskSpec(**{**spec.__dict__, "local_paths": tuple(str(p) for p in split_paths)})
    return _local(fs, Path("/")).items


def fewshot_items(
    task: str | TaskSpec,
    n: int,
    data_dir: str | Path | None = None,
    exclude: Iterable[str] = (),
    source: str | None = None,
) -> list[Item]:
    """`n` few-shot examples for `task`, deterministic.

    From the task's few-shot split when it exists (MMLU dev, BBH official CoT prompts with
    meta['reasoning'], ARC validation, MCTest train, HellaSwag/PIQA/SIQA/CSQA train on the Hub):
    its first `n` items. Otherwise (no such split, e.g. GPQA, MuSR, TruthfulQA, or a train split
    not in the data dir) a fixed sample (seed FEWSHOT_SEED) of the evaluated split, leaving out
    the ids in `exclude` (pass the current item's id); such items carry meta['from_eval_split'].
    """
    spec = get_task(task)
    skip = set(exclude)
    pool = [it for it in _fewshot_pool(spec, data_dir, source) if it.item_id not in skip]
    if pool:
        return pool[:n]
    items = [
        it for it in load_items(spec, data_dir=data_dir, source=source) if it.item_id not in skip
    ]
    picked = random.Random(FEWSHOT_SEED).sample(items, min(n, len(items)))
    return [
        Item(
            it.item_id, it.question, it.choices, it.gold, it.k, {**it.meta, "from_eval_split": True}
        )
        for it in picked
    ]
