"""`forgetmap tasks`: the task registry with item counts and k read from the data."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from forgetmap.cli.options import data_dir_option, protocol_option
from forgetmap.suite.data import SOURCES, default_source
from forgetmap.suite.data import data_dir as resolve_data_dir
from forgetmap.suite.protocol_loader import load_protocol
from forgetmap.suite.registry import list_tasks
from forgetmap.suite.task_table import task_row


def _k_cell(row: dict[str, Any]) -> str:
    if row["free_form"]:
        return "free-form"
    if row.get("k") == "varies" and row.get("k_min") is not None:
        return f"varies ({row['k_min']}–{row['k_max']})"
    return str(row.get("k"))


@click.command("tasks")
@click.option("--suite", "suite", default=None, help="Named suite (paper, paper-base, quick, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON on stdout.")
@data_dir_option()
@click.option(
    "--source",
    type=click.Choice(SOURCES),
    default=None,
    help="Where items come from: local files, the Hub, or auto (default: $FORGETMAP_SOURCE or local).",
)
@click.option("--no-count", is_flag=True, help="List the registry only; do not load any data.")
@protocol_option(
    help="Count the items evaluated under this protocol (its exemplars taken from an evaluated "
    "split are left out and listed); default forgetmap.",
)
def tasks_command(
    suite: str | None,
    as_json: bool,
    data_dir: str | None,
    source: str | None,
    no_count: bool,
    protocol: str | None,
) -> None:
    """List tasks: benchmark, category, number of items and options per item (k)."""
    specs = list_tasks(suite)
    proto = load_protocol(protocol)
    count = not no_count
    if count and default_source(source) == "local":
        data_dir = str(resolve_data_dir(data_dir))  # a missing data dir is one clear error
    rows: list[dict[str, Any]] = []
    err = Console(stderr=True)
    with Progress(
        TextColumn("[bold]loading[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not count or not err.is_terminal,
    ) as progress:
        bar = progress.add_task("", total=len(specs))
        for spec in specs:
            progress.update(bar, description=spec.name)
            rows.append(task_row(spec, data_dir, source, count, proto))
            progress.advance(bar)
    if as_json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    title = f"forgetmap tasks ({suite or 'all'}: {len(rows)}; protocol {proto.name})"
    table = Table(title=title)
    for col in ("task", "benchmark", "category", "n_items", "official", "k"):
        table.add_column(col, justify="right" if col in ("n_items", "official") else "left")
    if count:
        table.add_column("skipped", justify="right")
    for r in rows:
        n = "missing" if count and r.get("n_items") is None else str(r.get("n_items", "–"))
        official = "–" if r["n_official"] is None else str(r["n_official"])
        cells = [r["task"], r["benchmark"], r["category"] or "–", n, official, _k_cell(r)]
        if count:
            cells.append(str(r.get("n_skipped", "–")))
        style = "red" if count and r.get("error") else ("dim" if not r["in_aggregate"] else None)
        table.add_row(*cells, style=style)
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)  # pipes and logs: do not squeeze task names into 80 columns
    out.print(table)
    if count:
        total = sum(r.get("n_items") or 0 for r in rows)
        out.print(f"{total:,} items in {sum(r.get('n_items') is not None for r in rows)} tasks")
        for r in rows:
            if r.get("error"):
                out.print(f"[red]missing[/] {r['task']}: {r['error']}")
            for s in r.get("skipped") or []:
                out.print(f"[yellow]skipped[/] {r['task']}: {s}")
            read = (r.get("n_items") or 0) + r.get("n_skipped", 0) + r.get("n_excluded", 0)
            if r.get("n_items") is not None and r["n_official"] not in (None, read):
                out.print(
                    f"[red]count[/] {r['task']}: {read} items in {r.get('source')}, official "
                    f"count {r['n_official']} (`forgetmap data check` names the file)"
                )
            if r.get("excluded"):
                out.print(
                    f"[cyan]excluded[/] {r['task']}: {len(r['excluded'])} item(s) not evaluated "
                    f"under protocol {proto.name} ({proto.excluded_reason()}): "
                    f"{', '.join(r['excluded'])}"
                )


commands: list[click.Command] = [tasks_command]
