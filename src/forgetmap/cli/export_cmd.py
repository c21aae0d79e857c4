"""`forgetmap export`: a results directory (or one model of it) as one flat table file."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console

from forgetmap.atomic import atomic_write
from forgetmap.errors import ForgetmapError
from forgetmap.records import CONTRACT_COLUMNS, ResultsStore

FORMATS = (".parquet", ".jsonl", ".csv")
err_console = Console(stderr=True)


def write_table(table: pa.Table, out: Path) -> None:
    """Write `table` as Parquet, JSON Lines or CSV (by suffix), atomically."""
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        atomic_write(out, lambda p: pq.write_table(table, p, compression="zstd"))
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        atomic_write(out, lambda p: pacsv.write_csv(_flat(table), str(p)))
    elif suffix == ".jsonl":
        import duckdb

        def write(p: Path) -> None:
            con = duckdb.connect()
            try:
                con.register("t", table)
                con.execute(f"COPY t TO '{_sql_path(p)}' (FORMAT JSON)")
            finally:
                con.close()

        atomic_write(out, write)
    else:
        raise ForgetmapError(f"--out {out}: unsupported format; use one of {', '.join(FORMATS)}")


def _sql_path(p: Path) -> str:
    return str(p).replace("'", "''")


def _flat(table: pa.Table) -> pa.Table:
    """CSV cannot hold lists: list columns become JSON strings."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            vals = [None if v is None else json.dumps(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(vals, pa.string()))
    return table


@click.command("export")
@click.option(
    "--results", required=True, type=click.Path(path_type=Path), help="Results directory."
)
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file: .parquet, .jsonl or .csv.",
)
@click.option(
    "--all-columns",
    is_flag=True,
    help="Also the added columns (question, choices, tokens, run_id...).",
)
def export_cmd(results: Path, models: tuple[str, ...], out: Path, all_columns: bool) -> None:
    """Export per-sample records as a flat table with the DESIGN section-3 columns."""
    if out.suffix.lower() not in FORMATS:
        raise ForgetmapError(f"--out {out}: unsupported format; use one of {', '.join(FORMATS)}")
    if not results.is_dir():
        raise ForgetmapError(f"results directory {results} does not exist")
    store = ResultsStore(results)
    table = store.read(models=list(models) or None)
    if table.num_rows == 0:
        raise ForgetmapError(f"no records in {results}")
    if not all_columns:
        table = table.select(list(CONTRACT_COLUMNS))
    table = table.sort_by([("model", "ascending"), ("task", "ascending"), ("seed", "ascending")])
    write_table(table, out)
    n_models = len(pc.unique(table.column("model")))
    err_console.print(f"wrote {table.num_rows:,} records of {n_models} model(s) to {out}")


commands = [export_cmd]
