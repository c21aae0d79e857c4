"""Load a task's items from the local data dir (official raw files) or the Hugging Face Hub.

    load_items(task, data_dir=None, limit=None, source=None) -> list[Item]
    load_task(...) -> LoadedTask (items + skipped + repaired + source description)
    load_split(task, split, ...) -> LoadedTask (any split the registry declares)
    fewshot_items(task, n, data_dir=None, exclude=(), source=None) -> list[Item]
    task_description(task, data_dir=None) -> str

Where a split's files are, their format and the row adapter that reads them are declared in the
registry (tasks.yaml); this module only dispatches on the declared format and adapter. Parsed
splits are cached per process (keyed by task, split, source and data dir). Malformed rows are
skipped, reported with file and line in `LoadedTask.skipped` and a `DataWarning`, never dropped
silently. Conventions for ids and option shuffling: `forgetmap.suite.items`.
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
from forgetmap.suite.items import (
    LETTERS,
    Item,
    LoadedTask,
    Skipped,
    shuffle_seed,
    stable_id,
)
from forgetmap.suite.loaders import adapters as ad
from forgetmap.suite.loaders import sources as src
from forgetmap.suite.registry import SplitSpec, TaskSpec, get_task

__all__ = [
    "LETTERS",
    "DataWarning",
    "Item",
    "LoadedTask",
    "Skipped",
    "clear_cache",
    "eval_sample",
    "fewshot_items",
    "load_items",
    "load_split",
    "load_task",
    "shuffle_seed",
    "stable_id",
    "task_description",
]

FEWSHOT_SEED = 1234  # sampling seed when few-shot examples come from the evaluated split


class DataWarning(UserWarning):
    """Rows of a benchmark were skipped as malformed (listed in the message)."""


_CACHE: dict[tuple[str, str, str, str], LoadedTask] = {}


def clear_cache() -> None:
    """Forget parsed tasks (tests; data that changed on disk)."""
    _CACHE.clear()


def _adapter(name: str) -> Callable[..., ad.Built]:
    fn = getattr(ad, name, None)
    if fn is None or name.startswith("_"):
        raise DataError(f"unknown row adapter {name!r} in the registry")
    return fn


def _local(spec: TaskSpec, split: SplitSpec, root: Path) -> ad.Built:
    """Items of one split from the offline files; the reader is the split's declared format
    (or its fallback layout's, when only that one is present)."""
    split = split.on_disk(root)
    paths = [root / p for p in split.local_paths]
    fmt, name, adapt = split.local_format, spec.name, _adapter(split.adapter)
    if fmt == "arrow":
        return adapt(spec, src.read_arrow_dir(paths[0], name), str(paths[0]))
    if fmt == "text":
        return adapt(spec, src.require(paths[0], name).read_text(encoding="utf-8"), str(paths[0]))
    if fmt == "bbh_json":
        doc = src.read_json(paths[0], name)
        if not isinstance(doc, dict) or not isinstance(doc.get("examples"), list):
            raise DataError(f"{name}: {paths[0]}: no 'examples' list")
        rows = [(f"{paths[0]} examples[{i}]", r) for i, r in enumerate(doc["examples"])]
        return adapt(spec, rows, str(paths[0]))
    if fmt == "json":
        doc = src.read_json(paths[0], name)
        if not isinstance(doc, list):
            raise DataError(f"{name}: {paths[0]}: expected a JSON list of records")
        rows = [(f"{paths[0]} [{i}]", r) for i, r in enumerate(doc)]
        return adapt(spec, rows, str(paths[0]))
    if fmt in ("jsonl", "oe_requests"):
        bad: list[tuple[str, str]] = []
        keep = _first_request_per_doc() if fmt == "oe_requests" else None
        rows = list(src.iter_jsonl(paths[0], name, bad, keep))
        built = adapt(spec, rows, str(paths[0]))
        built.skipped[:0] = [Skipped(name, loc, why) for loc, why in bad]
        return built
    if fmt == "csv":
        return adapt(spec, src.read_csv(paths[0], name), str(paths[0]))
    if fmt == "mctest_tsv":
        out = ad.Built(name)
        answers = [root / a for a in split.answer_paths] or [_mctest_answers(p) for p in paths]
        for p, ans in zip(paths, answers, strict=True):
            part = adapt(spec, src.read_tsv_lines(p, name), src.read_tsv_lines(ans, name))
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


def _hub(spec: TaskSpec, split: SplitSpec) -> ad.Built:
    if split.hub_id is None:
        raise DataError(f"{spec.name}: split {split.name!r} is not on the Hugging Face Hub")
    out = ad.Built(spec.name)
    adapter = _adapter(split.hub_adapter)
    for config in split.hub_configs or (None,):
        rows = src.hub_rows(spec.name, split.hub_id, config, split.hub_split, split.hub_revision)
        part = adapter(spec, rows, f"hub:{split.hub_id}")
        out.items += part.items
        out.skipped += part.skipped
        out.repaired += part.repaired
    return out.finish()


def _report(loaded: LoadedTask) -> None:
    if loaded.skipped:
        listed = "; ".join(str(s) for s in loaded.skipped[:10])
        more = f" (+{len(loaded.skipped) - 10} more)" if len(loaded.skipped) > 10 else ""
        warnings.warn(
            f"{loaded.task}: skipped {len(loaded.skipped)} malformed row(s): {listed}{more}",
            DataWarning,
            stacklevel=3,
        )


def _where(split: SplitSpec, data_dir: str | Path | None, source: str | None) -> tuple[str, str]:
    """(how, root): `synthetic`, `local` (root = the data dir) or `hub`, per `source`."""
    how = default_source(source)
    if split.local_format == "synthetic":
        return "synthetic", ""
    if how == "hub":
        return "hub", ""
    try:
        base = resolve_data_dir(data_dir)
    except DataError:
        if how == "local":
            raise
        return "hub", ""
    if how == "auto" and not all((base / p).exists() for p in split.on_disk(base).local_paths):
        return "hub", ""
    return "local", str(base)


def load_split(
    task: str | TaskSpec,
    split: str | None = None,
    data_dir: str | Path | None = None,
    source: str | None = None,
) -> LoadedTask:
    """All items of one declared split of `task` (default: the evaluated split); cached.

    source: `local` (data dir: `data_dir`, else $FORGETMAP_DATA_DIR), `hub`, or `auto` (local
    when the split's files exist, else the Hub); default $FORGETMAP_SOURCE or `local`.
    """
    spec = get_task(task)
    sp = spec.split_spec(split)
    how, root = _where(sp, data_dir, source)
    key = (spec.name, sp.name, how, root)
    loaded = _CACHE.get(key)
    if loaded is None:
        if how == "synthetic":
            built, where = _adapter(sp.adapter)(spec, None, "synthetic"), "synthetic"
        elif how == "local":
            built = _local(spec, sp, Path(root))
            where = ", ".join(str(Path(root) / p) for p in sp.on_disk(Path(root)).local_paths)
        else:
            built = _hub(spec, sp)
            where = f"hub:{sp.hub_id}@{sp.hub_revision}"
        loaded = LoadedTask(
            spec.name, built.items, built.skipped, built.repaired, where, built.description
        )
        _CACHE[key] = loaded
        _report(loaded)
    return loaded


def load_task(
    task: str | TaskSpec,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    source: str | None = None,
) -> LoadedTask:
    """All items of `task`'s evaluated split with the skip/repair report; cached per process."""
    loaded = load_split(task, None, data_dir=data_dir, source=source)
    if limit is not None:
        return LoadedTask(
            loaded.task, loaded.items[:limit], loaded.skipped, loaded.repaired, loaded.source
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
    """Items of the declared few-shot split, or [] when it is not available: from the Hub only
    with source `hub` (and only if the split is on the Hub), otherwise from local files."""
    if spec.fewshot_split is None:
        return []
    sp = spec.split_spec(spec.fewshot_split)
    if sp.local_format == "synthetic":
        return []
    if default_source(source) == "hub":
        return load_split(spec, sp.name, source="hub").items if sp.hub_id else []
    root = resolve_data_dir(data_dir)
    paths = sp.on_disk(root).local_paths
    if not paths or not all((root / p).exists() for p in paths):
        return []
    return load_split(spec, sp.name, data_dir=root, source="local").items


def fewshot_items(
    task: str | TaskSpec,
    n: int,
    data_dir: str | Path | None = None,
    exclude: Iterable[str] = (),
    source: str | None = None,
) -> list[Item]:
    """`n` few-shot examples for `task`, deterministic.

    From the task's declared few-shot split when it is available (MMLU dev, BBH official CoT
    prompts with meta['reasoning'], ARC validation, MCTest train, HellaSwag/PIQA/SIQA/CSQA train
    on the Hub): its first `n` items. Otherwise (no such split, e.g. GPQA, MuSR, TruthfulQA, or
    a train split not in the data dir) a fixed sample (seed FEWSHOT_SEED) of the evaluated
    split, leaving out the ids in `exclude` (pass the current item's id); such items carry
    meta['from_eval_split'].
    """
    spec = get_task(task)
    skip = set(exclude)
    pool = [it for it in _fewshot_pool(spec, data_dir, source) if it.item_id not in skip]
    if pool:
        return pool[:n]
    return eval_sample(spec, n, data_dir=data_dir, exclude=skip, source=source)


def eval_sample(
    task: str | TaskSpec,
    n: int,
    data_dir: str | Path | None = None,
    exclude: Iterable[str] = (),
    source: str | None = None,
) -> list[Item]:
    """A fixed sample (seed FEWSHOT_SEED) of `n` items of the evaluated split, without the ids
    in `exclude`; flagged meta['from_eval_split']."""
    skip = set(exclude)
    items = [
        it for it in load_items(task, data_dir=data_dir, source=source) if it.item_id not in skip
    ]
    picked = random.Random(FEWSHOT_SEED).sample(items, min(n, len(items)))
    return [
        Item(
            it.item_id, it.question, it.choices, it.gold, it.k, {**it.meta, "from_eval_split": True}
        )
        for it in picked
    ]


def task_description(task: str | TaskSpec, data_dir: str | Path | None = None) -> str:
    """The task description of the declared `description_split` (BBH: the first paragraph of the
    official CoT prompt file, after its canary line); read from the local files."""
    spec = get_task(task)
    if spec.description_split is None:
        raise DataError(f"{spec.name}: the registry declares no description split")
    loaded = load_split(spec, spec.description_split, data_dir=data_dir, source="local")
    first = loaded.description.split("\n\n", 1)[0].strip()
    if not first:
        raise DataError(f"{spec.name}: {loaded.source} has no task description")
    return first
