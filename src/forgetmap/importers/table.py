"""The flat table importer: CSV, JSONL or Parquet files with the record columns of docs/records.md.

This is the escape hatch for any tool without a dedicated importer: export one row per
(model, task, item_id, seed) with at least `model, task, item_id, seed, correct` (category and
n_choices optional) and import it. Files are read with Arrow (vectorised) and validated by
`forgetmap.records.conform`, whose errors name the file and the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    ImportedRun,
    file_digest,
    iter_jsonl,
    read_json,
)
from forgetmap.records import RECORD_SCHEMA, check_unique_keys, conform

SUFFIXES = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

# Read text-like columns as strings so ids such as "007" or gold letters never become numbers.
_STRING_COLUMNS = tuple(f.name for f in RECORD_SCHEMA if pa.types.is_string(f.type))


def read_table_file(path: Path) -> pa.Table:
    """Read one flat file by its suffix; unreadable content raises naming the file."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ForgetmapError(
            f"{path}: unsupported table format '{path.suffix}' (use .csv, .jsonl or .parquet)"
        )
    if not path.exists():
        raise ForgetmapError(f"{path}: no such file")
    try:
        if kind == "parquet":
            return pq.read_table(path)
        if kind == "csv":
            return pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in _STRING_COLUMNS},
                    strings_can_be_null=True,
                ),
            )
        if path.suffix.lower() == ".json":
            return _read_json_array(path)
        return _read_jsonl(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: cannot read as {kind} ({_short(exc)})") from None


def _read_jsonl(path: Path) -> pa.Table:
    try:
        return pajson.read_json(path)
    except pa.ArrowInvalid as exc:
        # Arrow says what is wrong but not on which line: re-scan to name file:line.
        for _ in iter_jsonl(path):
            pass
        raise DataError(f"{path}: cannot read as JSON lines ({_short(exc)})") from None


def _read_json_array(path: Path) -> pa.Table:
    data = read_json(path)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: a .json table must be a JSON array of row objects")
    return pa.Table.from_pylist(data)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]


def import_table(paths: Sequence[str | Path], model: str | None = None) -> list[ImportedRun]:
    """Import flat tables; one run per (file, model). `model` overrides/fills the model column."""
    if not paths:
        raise ForgetmapError("import table: give at least one file")
    runs: list[ImportedRun] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            raise ForgetmapError(f"{path}: is a directory; give the table file(s) themselves")
        table = read_table_file(path)
        if model is not None:
            col = pa.array([model] * table.num_rows, pa.string())
            if "model" in table.column_names:
                table = table.set_column(table.column_names.index("model"), "model", col)
            else:
                table = table.append_column("model", col)
        if table.num_rows == 0:
            raise DataError(f"{path}: the table has no rows")
        records = conform(table, source=str(path))
        ignored = [c for c in table.column_names if c not in RECORD_SCHEMA.names]
        _check_values(records, path)
        check_unique_keys(records, str(path))
        digest = file_digest([path])
        for m in sorted(records.column("model").unique().to_pylist()):
            part = records.filter(pc.equal(records["model"], m))
            runs.append(
                ImportedRun(
                    model=m,
                    run_id=f"table-{digest}",
                    table=part,
                    manifest={
                        "tool": "table",
                        "source_files": [str(path)],
                        "ignored_columns": ignored,
                    },
                    sources=[str(path)],
                )
            )
    return runs


def _check_values(t: pa.Table, path: Path) -> None:
    """Values the schema types cannot express: k must be >= 0 (0/null = free-form)."""
    k = t.column("n_choices")
    neg = pc.fill_null(pc.less(k, 0), False)
    if pc.any(neg).as_py():
        i = pc.index(neg, True).as_py()
        raise DataError(f"{path}: column 'n_choices' row {i}: {k[i].as_py()} is negative")
