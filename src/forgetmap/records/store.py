"""A results directory: append-only Parquet batches per (model, run), plus a JSON manifest per run.

Layout::

    RESULTS/<model dir>/<run_id>/manifest.json
    RESULTS/<model dir>/<run_id>/part-<unix_ns>-<rand>.parquet
    RESULTS/<model dir>/.lock                      (flock; see locks.py)

`<model dir>` is `names.model_dir_name(model)`: a readable slug plus a hash of the exact name, so
two names never share a directory and every name stays inside the root and visible. Stores of the
first release (slug only) are read too; rows are always filtered on the exact `model`.

The store never holds a (model, task, item_id, seed) key twice: every write checks the new rows
against the stored keys of the model under the model's exclusive lock (so two processes writing
one model cannot both add a key) and applies `on_duplicate` (docs/records.md):

- `"error"` (default): raise `DuplicateKeysError` naming the keys and the runs holding them;
- `"skip"`: keep the stored rows, write only the new keys;
- `"replace"`: write the new rows and remove the stored rows with those keys.

Files are immutable once visible: each batch is written to a dot-prefixed temp file, fsynced and
renamed into place; a file rewritten by `"replace"` gets a new name. `write(..., replace_run=True)`
(`import --force`) writes the whole new run into a hidden staging directory first and then swaps
it for the old one under the lock, so a failed write keeps the old run and readers, who hold the
lock shared while they list and read, never see the run missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from forgetmap.atomic import atomic_write, atomic_write_bytes, make_dirs, os_error
from forgetmap.errors import ForgetmapError, SchemaError
from forgetmap.records.keys import check_unique_keys
from forgetmap.records.locks import MODEL_LOCK, RunLock, locked, locked_all, run_is_live
from forgetmap.records.names import (
    belongs_in,
    check_model_name,
    check_run_id,
    legacy_dir_name,
    model_dir_name,
)
from forgetmap.records.schema import RECORD_SCHEMA, REQUIRED_COLUMNS, conform

MANIFEST = "manifest.json"
DUPLICATE_POLICIES = ("error", "skip", "replace")
ITEM_KEY = ("task", "item_id", "seed")  # the key within one model
_STAGING, _TRASH = ".staging-", ".trash-"


class DuplicateKeysError(ForgetmapError):
    """New records repeat (task, item_id, seed) keys already stored for the model.

    `keys`: table of the repeated keys (task, item_id, seed, run_id of the stored row)."""

    def __init__(self, message: str, model: str, keys: pa.Table):
        super().__init__(message)
        self.model, self.keys = model, keys


@dataclass
class WriteResult:
    """What one `ResultsStore.write` did."""

    path: Path | None  # the part file written; None when no row was left to write
    n_written: int
    n_skipped: int = 0  # new rows dropped: their keys were stored already (on_duplicate="skip")
    n_replaced: int = 0  # stored rows removed for the new ones (on_duplicate="replace")
    replaced_runs: dict[str, int] = field(default_factory=dict)  # run_id -> rows removed


@dataclass
class RunInfo:
    """One run of one model, as `forgetmap runs` lists it."""

    model: str
    run_id: str
    status: str  # complete | running | interrupted | unknown (no manifest)
    n_records: int
    path: Path
    manifest: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.manifest.get("pid") if self.status == "running" else None

    def to_json(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "model": self.model,
            "run_id": self.run_id,
            "status": self.status,
            "n_records": self.n_records,
            "pid": self.pid,
            "host": m.get("host"),
            "source": m.get("backend") or m.get("tool"),
            "started": m.get("started"),
            "finished": m.get("finished") or m.get("interrupted_detected"),
            "path": str(self.path),
        }


class ResultsStore:
    """Per-sample records under one results directory (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self._keys = _KeyIndex()
        self._checked: set[Path] = set()  # files whose schema was checked (files are immutable)
        self._recovered: set[Path] = set()

    # -- names ---------------------------------------------------------------------------------
    def model_dir(self, model: str) -> Path:
        return self.root / model_dir_name(model)

    def run_dir(self, model: str, run_id: str) -> Path:
        """Where a run of `model` is (an existing run of an old-layout store) or will be written."""
        check_run_id(run_id)
        for d in self._dirs_of(model):
            if (d / run_id).is_dir():
                return d / run_id
        return self.model_dir(model) / run_id

    def _dirs_of(self, model: str) -> list[Path]:
        """Directories that may hold `model`'s records: its own and the first release's."""
        dirs = [self.model_dir(model)]
        legacy = legacy_dir_name(model)
        if legacy is not None and (self.root / legacy).is_dir() and legacy != dirs[0].name:
            dirs.append(self.root / legacy)
        return [d for d in dirs if d.is_dir()]

    def check_root(self) -> None:
        """A one-line error when the results directory is missing or is a file."""
        if not self.root.exists():
            raise ForgetmapError(f"results directory {self.root} does not exist")
        if not self.root.is_dir():
            raise ForgetmapError(f"results directory {self.root} is a file, not a directory")

    def _model_dirs(self) -> list[Path]:
        self.check_root()
        return [p for p in sorted(self.root.iterdir()) if p.is_dir() and not p.name.startswith(".")]

    # -- locking -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def reading(self, models: Sequence[str] | None = None) -> Iterator[None]:
        """Hold the read locks of `models` (all models: None): files listed and read inside
        never change under the reader (writers swap runs under the exclusive lock)."""
        if not self.root.is_dir():
            yield
            return
        if models is None:
            dirs = self._model_dirs()
        else:
            dirs = [d for m in models for d in {self.model_dir(m), *self._dirs_of(m)}]
        with locked_all([d / MODEL_LOCK for d in dirs if d.is_dir()], exclusive=False):
            yield

    @contextlib.contextmanager
    def _writing(self, model: str) -> Iterator[Path]:
        d = make_dirs(self.model_dir(model))
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(locked(d / MODEL_LOCK, exclusive=True))
            except OSError as exc:
                raise os_error(exc, d / MODEL_LOCK, "cannot lock") from None
            self._recover(model)
            yield d

    def _recover(self, model: str) -> None:
        """Finish or undo what a killed writer left (called under the exclusive lock, where no
        other writer can be midway): staging dirs and temp files go, a run moved aside for a swap
        that did not complete comes back."""
        d = self.model_dir(model)
        if d in self._recovered:
            return
        with contextlib.suppress(OSError):  # a read-only store: nothing to clean, nothing to fear
            self._recover_dir(d)
        self._recovered.add(d)

    @staticmethod
    def _recover_dir(d: Path) -> None:
        for p in d.iterdir():
            if p.name.startswith(_STAGING):
                shutil.rmtree(p, ignore_errors=True)
            elif p.name.startswith(_TRASH):
                run = p.name[len(_TRASH) :].rsplit("-", 1)[0]
                if (d / run).exists():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.replace(p, d / run)
            elif p.is_dir() and not p.name.startswith("."):
                for tmp in p.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)

    # -- writing -------------------------------------------------------------------------------
    def append(
        self,
        table: pa.Table,
        model: str,
        run_id: str,
        source: str = "<batch>",
        on_duplicate: str = "error",
    ) -> Path | None:
        """Write one batch of records of `model`; the part file, None when nothing was written."""
        return self.write(table, model, run_id, source=source, on_duplicate=on_duplicate).path

    def write(
        self,
        table: pa.Table,
        model: str,
        run_id: str,
        *,
        source: str = "<batch>",
        on_duplicate: str = "error",
        manifest: dict[str, Any] | None = None,
        replace_run: bool = False,
        also_replace: Sequence[str] = (),
    ) -> WriteResult:
        """Write records of `model` into run `run_id`, checking their keys against the stored
        ones under the model's lock (`on_duplicate`: error | skip | replace).

        `replace_run`: the run's previous content (if any) is replaced as a whole, atomically
        (its own keys do not count as duplicates); `also_replace`: other run ids of the model
        that go in the same swap (the same source imported before under another id).
        `manifest` is written with the records.
        """
        if on_duplicate not in DUPLICATE_POLICIES:
            raise ForgetmapError(
                f"on_duplicate must be one of {', '.join(DUPLICATE_POLICIES)}, got {on_duplicate!r}"
            )
        check_model_name(model)
        check_run_id(run_id)
        table = _own_rows(conform(table, source=source), model, source)
        if table.num_rows == 0 and not replace_run:
            return WriteResult(None, 0)
        with self._writing(model) as mdir:
            retired = (run_id, *also_replace) if replace_run else ()
            stored = self._keys.refresh(self, model, exclude_runs=retired)
            hits = _overlap(stored, table)
            result = WriteResult(None, 0)
            if hits.num_rows:
                if on_duplicate == "error":
                    raise duplicate_error(model, _duplicate_keys(hits, stored))
                if on_duplicate == "skip":
                    keep = np.ones(table.num_rows, bool)
                    keep[np.unique(hits.column("__new").to_numpy())] = False
                    result.n_skipped = int((~keep).sum())
                    table = table.filter(pa.array(keep))
            if replace_run:
                manifest = {**(manifest or {}), "n_records": table.num_rows}
                if result.n_skipped:
                    manifest["n_skipped_duplicates"] = result.n_skipped
                if hits.num_rows and on_duplicate == "replace":
                    manifest["replaced_rows"] = _rows_per_run(hits, stored)
                result.path = self._swap_run(mdir, model, retired, table, manifest, source)
            elif table.num_rows:
                run = make_dirs(self.run_dir(model, run_id))
                result.path = _write_part(run, table)
                self._checked.add(result.path)  # written conformed, here: no need to re-read it
                self._keys.written(model, result.path, table)
                if manifest is not None:
                    self.write_manifest(model, run_id, manifest)
            result.n_written = table.num_rows if result.path else 0
            if hits.num_rows and on_duplicate == "replace":
                self._remove_rows(model, hits, stored, run_id, result)
        return result

    def duplicates(self, table: pa.Table, model: str, exclude_run: str | None = None) -> pa.Table:
        """(task, item_id, seed, run_id) of the rows of `table` whose key is already stored for
        `model` (ignoring run `exclude_run`): a check before writing, e.g. over all runs of an
        import (the write itself checks again under the lock)."""
        if not self.root.is_dir() or table.num_rows == 0:
            return _duplicate_keys(
                pa.table({"__new": pa.array([], pa.int64())}), _Keys({}, _EMPTY_KEYS)
            )
        with self.reading([model]):
            excluded = (exclude_run,) if exclude_run else ()
            stored = self._keys.refresh(self, model, exclude_runs=excluded)
            return _duplicate_keys(_overlap(stored, table), stored)

    def _swap_run(
        self,
        mdir: Path,
        model: str,
        runs: tuple[str, ...],
        table: pa.Table,
        manifest: dict[str, Any] | None,
        source: str,
    ) -> Path | None:
        run_id = runs[0]  # the run written; all of `runs` (it first) are replaced
        staging = mdir / f"{_STAGING}{run_id}-{secrets.token_hex(4)}"
        moved: list[tuple[Path, Path]] = []
        try:
            make_dirs(staging)
            part = _write_part(staging, table) if table.num_rows else None
            body = {**(manifest or {}), "model": model, "run_id": run_id}
            atomic_write_bytes(staging / MANIFEST, _manifest_bytes(body))
            for old in [d / r for r in runs for d in self._dirs_of(model) if (d / r).is_dir()]:
                moved.append((old, mdir / f"{_TRASH}{old.name}-{secrets.token_hex(4)}"))
                os.replace(*moved[-1])
            os.replace(staging, mdir / run_id)
        except (OSError, ForgetmapError) as exc:
            for old, trash in reversed(moved):  # put the old run back where it was
                with contextlib.suppress(OSError):
                    os.replace(trash, old)
            if isinstance(exc, ForgetmapError):
                raise
            raise os_error(exc, mdir / run_id, f"cannot write run (from {source})") from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        for _, trash in moved:
            shutil.rmtree(trash, ignore_errors=True)
        return (mdir / run_id / part.name) if part else None

    def _remove_rows(
        self, model: str, hits: pa.Table, stored: _Keys, run_id: str, result: WriteResult
    ) -> None:
        """Rewrite each stored file that holds a replaced key without those rows (new name,
        then the old file goes: a crash in between repeats rows, never loses one)."""
        file_idx = hits.column("__file").to_numpy()
        row_idx = hits.column("__row").to_numpy()
        for fi in np.unique(file_idx):
            path = stored.files[int(fi)]
            drop = np.unique(row_idx[file_idx == fi])
            full = read_records([path])
            keep = np.ones(full.num_rows, bool)
            keep[drop] = False
            if keep.any():
                _write_part(path.parent, full.filter(pa.array(keep)))
            try:
                path.unlink()
            except OSError as exc:
                raise os_error(exc, path, "cannot remove") from None
            result.n_replaced += len(drop)
            result.replaced_runs[path.parent.name] = result.replaced_runs.get(
                path.parent.name, 0
            ) + len(drop)
        for run, n in result.replaced_runs.items():
            man = self.read_manifest(model, run)
            if man is not None and run != run_id:
                man["n_replaced_later"] = man.get("n_replaced_later", 0) + n
                self.write_manifest(model, run, man)

    def write_manifest(self, model: str, run_id: str, manifest: dict[str, Any]) -> Path:
        """Write the run's manifest atomically; credentials in URLs and keys are redacted."""
        body = {**manifest, "model": model, "run_id": run_id}
        with self._writing(model):  # a writer's clean-up never meets this temp file half done
            d = make_dirs(self.run_dir(model, run_id))
            return atomic_write_bytes(d / MANIFEST, _manifest_bytes(body))

    def read_manifest(self, model: str, run_id: str) -> dict[str, Any] | None:
        path = self.run_dir(model, run_id) / MANIFEST
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ForgetmapError(f"{path}: corrupt manifest ({exc})") from None

    # -- runs ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def start_run(self, model: str, run_id: str) -> Iterator[list[RunInfo]]:
        """Hold the run lock of a live run for the duration of the block (a killed process drops
        it), after marking runs of `model` that were killed ("running" without a live lock) as
        interrupted. Yields the other runs of `model` in progress right now."""
        check_run_id(run_id)
        with self._writing(model):
            run = make_dirs(self.model_dir(model) / run_id)
            try:
                lock = RunLock(run)
            except OSError as exc:
                raise os_error(exc, run, "cannot lock") from None
            others = []
            for info in self.run_infos([model], count=False):
                if info.run_id == run_id:
                    continue
                if info.status == "running":
                    others.append(info)
                elif info.status == "interrupted" and info.manifest.get("status") == "running":
                    self._mark_interrupted(info)
        try:
            yield others
        finally:
            lock.release()

    def _mark_interrupted(self, info: RunInfo) -> None:
        man = dict(info.manifest)
        man.update(
            status="interrupted",
            interrupted_detected=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        atomic_write_bytes(info.path / MANIFEST, _manifest_bytes(man))

    def runs(self, model: str) -> list[str]:
        """Run ids of `model` (both layouts)."""
        return sorted({r.name for d in self._dirs_of(model) for r in _run_dirs(d)})

    def run_infos(self, models: Sequence[str] | None = None, count: bool = True) -> list[RunInfo]:
        """Every run (of `models`) with its status; `count`: also count its records."""
        self.check_root()
        out = []
        with self.reading(models):
            pairs = (
                [(m, d) for m in models for d in self._dirs_of(m)]
                if models is not None
                else [(None, d) for d in self._model_dirs()]
            )
            for model, d in pairs:
                for run in _run_dirs(d):
                    out.extend(self._run_info(model, run, count))
        return sorted(out, key=lambda r: (r.model, r.manifest.get("started") or "", r.run_id))

    def _run_info(self, model: str | None, run: Path, count: bool) -> list[RunInfo]:
        man = _load_manifest(run)
        files = _part_files(run)
        names = [model] if model is not None else None
        if names is None:  # whose run is it? the manifest says, else the records
            names = [man["model"]] if "model" in man else _models_in(files)
        infos = []
        for m in names:
            shared = model is not None and legacy_dir_name(m) == run.parent.name and files
            if shared and m not in _models_in(files):
                continue  # an old shared directory: this run holds other names only
            n = _count(files, m, run.parent.name != model_dir_name(m)) if count else 0
            infos.append(RunInfo(m, run.name, _status(man, run), n, run, man))
        return infos

    # -- reading -------------------------------------------------------------------------------
    def files(self, models: Sequence[str] | None = None) -> list[Path]:
        """Visible Parquet files, for all models or for the given model ids. Files of an old
        layout directory may hold other names too: filter rows on `model`."""
        self.check_root()
        dirs = (
            self._model_dirs() if models is None else [d for m in models for d in self._dirs_of(m)]
        )
        return [f for d in dict.fromkeys(dirs) for r in _run_dirs(d) for f in _part_files(r)]

    def models(self) -> list[str]:
        """Model ids present in the store (read from the data, not the directory names)."""
        with self.reading():
            files = self.files()
            return _models_in(files) if files else []

    def read(
        self,
        models: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        filter: Any = None,
    ) -> pa.Table:
        """All records (of `models`), as one Arrow table with RECORD_SCHEMA (or `columns`)."""
        cols = list(columns) if columns else list(RECORD_SCHEMA.names)
        if models is not None:
            self._check_models(models)
        for attempt in range(3):
            try:
                with self.reading(models):
                    files = self.files(models)
                    if not files:
                        return RECORD_SCHEMA.empty_table().select(cols)
                    self._check_files(files)
                    if models is None:
                        return read_records(files, columns=cols, filter=filter)
                    wanted = pc.field("model").isin(list(models))
                    expr = wanted if filter is None else wanted & filter
                    return read_records(files, columns=cols, filter=expr)
            except _Vanished:
                if attempt == 2:  # no lock here (e.g. a file system without flock)
                    raise ForgetmapError(
                        f"{self.root}: records kept changing while being read; try again"
                    ) from None
        raise AssertionError("unreachable")

    def _check_files(self, files: Sequence[Path]) -> None:
        """Schema of each file, and that its rows belong in its directory (once per file)."""
        for f in files:
            if f not in self._checked:
                check_file_schema(f)
                strangers = [n for n in _models_in([f]) if not belongs_in(n, f.parent.parent.name)]
                if strangers:
                    raise ForgetmapError(
                        f"{f}: holds records of {', '.join(map(repr, strangers))}, which do not "
                        f"belong in {f.parent.parent.name}/ (a file copied into the wrong model "
                        "directory?)"
                    )
                self._checked.add(f)

    def _check_models(self, models: Iterable[str]) -> None:
        """Every model must have records here; else one error listing the known ones."""
        missing = [m for m in models if not self._has(m)]
        if missing:
            known = self.models() if self.root.is_dir() else []
            raise ForgetmapError(
                f"model(s) {', '.join(map(repr, missing))} not found in {self.root}; "
                f"known models: {', '.join(known) or 'none'}"
            )

    def _has(self, model: str) -> bool:
        self.check_root()
        for d in self._dirs_of(model):
            files = [f for r in _run_dirs(d) for f in _part_files(r)]
            if d.name == model_dir_name(model):
                if files or any(_run_dirs(d)):
                    return True
            elif files and model in _models_in(files):
                return True
        return False

    def stored_keys(self, model: str) -> set[tuple[str, str, int, str | None]]:
        """(task, item_id, seed, prompt_hash) of every stored record of `model`; cheap to call
        again (only files not seen before are read)."""
        if not self.root.is_dir():
            return set()
        with self.reading([model]):
            return self._keys.key_set(self, model)

    def duckdb(self, models: Sequence[str] | None = None):  # -> duckdb.DuckDBPyConnection
        """A DuckDB connection with a `records` view over the store's Parquet files."""
        import duckdb

        con = duckdb.connect()
        files = [str(f) for f in self.files(models)]
        if files:
            self._check_files([Path(f) for f in files])
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            where = ""
            if models is not None:
                names = ", ".join("'" + m.replace("'", "''") + "'" for m in models)
                where = f" WHERE model IN ({names})"
            con.execute(
                f"CREATE VIEW records AS SELECT * FROM read_parquet([{listing}], "
                f"union_by_name=true){where}"
            )
        else:
            con.register("records", RECORD_SCHEMA.empty_table())
        return con


# -- key index -------------------------------------------------------------------------------------


@dataclass
class _Keys:
    """Stored keys of one model: `table` (task, item_id, seed, prompt_hash, __file, __row), where
    `__file` indexes `files` and `__row` the file's own rows (an old shared directory's other
    names are filtered out)."""

    files: dict[int, Path]
    table: pa.Table
    items: set[tuple[str, str, int]] | None = None  # the table's (task, item_id, seed), if known


class _ModelKeys:
    """What the index holds for one model; grows as files appear, shrinks if one disappears."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # file (path string) -> id
        self.paths: dict[int, Path] = {}
        self.table = _EMPTY_KEYS
        self.keyset: set[tuple[str, str, int, str | None]] | None = None
        self.items: set[tuple[str, str, int]] | None = None  # (task, item_id, seed)
        self.next_id = 0

    def add(self, parts: list[pa.Table]) -> None:
        t = pa.concat_tables([self.table, *parts])
        self.table = t.combine_chunks() if t.column(0).num_chunks > 64 else t
        for p in parts:
            if self.keyset is not None:
                self.keyset.update(_tuples(p))
            if self.items is not None:
                self.items.update(_tuples(p, ITEM_KEY))

    def drop(self, gone: list[str]) -> None:
        ids = pa.array([self.ids.pop(f) for f in gone], pa.int32())
        for i in ids.to_pylist():
            del self.paths[i]
        self.table = self.table.filter(pc.invert(pc.is_in(self.table.column("__file"), ids)))
        self.keyset = self.items = None

    def key_set(self) -> set[tuple[str, str, int, str | None]]:
        if self.keyset is None:
            self.keyset = set(_tuples(self.table))
        return self.keyset

    def item_set(self) -> set[tuple[str, str, int]]:
        if self.items is None:
            self.items = set(_tuples(self.table, ITEM_KEY))
        return self.items


def _tuples(t: pa.Table, columns: Sequence[str] = (*ITEM_KEY, "prompt_hash")) -> Iterable[Any]:
    return zip(*(t.column(c).to_pylist() for c in columns), strict=True)


_EMPTY_KEYS = pa.schema(
    [RECORD_SCHEMA.field(c) for c in (*ITEM_KEY, "prompt_hash")]
    + [pa.field("__file", pa.int32()), pa.field("__row", pa.int64())]
).empty_table()


class _KeyIndex:
    """Keys of every file read so far, per model. Files are immutable (a rewrite gets a new name),
    so a refresh costs a directory listing plus the keys of files not seen before: a run of 3,000
    batches does not re-read its model's records 3,000 times."""

    def __init__(self) -> None:
        self._models: dict[str, _ModelKeys] = {}
        self._mutex = threading.Lock()  # one store object may serve several threads

    def _refresh(self, store: ResultsStore, model: str) -> _ModelKeys:
        with self._mutex:
            return self._refresh_locked(store, model)

    def _refresh_locked(self, store: ResultsStore, model: str) -> _ModelKeys:
        mk = self._models.setdefault(model, _ModelKeys())
        files = (
            [f for d in store._dirs_of(model) for r in _run_dirs(d) for f in _part_names(r)]
            if store.root.is_dir()
            else []
        )
        if len(files) != len(mk.ids) or any(f not in mk.ids for f in files):
            live = set(files)
            gone = [f for f in mk.ids if f not in live]
            if gone:
                mk.drop(gone)
        parts = []
        for f in files:
            if f not in mk.ids:
                path = Path(f)
                store._check_files([path])
                fid = mk.next_id
                mk.next_id += 1
                mk.ids[f], mk.paths[fid] = fid, path
                t = _file_keys(path, model)
                parts.append(
                    t.append_column("__file", pa.array(np.full(t.num_rows, fid, np.int32)))
                )
        if parts:
            mk.add([p.select(_EMPTY_KEYS.column_names) for p in parts])
        return mk

    def refresh(self, store: ResultsStore, model: str, exclude_runs: Sequence[str] = ()) -> _Keys:
        mk = self._refresh(store, model)
        table = mk.table
        skip = [i for i, p in mk.paths.items() if exclude_runs and p.parent.name in exclude_runs]
        if skip:
            keep = pc.invert(pc.is_in(table.column("__file"), pa.array(skip, pa.int32())))
            table = table.filter(keep)
        return _Keys(dict(mk.paths), table, None if skip else mk.item_set())

    def written(self, model: str, path: Path, table: pa.Table) -> None:
        """Index a file this store object just wrote from the table in memory (no re-read)."""
        with self._mutex:
            mk = self._models.get(model)
            if mk is None:
                return  # never indexed: the next refresh reads everything anyway
            fid = mk.next_id
            mk.next_id += 1
            mk.ids[str(path)], mk.paths[fid] = fid, path
            t = table.select([*ITEM_KEY, "prompt_hash"])
            n = t.num_rows
            t = t.append_column("__file", pa.array(np.full(n, fid, np.int32)))
            mk.add([t.append_column("__row", pa.array(np.arange(n, dtype=np.int64)))])

    def key_set(self, store: ResultsStore, model: str) -> set[tuple[str, str, int, str | None]]:
        return self._refresh(store, model).key_set()


def _file_keys(path: Path, model: str) -> pa.Table:
    t = read_records([path], columns=["model", *ITEM_KEY, "prompt_hash"])
    t = t.append_column("__row", pa.array(np.arange(t.num_rows, dtype=np.int64)))
    if pc.all(pc.equal(t.column("model"), model)).as_py() is False:
        t = t.filter(pc.equal(t.column("model"), model))
    return t.drop_columns(["model"])


def _overlap(stored: _Keys, new: pa.Table) -> pa.Table:
    """(__new, __file, __row) for each new row whose key is stored: the hash table is built on
    the new rows (usually a small batch) and probed with the stored keys."""
    st = stored.table
    none = pa.table({"__new": pa.array([], pa.int64())})
    if st.num_rows == 0 or new.num_rows == 0:
        return none
    items = stored.items  # a runner's batch (small): set lookups, no join in the common case
    small = items is not None and new.num_rows <= 4096
    if small and items is not None and not any(k in items for k in _tuples(new, ITEM_KEY)):
        return none
    probe = new.select(list(ITEM_KEY)).append_column(
        "__new", pa.array(np.arange(new.num_rows, dtype=np.int64))
    )
    return st.select([*ITEM_KEY, "__file", "__row"]).join(
        probe, keys=list(ITEM_KEY), join_type="inner"
    )


def _duplicate_keys(hits: pa.Table, stored: _Keys) -> pa.Table:
    """The repeated keys with the run that holds each, sorted."""
    if hits.num_rows == 0:
        return pa.table(
            {c: pa.array([], RECORD_SCHEMA.field(c).type) for c in ITEM_KEY}
            | {"run_id": pa.array([], pa.string())}
        )
    runs = [stored.files[int(i)].parent.name for i in hits.column("__file").to_numpy()]
    keys = hits.select(list(ITEM_KEY)).append_column("run_id", pa.array(runs, pa.string()))
    return keys.sort_by([(c, "ascending") for c in ITEM_KEY])


def _rows_per_run(hits: pa.Table, stored: _Keys) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in _duplicate_keys(hits, stored).column("run_id").to_pylist():
        out[r] = out.get(r, 0) + 1
    return out


def duplicate_error(model: str, keys: pa.Table) -> DuplicateKeysError:
    """The one-line error for `keys` (task, item_id, seed, run_id) already stored for `model`."""
    ex = "; ".join(
        f"{r['task']} {r['item_id']!r} seed {r['seed']}" for r in keys.slice(0, 3).to_pylist()
    )
    run_names = sorted(set(keys.column("run_id").to_pylist()))
    msg = (
        f"model {model!r}: {keys.num_rows} (task, item_id, seed) key(s) of the new records are "
        f"already stored (run {', '.join(run_names[:3])}{' ...' if len(run_names) > 3 else ''}), "
        f"e.g. {ex}; use --on-duplicate skip to keep the stored rows or --on-duplicate replace "
        "to replace them"
    )
    return DuplicateKeysError(msg, model, keys)


# -- helpers ---------------------------------------------------------------------------------------


class _Vanished(ForgetmapError):
    """A listed file disappeared before it was read (a concurrent swap where locks are missing);
    the store retries, other callers get this one-line error."""

    def __init__(self, path: object = "a records file") -> None:
        super().__init__(f"{path}: removed while being read (a concurrent writer); try again")


def _own_rows(table: pa.Table, model: str, source: str) -> pa.Table:
    """Records stored under `model` must be `model`'s, and must not repeat a key."""
    other = pc.not_equal(table.column("model"), model)
    if pc.any(other).as_py():
        first = pc.filter(table.column("model"), other)[0].as_py()
        raise ForgetmapError(f"{source}: rows of model {first!r} cannot be stored as {model!r}")
    check_unique_keys(table, source)  # a key twice inside the new records themselves
    return table


def _write_part(run: Path, table: pa.Table) -> Path:
    final = run / f"part-{time.time_ns()}-{secrets.token_hex(3)}.parquet"
    return atomic_write(final, lambda p: pq.write_table(table, p, compression="zstd"))


def _manifest_bytes(body: dict[str, Any]) -> bytes:
    from forgetmap.redact import redact_obj

    return json.dumps(redact_obj(body), indent=2, sort_keys=True, default=str).encode()


def _load_manifest(run: Path) -> dict[str, Any]:
    path = run / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ForgetmapError(f"{path}: corrupt manifest ({exc})") from None


def _status(man: dict[str, Any], run: Path) -> str:
    if not man:
        return "unknown"
    status = man.get("status", "complete")  # imports are written whole, with no status
    if status == "running":
        live = run_is_live(run)
        if live is None:  # no lock to ask (no flock here): ask the OS where we can
            live = _pid_alive(man)
        return "running" if live else "interrupted"
    return status


def _pid_alive(man: dict[str, Any]) -> bool:
    """Whether the manifest's writer process lives: knowable on its own host only; a run of the
    first release (no pid) that still says running was killed."""
    pid = man.get("pid")
    if not isinstance(pid, int):
        return False
    if man.get("host") != socket.gethostname():
        return True  # cannot tell from here: do not call a possibly live run interrupted
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_dirs(model_dir: Path) -> list[Path]:
    try:
        with os.scandir(model_dir) as it:
            names = sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [model_dir / n for n in names]


def _part_names(run: Path) -> list[str]:
    """The run's visible Parquet files as path strings, sorted (cheap: no Path objects; a run
    dir of 3,000 batches is listed before every write)."""
    try:
        names = sorted(
            n for n in os.listdir(run) if n.endswith(".parquet") and not n.startswith(".")
        )
    except (FileNotFoundError, NotADirectoryError):
        return []
    base = str(run) + os.sep
    return [base + n for n in names]


def _part_files(run: Path) -> list[Path]:
    return [Path(f) for f in _part_names(run)]


def _models_in(files: Sequence[Path]) -> list[str]:
    col = read_records(files, columns=["model"]).column("model")
    return sorted(set(col.unique().to_pylist()))


def _count(files: Sequence[Path], model: str, shared: bool) -> int:
    if not files:
        return 0
    if not shared:
        return sum(pq.read_metadata(f).num_rows for f in files)
    col = read_records(files, columns=["model"]).column("model")
    return int(pc.sum(pc.equal(col, model)).as_py() or 0)


def host_and_pid() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _type_ok(want: pa.DataType, got: pa.DataType) -> bool:
    if pa.types.is_dictionary(got):
        got = got.value_type
    if got == want or pa.types.is_null(got):
        return True
    if pa.types.is_string(want):
        return pa.types.is_string(got) or pa.types.is_large_string(got)
    if pa.types.is_integer(want):
        return pa.types.is_integer(got)
    if pa.types.is_list(want):
        return (pa.types.is_list(got) or pa.types.is_large_list(got)) and _type_ok(
            want.value_type, got.value_type
        )
    return False


def check_file_schema(path: Path) -> None:
    """A records file must be readable Parquet with the required columns and the schema's types
    (what `compare` demands too); else a SchemaError naming the file and the column."""
    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise _Vanished(path) from None
    except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
        raise ForgetmapError(f"{path}: not a readable Parquet records file ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in schema.names]
    if missing:
        raise SchemaError(f"{path}: missing required column(s) {', '.join(missing)}")
    for f in RECORD_SCHEMA:
        if f.name in schema.names and not _type_ok(f.type, schema.field(f.name).type):
            raise SchemaError(
                f"{path}: column '{f.name}' has type {schema.field(f.name).type}, expected {f.type}"
            )


def _dataset(files: Sequence[Path]) -> ds.Dataset:
    return ds.dataset([str(f) for f in files], format="parquet", schema=RECORD_SCHEMA)


def read_records(
    files: Sequence[str | os.PathLike[str]],
    columns: Sequence[str] | None = None,
    filter: Any = None,
) -> pa.Table:
    """Read record Parquet files; a corrupt or foreign file raises an error naming it."""
    paths = [Path(f) for f in files]
    try:
        return _dataset(paths).to_table(columns=list(columns) if columns else None, filter=filter)
    except FileNotFoundError:
        raise _Vanished() from None
    except (pa.ArrowInvalid, OSError) as exc:
        gone = [p for p in paths if not p.exists()]
        if gone:
            raise _Vanished(gone[0]) from None
        for p in paths:  # find the culprit for a precise message
            check_file_schema(p)
        raise ForgetmapError(f"reading records failed: {exc}") from None
