"""`forgetmap data pull`: fetch benchmark files and write the local layout the loaders read.

Each file the registry declares (`datafiles.DataFile`) comes from its Hugging Face dataset split
(`datasets.load_dataset` at the registry's revision, or one pinned by the user; the commit the
Hub resolves it to is recorded) or, for files that are not on the Hub (BBH CoT prompts, MCTest),
from the official repository at a pinned commit, checked against its sha256. Files are written
atomically one by one and recorded in MANIFEST.json as they land, so an interrupted pull resumes
where it stopped: files already complete are skipped.

Failures are one line each: offline (stops the pull), a gated dataset (how to get access), a
dataset or revision not found; the other benchmarks go on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgetmap.atomic import atomic_write, temp_path
from forgetmap.errors import DataError, ForgetmapError
from forgetmap.suite.datafiles import DataFile, HubSource, Manifest, UrlSource, group_by_benchmark

__all__ = ["HubOffline", "PullReport", "pull"]

HUB = "https://huggingface.co"


class HubOffline(ForgetmapError):
    """The Hub (or a file host) cannot be reached at all: nothing can be pulled."""


@dataclass
class PullReport:
    """What a pull did, per benchmark: files written, files already complete (resumed), the
    one-line reason of a failed required file (`failed`) and of optional few-shot files that
    could not be fetched (`optional`: the loaders then take few-shot examples from the
    evaluated split)."""

    written: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    optional: dict[str, list[str]] = field(default_factory=dict)
    resolved: dict[str, str | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


# --- classifying failures -------------------------------------------------------------------

_OFFLINE = {
    "ConnectError",
    "ConnectTimeout",
    "ConnectionError",
    "OfflineModeIsEnabled",
    "LocalEntryNotFoundError",
    "NameResolutionError",
    "MaxRetryError",
    "URLError",
    "gaierror",
    "TimeoutError",
    "ReadTimeout",
}


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return out


def _hub_failure(exc: BaseException, what: str, repo: str) -> ForgetmapError:
    """One line for a failed Hub call; HubOffline when the Hub is unreachable."""
    names = {type(e).__name__ for e in _chain(exc)}
    text = " ".join(str(e) for e in _chain(exc)).lower()
    if names & {"GatedRepoError"} or "gated" in text or " 401" in text or " 403" in text:
        return DataError(
            f"{what}: {repo} is gated: accept its conditions at {HUB}/datasets/{repo} while "
            "logged in, then `huggingface-cli login` (or set HF_TOKEN) and rerun"
        )
    if names & {"RevisionNotFoundError"} or "revision" in text and "not found" in text:
        return DataError(f"{what}: revision not found on the Hub for {repo}: {exc}")
    if names & {"RepositoryNotFoundError", "DatasetNotFoundError", "FileNotFoundError"}:
        return DataError(f"{what}: {repo} not found on the Hub ({type(exc).__name__})")
    if names & _OFFLINE or "couldn't reach" in text or "name or service not known" in text:
        return HubOffline(
            f"cannot reach the Hugging Face Hub ({HUB}): `forgetmap data pull` needs a network "
            "connection to it; offline, copy a benchmark data folder from a machine that has "
            "one and set FORGETMAP_DATA_DIR to it"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return DataError(f"{what}: could not load {repo}: {type(exc).__name__}: {first}")


# --- sources --------------------------------------------------------------------------------


def resolve_revision(source: HubSource, what: str) -> str | None:
    """The commit the Hub resolves `source.revision` to (None when it reports none)."""
    try:
        from huggingface_hub import HfApi
    except ImportError as exc:
        raise ForgetmapError(
            "`forgetmap data pull` needs the `datasets` package: pip install 'forgetmap[hub]'"
        ) from exc
    try:
        info = HfApi().dataset_info(source.id, revision=source.revision)
    except Exception as exc:  # network, auth, missing repo: one line
        raise _hub_failure(exc, what, source.id) from exc
    return getattr(info, "sha", None)


def load_hub_split(source: HubSource, revision: str | None, what: str) -> Any:
    """The split as a `datasets.Dataset` (trust_remote_code stays off)."""
    try:
        import datasets
    except ImportError as exc:
        raise ForgetmapError(
            "`forgetmap data pull` needs the `datasets` package: pip install 'forgetmap[hub]'"
        ) from exc
    try:
        return datasets.load_dataset(
            source.id, source.config, split=source.split, revision=revision or source.revision
        )
    except Exception as exc:
        raise _hub_failure(exc, what, source.id) from exc


def fetch_url(source: UrlSource, target: Path, what: str) -> None:
    """Download `source.url` to `target` atomically; a declared sha256 must match."""

    def write(tmp: Path) -> None:
        h = hashlib.sha256()
        try:
            with urllib.request.urlopen(source.url, timeout=60) as resp, tmp.open("wb") as out:
                while block := resp.read(1 << 16):
                    h.update(block)
                    out.write(block)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            host = source.url.split("/")[2] if "://" in source.url else source.url
            raise HubOffline(
                f"{what}: cannot download {source.url} ({getattr(exc, 'reason', exc)}); "
                f"`forgetmap data pull` needs to reach {host}"
            ) from exc
        if source.sha256 and h.hexdigest() != source.sha256:
            raise DataError(
                f"{what}: {source.url} has sha256 {h.hexdigest()}, the registry pins "
                f"{source.sha256}: not the official file"
            )

    atomic_write(target, write)


# --- writers: a Dataset in a local format ---------------------------------------------------


def _rows(ds: Any) -> list[dict[str, Any]]:
    return list(ds.to_list())


def _write_arrow(ds: Any, target: Path) -> None:
    """`datasets.save_to_disk` folder, swapped in whole."""
    tmp = temp_path(target)
    ds.save_to_disk(str(tmp))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def _write_json(rows: Any, target: Path) -> None:
    atomic_write(
        target,
        lambda tmp: tmp.write_text(json.dumps(rows, ensure_ascii=False, indent=1), "utf-8"),
    )


def _write_jsonl(ds: Any, target: Path) -> None:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(ds))
    atomic_write(target, lambda tmp: tmp.write_text(lines, "utf-8"))


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def _write_csv(ds: Any, target: Path) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(ds.column_names)
            for r in _rows(ds):
                w.writerow([_cell(r[c]) for c in ds.column_names])

    atomic_write(target, write)


WRITERS: dict[str, Callable[[Any, Path], None]] = {
    "arrow": _write_arrow,
    "bbh_json": lambda ds, t: _write_json({"examples": _rows(ds)}, t),
    "json": lambda ds, t: _write_json(_rows(ds), t),
    "jsonl": _write_jsonl,
    "csv": _write_csv,
}


# --- the pull -------------------------------------------------------------------------------


def _pull_file(f: DataFile, to: Path, revision: str | None, what: str) -> None:
    target = to / f.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(f.source, UrlSource):
        fetch_url(f.source, target, what)
        return
    if not isinstance(f.source, HubSource):
        raise DataError(f"{what}: {f.path} has no declared source (not on the Hub)")
    writer = WRITERS.get(f.format)
    if writer is None:
        raise DataError(
            f"{what}: the Hub rows cannot be written as local format {f.format!r} ({f.path})"
        )
    writer(load_hub_split(f.source, revision, what), target)


def _quiet_datasets() -> None:
    """One progress bar (ours), not one per `datasets` call."""
    try:
        import datasets
    except ImportError:
        return
    datasets.disable_progress_bars()


def _resolve_all(files: Sequence[DataFile], report: PullReport, benchmark: str) -> dict:
    """Resolved commit per (Hub id, requested revision) of a benchmark's Hub files."""
    resolved: dict[tuple[str, str | None], str | None] = {}
    for f in files:
        if isinstance(f.source, HubSource):
            key = (f.source.id, f.source.revision)
            if key not in resolved:
                resolved[key] = resolve_revision(f.source, benchmark)
                report.resolved[f"{f.source.id}@{f.source.revision or 'main'}"] = resolved[key]
    return resolved


