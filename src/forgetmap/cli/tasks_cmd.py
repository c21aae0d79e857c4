"""`forgetmap tasks`: the task registry with item counts and k read from the data."""

from __future__ import annotations

import json
import sys
import warnings
from collections import Counter
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from forgetmap.errors import DataError
from forgetmap.suite.data import SOURCES, default_source
from forgetmap.suite.data import data_dir as resolve_data_dir
from forgetmap.suite.loaders import DataWarning
from forgetmap.suite.protocol import Protocol, load_protocol
from forgetmap.suite.registry import TaskSpec, list_tasks


def task_row(
    spec: TaskSpec,
    data_dir: str | None,
    source: str | None,
    count: bool,
    protocol: Protocol | None = None,
) -> dict[str, Any]:
    """One registry row; with `count`, n_items and per-item k from the loaded data (the items
    evaluated under `protocol`: its exemplars from the evaluated split are left out and listed)."""
    protocol = protocol or load_protocol(None)
    row: dict[str, Any] = {
        "task": spec.name,
        "benchmark": spec.benchmark,
        "subset": spec.subset,
        "category": spec.category,
        "split": spec.split,
        "free_form": spec.free_form,
        "in_aggregate": spec.in_aggregate,
        "answer_mode": spec.answer_mode,
        "scorer": spec.scorer,
        "k": None if spec.free_form else (spec.k if spec.k is not None else "varies"),
        "protocol": protocol.name,
        "chance_k": protocol.for_task(spec)["chance_k"],
    }
    if spec.k_nominal is not None:
        row["k_nominal"] = spec.k_nominal
    row["n_official"] = spec.n_items  # the registry's official count (None: undeclared)
    if not count:
        return row
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # reported in the row instead
            loaded = protocol.load(spec, data_dir=data_dir, source=source)
    except DataError as exc:
        row.update(n_items=None, error=str(exc))
        return row
    ks = Counter(it.k for it in loaded.items if it.k is not None)
    row.update(
        n_items=loaded.n_items,
        k=None if spec.free_form else (next(iter(ks)) if len(ks) == 1 else "varies"),
        k_min=min(ks) if ks else None,
        k_max=max(ks) if ks else None,
        k_counts={str(k): n for k, n in sorted(ks.items())} if len(ks) > 1 else None,
        n_skipped=len(loaded.skipped),
        skipped=[str(s) for s in loaded.skipped],
        n_repaired=len(loaded.repaired),
        n_excluded=len(loaded.excluded),
        excluded=list(loaded.excluded),
        source=loaded.source,
    )
    return row


def _k_cell(row: dict[str, Any]) -> str:
    if row["free_form"]:
        return "free-form"
    if row.get("k") == "varies" and row.get("k_min") is not None:
        return f"varies ({row['k_min']}–{row['k_max']})"
    return str(row.get("k"))


@click.command("tasks")
@click.option("--suite", "suite", default=None, help="Named suite (paper, paper-base, quick, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON on stdout.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of official benchmark files (default: $FORGETMAP_DATA_DIR).",
)
@click.option(
    "--source",
    type=click.Choice(SOURCES),
    default=None,
    help="Where items come from: local files, the Hub, or auto (default: $FORGETMAP_SOURCE or local).",
)
@click.option("--no-count", is_flag=True, help="List the registry only; do not load any data.")
@click.option(
    "--protocol",
    default=None,
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
    for col, just in [("task", "left"), ("benchmark", "left"), ("category", "left"),
                      ("n_items", "right"), ("official", "right"), ("k", "left")]:  # fmt: skip
        table.add_column(col, justify=just)
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
                    f"[cyan]excluded[/] {r['task']}: {len(r['excluded'])} item(s) serve as "
                    f"exemplars of protocol {proto.name} and are not evaluated: "
                    f"{', '.join(r['excluded'])}"
                )


commands: list[click.Command] = [tasks_command]
