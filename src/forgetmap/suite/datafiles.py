"""The files of a benchmark data folder: what the registry expects, their row counts and hashes,
and the folder's `MANIFEST.json` (written by `forgetmap data pull`, read by `data check`).

A data folder has the layout the loaders read (tasks.yaml `local` paths, one folder per
benchmark). `data pull` records in MANIFEST.json, per benchmark, where each file came from (Hub
id, config, split, requested and resolved revision, or URL) and every file's sha256, size and
row count, so `data check` can tell a complete, unchanged copy from a truncated or edited one.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from forgetmap.atomic import atomic_write_text
from forgetmap.errors import DataError

__all__ = [
    "MANIFEST",
    "DataFile",
    "HubSource",
    "Manifest",
    "UrlSource",
    "count_rows",
    "files_under",
    "sha256_file",
]

MANIFEST = "MANIFEST.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class HubSource:
    """A split of a Hugging Face dataset (`datasets.load_dataset` arguments)."""

    id: str
    config: str | None
    split: str
    revision: str | None

    def describe(self, revision: str | None = None) -> str:
        config = f"/{self.config}" if self.config else ""
        return f"hub:{self.id}{config}:{self.split}@{revision or self.revision or 'main'}"


@dataclass(frozen=True)
class UrlSource:
    """A file published outside the Hub (official repository at a pinned commit)."""

    url: str
    sha256: str | None = None

    def describe(self, revision: str | None = None) -> str:
        return self.url


@dataclass(frozen=True)
class DataFile:
    """One file (or `datasets.save_to_disk` folder, format `arrow`) of a data folder.

    `role` is `eval` (an evaluated split: required), `fewshot` (few-shot examples: optional,
    the loaders fall back to the evaluated split) or `description` (BBH task descriptions and
    CoT exemplars: required). `tasks` are the tasks that read it.
    """

    benchmark: str
    path: str
    format: str
    source: HubSource | UrlSource | None
    role: str = "eval"
    tasks: tuple[str, ...] = ()
    fallback: tuple[str, ...] = ()  # another layout of the same data, accepted when present

    @property
    def required(self) -> bool:
        return self.role != "fewshot"

    def present(self, root: Path) -> bool:
        return any((root / p).exists() for p in (self.path, *self.fallback))


# --- hashing and counting -------------------------------------------------------------------


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def files_under(root: Path, rel: str) -> list[str]:
    """The files a DataFile path stands for, relative to `root`: itself, or a folder's files
    (sorted; dot files, i.e. unfinished temp files, left out)."""
    p = root / rel
    if p.is_dir():
        return sorted(
            str(f.relative_to(root))
            for f in p.rglob("*")
            if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
        )
    return [rel] if p.is_file() else []


def arrow_file_rows(path: Path) -> int:
    """Rows of one Arrow IPC stream file (a `save_to_disk` shard)."""
    with pa.memory_map(str(path)) as src:
        return sum(batch.num_rows for batch in ipc.open_stream(src))


def _arrow_rows(folder: Path) -> int:
    """Rows of a `save_to_disk` folder: its state.json data files, else data-*.arrow."""
    state = folder / "state.json"
    names: list[str] = []
    if state.is_file():
        names = [f["filename"] for f in json.loads(state.read_text()).get("_data_files", [])]
    files = [folder / n for n in names] or sorted(folder.glob("data-*.arrow"))
    if not files:
        raise DataError(f"{folder}: no data-*.arrow file")
    return sum(arrow_file_rows(f) for f in files)


def _lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        yield from fh


def count_rows(path: Path, fmt: str) -> int | None:
    """Records in a file of local format `fmt` (None for formats without rows, e.g. a text
    prompt file). Raises DataError naming the file when it cannot be parsed."""
    try:
        if fmt == "arrow":
            return _arrow_rows(path)
        if fmt in ("jsonl", "oe_requests", "mctest_tsv", "lines"):
            return sum(1 for line in _lines(path) if line.strip())
        if fmt in ("json", "bbh_json"):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and isinstance(doc.get("examples"), list):
                return len(doc["examples"])
            return len(doc) if isinstance(doc, list) else None
        if fmt == "csv":
            csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
            with path.open(newline="", encoding="utf-8") as fh:
                return sum(1 for _ in csv.DictReader(fh))
    except (OSError, ValueError, pa.ArrowInvalid, csv.Error, KeyError, TypeError) as exc:
        raise DataError(f"{path}: cannot be read as {fmt}: {exc}") from exc
    return None


# --- MANIFEST.json --------------------------------------------------------------------------


@dataclass
class Manifest:
    """MANIFEST.json of a data folder: per benchmark, its sources and files.

    `benchmarks[b]` = {"sources": [{"source", "requested_revision", "resolved_revision"}...],
    "files": {path: {"sha256", "bytes", "rows", "source"}}}.
    """

    root: Path
    benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_by: str = ""

    @property
    def path(self) -> Path:
        return self.root / MANIFEST

    @classmethod
    def read(cls, root: Path) -> Manifest | None:
        """The folder's manifest; None when it has none. A malformed one is a DataError."""
        path = root / MANIFEST
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            benchmarks = dict(doc["benchmarks"])
            for name, entry in benchmarks.items():
                if not isinstance(entry.get("files"), dict):
                    raise KeyError(f"benchmarks.{name}.files")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path}: malformed manifest ({exc})") from exc
        return cls(root, benchmarks, str(doc.get("created_by", "")))

    def write(self) -> None:
        doc = {
            "manifest_version": MANIFEST_VERSION,
            "created_by": self.created_by,
            "benchmarks": {b: self.benchmarks[b] for b in sorted(self.benchmarks)},
        }
        atomic_write_text(self.path, json.dumps(doc, indent=1, sort_keys=False) + "\n")

    def files(self, benchmark: str) -> dict[str, dict[str, Any]]:
        return self.benchmarks.get(benchmark, {}).get("files", {})

    def record(
        self,
        data_file: DataFile,
        described: str,
        requested: str | None,
        resolved: str | None,
    ) -> None:
        """Hash and count the (just written) files of `data_file` into the manifest."""
        entry = self.benchmarks.setdefault(data_file.benchmark, {"sources": [], "files": {}})
        source = {
            "path": data_file.path,
            "source": described,
            "requested_revision": requested,
            "resolved_revision": resolved,
        }
        entry["sources"] = [s for s in entry["sources"] if s["path"] != data_file.path]
        entry["sources"].append(source)
        entry["sources"].sort(key=lambda s: s["path"])
        for rel in files_under(self.root, data_file.path):
            f = self.root / rel
            if data_file.format == "arrow":
                rows = arrow_file_rows(f) if f.suffix == ".arrow" else None
            else:
                rows = count_rows(f, data_file.format)
            entry["files"][rel] = {
                "sha256": sha256_file(f),
                "bytes": f.stat().st_size,
                "rows": rows,
                "source": described,
            }
        entry["files"] = dict(sorted(entry["files"].items()))

    def complete(self, data_file: DataFile) -> bool:
        """Every file of `data_file` is in the manifest and on disk with its recorded size."""
        listed = {
            p: e
            for p, e in self.files(data_file.benchmark).items()
            if p == data_file.path or p.startswith(data_file.path.rstrip("/") + "/")
        }
        if not listed:
            return False
        return all(
            (self.root / p).is_file() and (self.root / p).stat().st_size == e["bytes"]
            for p, e in listed.items()
        )


