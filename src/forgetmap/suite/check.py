"""`forgetmap data check DIR`: is a data folder a complete, unchanged copy of the official data?

Per benchmark of the registry: the files its tasks read are present (evaluated splits and BBH's
CoT prompts are required; few-shot splits are optional), every task loads with exactly the
official number of items (malformed rows that the loaders skip count towards it and are named),
and, when the folder has a MANIFEST.json (written by `data pull`), every file it lists still has
its sha256, size and row count. A benchmark none of whose files are present is `absent`, which is
reported but is no mismatch (gated or unavailable data); anything else missing or different is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from forgetmap.errors import DataError
from forgetmap.suite.datafiles import (
    DataFile,
    Manifest,
    arrow_file_rows,
    count_rows,
    group_by_benchmark,
    sha256_file,
)
from forgetmap.suite.registry import TaskSpec

__all__ = ["BenchmarkCheck", "check_folder"]


@dataclass
class BenchmarkCheck:
    """The verdict on one benchmark: `status` is `ok`, `absent` or `mismatch`; `problems` name
    a file (or task) each; `notes` are what is worth knowing but no mismatch."""

    benchmark: str
    status: str = "ok"
    files_present: int = 0
    files_expected: int = 0
    items: int = 0
    skipped: int = 0
    official: int | None = 0
    hashes: str = "no manifest"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _manifest_problems(root: Path, manifest: Manifest, benchmark: str) -> tuple[str, list[str]]:
    """(summary, problems) of the files the manifest lists for `benchmark`."""
    listed = manifest.files(benchmark)
    if not listed:
        return "not in manifest", []
    problems = []
    for rel, entry in listed.items():
        f = root / rel
        if not f.is_file():
            problems.append(f"{f}: listed in {manifest.path.name} but missing")
        elif f.stat().st_size != entry.get("bytes") or sha256_file(f) != entry.get("sha256"):
            problems.append(f"{f}: sha256 differs from {manifest.path.name}")
    return f"{len(listed) - len(problems)}/{len(listed)} match", problems


def _row_problems(root: Path, manifest: Manifest, f: DataFile) -> list[str]:
    """Row counts in the manifest against the files (a truncated file whose hash was fixed up
    by hand would still show here)."""
    out = []
    for rel, entry in manifest.files(f.benchmark).items():
        if entry.get("rows") is None or not (rel == f.path or rel.startswith(f.path + "/")):
            continue
        path = root / rel
        if not path.is_file():
            continue
        rows = count_rows(path, f.format) if f.format != "arrow" else arrow_file_rows(path)
        if rows != entry["rows"]:
            out.append(f"{path}: {rows} rows, {entry['rows']} in {manifest.path.name}")
    return out


def _count_tasks(
    root: Path,
    tasks: Sequence[TaskSpec],
    official: Callable[[TaskSpec], int | None],
    res: BenchmarkCheck,
) -> None:
    from forgetmap.suite.loaders import DataWarning, load_task

    total_official: int | None = 0
    for spec in tasks:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                loaded = load_task(spec, data_dir=root, source="local")
        except DataError as exc:
            res.problems.append(str(exc))
            continue
        n, skipped = len(loaded.items), len(loaded.skipped)
        res.items += n
        res.skipped += skipped
        want = official(spec)
        if want is None:
            total_official = None
            res.notes.append(f"{spec.name}: no official item count declared ({n} items)")
        elif total_official is not None:
            total_official += want
        if skipped:
            res.notes.append(
                f"{spec.name}: {skipped} malformed row(s) skipped by the loader: "
                + "; ".join(str(s) for s in loaded.skipped[:3])
            )
        if want is not None and n + skipped != want:
            res.problems.append(
                f"{spec.name}: {n + skipped} items in {loaded.source}, official count {want}"
            )
    res.official = total_official


def _check_one(
    root: Path,
    benchmark: str,
    files: Sequence[DataFile],
    tasks: Sequence[TaskSpec],
    official: Callable[[TaskSpec], int | None],
    manifest: Manifest | None,
) -> BenchmarkCheck:
    res = BenchmarkCheck(benchmark)
    required = [f for f in files if f.required]
    present = [f for f in files if f.present(root)]
    res.files_expected, res.files_present = len(files), len(present)
    listed = manifest.files(benchmark) if manifest else {}
    if not any(f in present for f in required) and not listed:
        res.status = "absent"
        res.official = None
        res.notes.append(f"absent: none of its files, e.g. {root / required[0].path}")
        return res
    for f in required:
        if f not in present:
            res.problems.append(f"{root / f.path}: missing ({', '.join(f.tasks) or f.role})")
    for f in files:
        if not f.required and f not in present:
            res.notes.append(f"optional {f.role} file absent: {f.path}")
    if manifest is not None:
        res.hashes, problems = _manifest_problems(root, manifest, benchmark)
        res.problems += problems
        for f in present:
            res.problems += _row_problems(root, manifest, f)
    if not res.problems:
        _count_tasks(root, tasks, official, res)
    res.status = "mismatch" if res.problems else "ok"
    return res


def check_folder(
    root: Path,
    files: Sequence[DataFile],
    tasks: Sequence[TaskSpec],
    official: Callable[[TaskSpec], int | None],
) -> list[BenchmarkCheck]:
    """Check the data folder `root` against the expected `files` and `tasks` (one registry
    benchmark each); `official(task)` is the task's official item count (None: undeclared)."""
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist")
    manifest = Manifest.read(root)
    by_task: dict[str, list[TaskSpec]] = {}
    for t in tasks:
        by_task.setdefault(t.benchmark, []).append(t)
    return [
        _check_one(root, b, group, by_task.get(b, []), official, manifest)
        for b, group in group_by_benchmark(files).items()
    ]
