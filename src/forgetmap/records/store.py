"""A results directory: append-only Parquet batches per (model, run), plus a JSON manifest per run.

Layout::

    RESULTS/<model_slug>/<run_id>/manifest.json
    RESULTS/<model_slug>/<run_id>/part-<unix_ns>-<rand>.parquet

Each batch is written to a dot-prefixed temp file, fsynced, then renamed into place, so a crash
never leaves a half-written file visible to readers (which skip dot files). Directories from
different machines merge by copying: file names never collide.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from forgetmap.atomic import atomic_write, atomic_write_bytes
from forgetmap.errors import ForgetmapError
from forgetmap.records.schema import RECORD_SCHEMA, conform, model_slug

MANIFEST = "manifest.json"


class ResultsStore:
    """Append-only store of per-sample records under one results directory."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    # -- writing -------------------------------------------------------------------------------
    def run_dir(self, model: str, run_id: str) -> Path:
        return self.root / model_slug(model) / run_id

    def append(
        self, table: pa.Table, model: str, run_id: str, source: str = "<batch>"
    ) -> Path | None:
        """Atomically write one batch of records for `model`; returns the file, None if empty."""
        if table.num_rows == 0:
            return None
        table = conform(table, source=source)
        d = self.run_dir(model, run_id)
        d.mkdir(parents=True, exist_ok=True)
        final = d / f"part-{time.time_ns()}-{secrets.token_hex(3)}.parquet"
        return atomic_write(final, lambda tmp: pq.write_table(table, tmp, compression="zstd"))

    def write_manifest(self, model: str, run_id: str, manifest: dict[str, Any]) -> Path:
        d = self.run_dir(model, run_id)
        d.mkdir(parents=True, exist_ok=True)
        path = d / MANIFEST
        body = {"model": model, "run_id": run_id, **manifest}
        atomic_write_bytes(path, json.dumps(body, indent=2, sort_keys=True, default=str).encode())
        return path

    def read_manifest(self, model: str, run_id: str) -> dict[str, Any] | None:
        path = self.run_dir(model, run_id) / MANIFEST
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ForgetmapError(f"{path}: corrupt manifest ({exc})") from None

    # -- reading -------------------------------------------------------------------------------
    def files(self, models: Sequence[str] | None = None) -> list[Path]:
        """Visible Parquet files, for all models or for the given model ids."""
        if not self.root.exists():
            raise ForgetmapError(f"results directory {self.root} does not exist")
        if models is None:
            dirs = [
                p for p in sorted(self.root.iterdir()) if p.is_dir() and not p.name.startswith(".")
            ]
        else:
            dirs = [self.root / model_slug(m) for m in models]
        return [
            f
            for d in dirs
            if d.exists()
            for f in sorted(d.glob("*/*.parquet"))
            if not f.name.startswith(".")
        ]

    def models(self) -> list[str]:
        """Model ids present in the store (read from the data, not the slugs)."""
        files = self.files()
        if not files:
            return []
        col = _dataset(files).to_table(columns=["model"]).column("model")
        return sorted(set(col.unique().to_pylist()))

    def runs(self, model: str) -> list[str]:
        d = self.root / model_slug(model)
        return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.exists() else []

    def read(
        self,
        models: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        filter: Any = None,
    ) -> pa.Table:
        """All records (of `models`), as one Arrow table with RECORD_SCHEMA (or `columns`)."""
        if models is not None:
            self._check_models(models)
        files = self.files(models)
        if not files:
            return RECORD_SCHEMA.empty_table().select(
                list(columns) if columns else RECORD_SCHEMA.names
            )
        return read_records(files, columns=columns, filter=filter)

    def _check_models(self, models: Iterable[str]) -> None:
        missing = [m for m in models if not (self.root / model_slug(m)).is_dir()]
        if missing:
            known = (
                [p.name.replace("__", "/") for p in self.root.iterdir() if p.is_dir()]
                if self.root.exists()
                else []
            )
            raise ForgetmapError(
                f"model(s) {', '.join(map(repr, missing))} not found in {self.root}; "
                f"known models: {', '.join(sorted(known)) or 'none'}"
            )

    def duckdb(self, models: Sequence[str] | None = None):  # -> duckdb.DuckDBPyConnection
        """A DuckDB connection with a `records` view over the store's Parquet files."""
        import duckdb

        con = duckdb.connect()
        files = [str(f) for f in self.files(models)]
        if files:
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW records AS SELECT * FROM read_parquet([{listing}])")
        else:
            con.register("records", RECORD_SCHEMA.empty_table())
        return con


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
    except (pa.ArrowInvalid, OSError) as exc:
        for p in paths:  # find the culprit for a precise message
            try:
                pq.read_schema(p)
            except Exception as inner:  # noqa: BLE001 - any failure here is the corrupt file
                raise ForgetmapError(
                    f"{p}: not a readable Parquet records file ({inner})"
                ) from None
        raise ForgetmapError(f"reading records failed: {exc}") from None
