"""`forgetmap export`: a results directory (or one model of it) as one flat table file."""

from __future__ import annotations

from pathlib import Path

import click
import pyarrow.compute as pc
from rich.console import Console
from rich.text import Text

from forgetmap.cli.options import results_option
from forgetmap.cli.runs_cmd import interrupted_notes
from forgetmap.records import ResultsStore
from forgetmap.records.export import FORMATS, check_format, export_records

err_console = Console(stderr=True, soft_wrap=True)


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
    "--format",
    "fmt",
    type=click.Choice([f[1:] for f in FORMATS]),
    default=None,
    help="Output format (default: from the --out suffix; needed for /dev/stdout or a pipe).",
)
@click.option(
    "--all-columns",
    is_flag=True,
    help="Also the added columns (question, choices, tokens, run_id...).",
)
def export_cmd(
    results: Path, models: tuple[str, ...], out: Path, fmt: str | None, all_columns: bool
) -> None:
    """Export per-sample records as a flat table with the contract columns (docs/records.md)."""
    check_format(out, fmt)
    store = ResultsStore(results)
    table = export_records(store, out, models, all_columns=all_columns, fmt=fmt)
    n_models = len(pc.unique(table.column("model")))
    err_console.print(f"wrote {table.num_rows:,} records of {n_models} model(s) to {out}")
    for note in interrupted_notes(store.run_infos(list(models) or None)):
        err_console.print(Text("note: ", style="yellow") + Text(note))


commands = [export_cmd]