def group_by_benchmark(files: Iterable[DataFile]) -> dict[str, list[DataFile]]:
    out: dict[str, list[DataFile]] = {}
    for f in files:
        out.setdefault(f.benchmark, []).append(f)
    return out


# --- what the registry expects ----------------------------------------------------------------

HUB_FORMATS = frozenset({"arrow", "bbh_json", "json", "jsonl", "csv"})  # writable from Hub rows
_ROLE_RANK = {"eval": 0, "description": 1, "fewshot": 2}


def _split_files(spec: Any, split: str, role: str, revisions: dict[str, str]) -> list[DataFile]:
    """The DataFiles of one declared split of a task: one per local path (from the Hub when its
    rows can be written in the local format, else from the official repository mirror) plus
    the answer files read with them."""
    ss = spec.split_spec(split)
    fallback = tuple(ss.fallback.local_paths) if ss.fallback is not None else ()
    out = []
    for i, path in enumerate(ss.local_paths):
        url = ss.url_for(path)
        source: HubSource | UrlSource | None = None
        if ss.hub_id and ss.local_format in HUB_FORMATS:
            config = ss.hub_configs[i] if i < len(ss.hub_configs) else None
            rev = revisions.get(spec.benchmark, ss.hub_revision)
            source = HubSource(ss.hub_id, config, ss.hub_split or split, rev)
        elif url:
            source = UrlSource(url)
        alt = fallback[i : i + 1]
        out.append(DataFile(spec.benchmark, path, ss.local_format, source, role, (spec.name,), alt))
    for path in ss.answer_paths:
        url = ss.url_for(path)
        src = UrlSource(url) if url else None
        out.append(DataFile(spec.benchmark, path, "lines", src, role, (spec.name,)))
    return out


def registry_files(
    benchmarks: Iterable[str] | None = None,
    *,
    all_splits: bool = False,
    revisions: dict[str, str] | None = None,
) -> list[DataFile]:
    """The files the loaders read for `benchmarks` (default: every benchmark with files), from
    the registry's data declarations: each task's evaluated split, its few-shot split and its
    description split (`all_splits`: every declared split). `revisions` pins a Hub commit per
    benchmark. A file read by several tasks of a benchmark is listed once, with all of them."""
    from forgetmap.suite.registry import all_tasks

    wanted = None if benchmarks is None else set(benchmarks)
    merged: dict[tuple[str, str], DataFile] = {}
    for spec in all_tasks():
        if (wanted is not None and spec.benchmark not in wanted) or not spec.local_paths:
            continue
        roles = {spec.split: "eval"}
        for split, role in (
            (spec.description_split, "description"),
            (spec.fewshot_split, "fewshot"),
        ):
            if split and split not in roles:
                roles[split] = role
        if all_splits:
            roles.update({s: "fewshot" for s in spec.splits if s not in roles})
        for split, role in roles.items():
            for f in _split_files(spec, split, role, revisions or {}):
                old = merged.get((f.benchmark, f.path))
                if old is not None:
                    role = min(old.role, f.role, key=_ROLE_RANK.__getitem__)
                    tasks = tuple(dict.fromkeys((*old.tasks, *f.tasks)))
                    f = DataFile(f.benchmark, f.path, f.format, f.source, role, tasks, f.fallback)
                merged[(f.benchmark, f.path)] = f
    return list(merged.values())
