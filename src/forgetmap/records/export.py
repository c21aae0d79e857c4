"""Records out of a results directory as one flat file (`forgetmap export`): Parquet, JSON Lines or
CSV, chosen by the file suffix (or `fmt`), written atomically; a device, pipe or symlink is
written through (`/dev/stdout`), never replaced."""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from forgetmap.atomic import atomic_write, check_output
from forgetmap.errors import ForgetmapError
from forgetmap.records.schema import CONTRACT_COLUMNS
from forgetmap.records.store import ResultsStore

FORMATS = (".parquet", ".jsonl", ".csv")


def export_records(
    store: ResultsStore,
    out: str | os.PathLike[str],
    models: Sequence[str] | None = None,
    all_columns: bool = False,
    fmt: str | None = None,
) -> pa.Table:
    """Write the records of `models` (all by default) to `out`, sorted by model, task and seed;
    only the contract columns (docs/records.md) unless `all_columns`. Returns the table written."""
    out = Path(out)
    check_format(out, fmt)
    check_output(out)  # a directory, or a path under a file: before reading anything
    store.check_root()
    table = store.read(models=list(models) if models else None)
    if table.num_rows == 0:
        raise ForgetmapError(f"no records in {store.root}")
    if not all_columns:
        table = table.select(list(CONTRACT_COLUMNS))
    table = table.sort_by([("model", "ascending"), ("task", "ascending"), ("seed", "ascending")])
    write_table(table, out, fmt)
    return table


def check_format(out: Path, fmt: str | None = None) -> None:
    if fmt is not None and "." + fmt not in FORMATS:
        raise ForgetmapError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt is None and out.suffix.lower() not in FORMATS:
        raise ForgetmapError(
            f"--out {out}: unsupported format; use one of {', '.join(FORMATS)} (or --format)"
        )


def write_table(table: pa.Table, out: Path, fmt: str | None = None) -> None:
    """Write `table` as Parquet, JSON Lines or CSV (`fmt`, else by suffix), atomically."""
    check_format(out, fmt)
    suffix = "." + fmt if fmt else out.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        atomic_write(out, lambda p: pq.write_table(table, p, compression="zstd"))
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        atomic_write(out, lambda p: pacsv.write_csv(flat_lists(table), str(p)))
    else:
        import duckdb

        def write(p: Path) -> None:
            con = duckdb.connect()
            try:
                con.register("t", table)
                con.execute(f"COPY t TO '{_sql_path(p)}' (FORMAT JSON)")
            except duckdb.IOException as exc:  # e.g. a full disk: an OSError for atomic_write
                found = re.search(r'"errno":\s*"?(\d+)', str(exc))
                code = int(found.group(1)) if found else errno.EIO
                raise OSError(code, os.strerror(code)) from None
            finally:
                con.close()

        atomic_write(out, write)


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


def flat_lists(table: pa.Table) -> pa.Table:
    """CSV cannot hold lists: list columns become JSON strings."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            vals = [None if v is None else json.dumps(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(vals, pa.string()))
    return table