def pull(
    files: Sequence[DataFile],
    to: Path,
    *,
    force: bool = False,
    created_by: str = "forgetmap data pull",
    on_file: Callable[[DataFile, str], None] | None = None,
) -> PullReport:
    """Fetch `files` into the folder `to`, resuming a previous pull (see the module doc).

    `on_file(file, outcome)` is called after each file (`written`, `kept`, `failed`), for a
    progress bar. Raises HubOffline when the Hub cannot be reached at all.
    """
    _quiet_datasets()  # `to` is made with its first file: nothing is left behind offline
    manifest = Manifest.read(to) or Manifest(to, created_by=created_by)
    report = PullReport()

    def done(f: DataFile, outcome: str) -> None:
        if outcome == "kept":
            report.kept.setdefault(f.benchmark, []).append(f.path)
        elif outcome == "written":
            report.written.setdefault(f.benchmark, []).append(f.path)
        if on_file is not None:
            on_file(f, outcome)

    for benchmark, group in group_by_benchmark(files).items():
        try:
            resolved = _resolve_all(group, report, benchmark)
        except HubOffline:
            raise
        except ForgetmapError as exc:
            report.failed[benchmark] = str(exc)
            for f in group:
                done(f, "failed")
            continue
        for f in group:
            rev = None
            if isinstance(f.source, HubSource):
                rev = resolved[(f.source.id, f.source.revision)]
            if not force and manifest.complete(f):
                done(f, "kept")
                continue
            try:
                _pull_file(f, to, rev, benchmark)
            except HubOffline:
                raise
            except ForgetmapError as exc:
                if f.required:
                    report.failed.setdefault(benchmark, str(exc))
                else:
                    report.optional.setdefault(benchmark, []).append(f"{f.path}: {exc}")
                done(f, "failed")
                continue
            requested = f.source.revision if isinstance(f.source, HubSource) else None
            described = f.source.describe(rev) if f.source else f.path
            manifest.record(f, described, requested, rev)
            manifest.write()
            done(f, "written")
    return report
