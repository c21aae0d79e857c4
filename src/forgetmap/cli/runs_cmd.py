"""`forgetmap runs`: every run in a results directory with its status (complete, running,
interrupted), record count and origin — a killed run shows as interrupted, never as running."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forgetmap.cli.options import results_option
from forgetmap.records import ResultsStore, RunInfo

STYLE = {"complete": "green", "running": "cyan", "interrupted": "yellow", "unknown": "dim"}


def runs_table(infos: list[RunInfo], title: str) -> Table:
    t = Table(title=title)
    t.add_column("model", overflow="fold")
    t.add_column("run", no_wrap=True)
    t.add_column("status", no_wrap=True, min_width=11)
    t.add_column("records", justify="right", no_wrap=True)
    for c in ("source", "started", "finished / pid"):
        t.add_column(c, overflow="fold")
    for r in infos:
        j = r.to_json()
        last = f"pid {j['pid']} on {j['host']}" if r.status == "running" else (j["finished"] or "")
        t.add_row(
            escape(r.model),
            escape(r.run_id),
            f"[{STYLE.get(r.status, 'white')}]{r.status}[/]",
            f"{r.n_records:,}",
            escape(str(j["source"] or "")),
            str(j["started"] or ""),
            escape(str(last)),
        )
    return t


def interrupted_notes(infos: list[RunInfo]) -> list[str]:
    """One line per run that did not finish: killed (interrupted) or still running."""
    notes = []
    for r in infos:
        if r.status == "interrupted":
            notes.append(
                f"run {r.run_id} of {r.model} was interrupted ({r.n_records:,} records); "
                "rerun the same `forgetmap eval` to complete it"
            )
        elif r.status == "running":
            notes.append(
                f"run {r.run_id} of {r.model} is still running (pid {r.pid}); records it has not "
                "written yet are missing"
            )
    return notes


@click.command("runs")
@results_option()
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
def runs_cmd(results: Path, models: tuple[str, ...], as_json: bool) -> None:
    """List the runs of a results directory: status, records, backend or import tool, times."""
    store = ResultsStore(results)
    if models:
        store._check_models(models)
    infos = store.run_infos(list(models) or None)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in infos], indent=2))
        return
    Console(soft_wrap=True).print(runs_table(infos, f"runs in {results}"))


commands = [runs_cmd]
