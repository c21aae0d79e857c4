"""`forgetmap export`: a results directory (or one model of it) as one flat table file."""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow.compute as pc
from rich.console import Console

from forgetmap.cli.options import results_option
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore
from forgetmap.records.export import check_format, export_records

err_console = Console(stderr=True)


@click.command("export")
@results_option()
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
    """Export per-sample records as a flat table with the contract columns (docs/records.md)."""
    check_format(out)
    if not results.is_dir():
        raise ForgetmapError(f"results directory {results} does not exist")
    table = export_records(ResultsStore(results), out, models, all_columns=all_columns)
    n_models = len(pc.unique(table.column("model")))
    err_console.print(f"wrote {table.num_rows:,} records of {n_models} model(s) to {out}")


commands = [export_cmd]
