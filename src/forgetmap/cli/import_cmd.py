"""`forgetmap import …`: bring per-sample logs of other tools (or a flat table) into a results dir."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forgetmap.cli.options import data_dir_option, results_option
from forgetmap.importers import (
    ImportedRun,
    describe_seeds,
    get_importer,
    reextract_runs,
    write_runs,
)
from forgetmap.records import DUPLICATE_POLICIES

if TYPE_CHECKING:
    from forgetmap.importers.post_forget import PostForgetImport

console = Console(stderr=True)

_results = results_option(help="Results directory to write the records into.")
_model = click.option(
    "--model", "model", default=None, help="Model name to record (overrides the log's)."
)
_reextract = click.option(
    "--reextract",
    is_flag=True,
    help="Recompute pred/extract_status/correct from the raw responses with forgetmap's extractor.",
)
_force = click.option("--force", is_flag=True, help="Replace runs that were already imported.")
_on_duplicate = click.option(
    "--on-duplicate",
    type=click.Choice(DUPLICATE_POLICIES),
    default="error",
    show_default=True,
    help="Records whose (task, item_id, seed) another run of the model already stored: refuse "
    "the import naming them, keep the stored rows, or replace them with the imported ones.",
)
_seed = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Sampling seed of the run (overrides the log's; repeats/epochs still get their own "
    "labels, see docs/importers.md).",
)
_strict = click.option(
    "--strict",
    is_flag=True,
    help="Stop at the first log that cannot be imported (default: import the others, list it).",
)


@click.group("import")
def import_group() -> None:
    """Import per-sample logs: a flat table, lm-eval, lighteval, inspect_ai, OpenCompass, HELM,
    or the study's released results (post-forget)."""


def _finish(
    runs: Sequence[ImportedRun],
    results: Path,
    reextract: bool,
    force: bool,
    on_duplicate: str = "error",
) -> None:
    refused = list(getattr(runs, "refused", []))
    if reextract:
        runs = reextract_runs(runs)
    summary = write_runs(runs, results, force=force, on_duplicate=on_duplicate)
    t = Table(title=f"imported into {results}", show_lines=False)
    for c in ("model", "records", "tasks", "seeds", "accuracy"):
        t.add_column(
            c, justify="right" if c in ("records", "accuracy") else "left", overflow="fold"
        )
    done = {(m, r) for m, r, _ in summary.written}
    written = [run for run in runs if (run.model, run.run_id) in done]
    for run in written:
        t.add_row(*_summary_row(run))
    if written:
        console.print(t)
    for run in written:  # which filter / scorer decided `correct`, per run (and task)
        by = "forgetmap's extractor (--reextract)" if reextract else _scorers_text(run)
        seeds = describe_seeds(run.table.column("seed").to_pylist())
        console.print(
            f"run {run.run_id} ({escape(run.model)}): seeds {seeds}; scored by {escape(by)}"
        )
    for run in runs:
        for note in run.notes:
            console.print(f"[yellow]note[/] {escape(note)}")
    ignored = sorted({c for run in runs for c in run.manifest.get("ignored_columns", [])})
    if ignored:
        console.print(
            f"[yellow]note[/] columns not in the record schema were not imported: {', '.join(ignored)}"
        )
    for m, r in summary.skipped:
        console.print(f"[yellow]skipped[/] {m} run {r}: already imported (use --force to replace)")
    for m, r, stored in summary.same_run:
        console.print(
            f"[yellow]skipped[/] {m} run {r}: the same source run is already stored as run "
            f"{stored} (use --force to replace it)"
        )
    for m, r, n_skip, n_repl in summary.duplicates:
        what = (
            f"{n_skip} already stored by another run (kept those)"
            if n_skip
            else f"{n_repl} replaced (rows of other runs with the same keys removed)"
        )
        console.print(f"[yellow]duplicates[/] {escape(m)} run {r}: {what}")
    for ref in refused:
        console.print(f"[red]refused[/] {escape(ref.source)}: {escape(ref.reason)}")
    console.print(
        f"{sum(n for _, _, n in summary.written)} records in {len(summary.written)} run(s) written"
        + (
            f", {len(summary.skipped) + len(summary.same_run)} already present"
            if summary.skipped or summary.same_run
            else ""
        )
        + (f", {len(refused)} log(s) refused" if refused else "")
    )


def _summary_row(run: ImportedRun) -> tuple[str, ...]:
    tab = run.table
    tasks = sorted(set(tab.column("task").to_pylist()))
    correct = [c for c in tab.column("correct").to_pylist() if c is not None]
    acc = f"{sum(correct) / len(correct):.3f}" if correct else "-"
    return (
        run.model,
        str(tab.num_rows),
        ", ".join(tasks[:3]) + (f" (+{len(tasks) - 3})" if len(tasks) > 3 else ""),
        describe_seeds(tab.column("seed").to_pylist()),
        acc,
    )


def _scorers_text(run: ImportedRun) -> str:
    """`strict-match/exact_match` when every task used one scorer, else `task: scorer` pairs
    (from the manifest's `scorers`, else the records' extract_rule)."""
    scorers = run.manifest.get("scorers") or {}
    if not scorers and "extract_rule" in run.table.column_names:
        rules = sorted({r for r in run.table.column("extract_rule").to_pylist() if r})
        return ", ".join(rules[:3]) or "-"
    values = sorted(set(scorers.values()))
    if len(values) <= 1:
        return values[0] if values else "-"
    return "; ".join(f"{t}: {s}" for t, s in sorted(scorers.items()))


@import_group.command("table")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_results
@_model
@_reextract
@_force
@_on_duplicate
def import_table_cmd(
    paths: tuple[str, ...],
    results: Path,
    model: str | None,
    reextract: bool,
    force: bool,
    on_duplicate: str,
) -> None:
    """Flat CSV/JSONL/Parquet tables with the record columns (model, task, item_id, seed, correct,
    …; category and n_choices optional)."""
    from forgetmap.importers.table import import_table

    _finish(import_table(paths, model=model), results, reextract, force, on_duplicate)


def _tool_command(tool: str, help_text: str, extra: Sequence = ()) -> click.Command:
    @click.command(tool, help=help_text)
    @click.argument("path", type=click.Path())
    @_results
    @_model
    @_seed
    @_reextract
    @_force
    @_strict
    @_on_duplicate
    def cmd(
        path: str,
        results: Path,
        model: str | None,
        seed: int | None,
        reextract: bool,
        force: bool,
        strict: bool,
        on_duplicate: str,
        **kw,
    ) -> None:
        kw = {k: v for k, v in kw.items() if v is not None and v != ()}
        runs = get_importer(tool)(path, model=model, seed=seed, strict=strict, **kw)
        _finish(runs, results, reextract, force, on_duplicate)

    for opt in extra:
        cmd = opt(cmd)
    return cmd


_metric = click.option("--metric", default=None, help="Per-sample metric that decides `correct`.")

import_group.add_command(
    _tool_command(
        "lm-eval",
        "lm-evaluation-harness logs: samples_<task>_<date>.jsonl (+ results_<date>.json). PATH is a "
        "file or a directory to search (run with --log_samples).",
        [
            _metric,
            click.option(
                "--filter",
                "filter_name",
                multiple=True,
                help="Filter whose answers to import: NAME (for every task that has it; the "
                "others keep their first filter) or TASK=NAME; repeatable. Default: each "
                "task's first filter.",
            ),
        ],
    )
)
import_group.add_command(
    _tool_command(
        "lighteval",
        "lighteval logs: details_<task>_<timestamp>.parquet (+ results_<timestamp>.json for model and "
        "seed). PATH is a file or a directory to search (run with --save-details).",
        [_metric],
    )
)
import_group.add_command(
    _tool_command(
        "inspect",
        "inspect_ai logs (.eval or .json). PATH is a file or a directory to search.",
        [
            click.option(
                "--scorer",
                default=None,
                help="Scorer whose value decides `correct` (default: first).",
            )
        ],
    )
)
import_group.add_command(
    _tool_command(
        "opencompass",
        "OpenCompass outputs: predictions/<model>/<dataset>.json (+ results/<model>/<dataset>.json). "
        "PATH is a file or a directory to search (e.g. outputs/default/<timestamp>).",
    )
)
import_group.add_command(
    _tool_command(
        "helm",
        "HELM run directories (benchmark_output/runs/<suite>/<run>/ with run_spec.json, "
        "instances.json, display_predictions.json). PATH is a run dir or a directory to search.",
        [_metric],
    )
)


@import_group.command("post-forget")
@click.option(
    "--revision",
    default=None,
    help="Dataset revision (commit) to download; default: the pinned one.",
)
@click.option(
    "--source",
    type=click.Path(),
    default=None,
    help="Use an already downloaded copy (same layout) instead of the Hub.",
)
@data_dir_option(
    help="Benchmark files to align the items with (default: $FORGETMAP_DATA_DIR); without them "
    "items get a normalised question hash."
)
@_results
@_reextract
@_force
@_on_duplicate
def import_post_forget_cmd(
    revision: str | None,
    source: str | None,
    data_dir: str | None,
    results: Path,
    reextract: bool,
    force: bool,
    on_duplicate: str,
) -> None:
    """The study's released per-sample results (Hugging Face dataset post-forget/post-forget,
    lighteval details/results per model), downloaded at a pinned revision and imported, items
    aligned with the suite's by content so base and post-trained models pair."""
    from forgetmap.importers.post_forget import import_post_forget

    report: list[PostForgetImport] = []
    runs = import_post_forget(revision=revision, source=source, data_dir=data_dir, report=report)
    _finish(runs, results, reextract, force, on_duplicate)
    _post_forget_summary(report[0])


def _post_forget_summary(rep: PostForgetImport) -> None:
    """Tasks not fully aligned with the registry's items, and the re-runs that were left out."""
    rows = sum(a.rows for a in rep.alignment.values())
    aligned = sum(a.aligned for a in rep.alignment.values())
    console.print(
        f"items aligned with the benchmark files: {aligned} of {rows} records "
        f"({len(rep.alignment)} tasks); the rest pair by a normalised question hash"
    )
    for task, a in sorted(rep.alignment.items()):
        if a.aligned < a.rows or a.gold_disagrees:
            why = a.note or f"{a.rows - a.aligned} not found, {a.ambiguous} ambiguous"
            extra = f"; {a.gold_disagrees} with another gold" if a.gold_disagrees else ""
            console.print(f"[yellow]note[/] {escape(task)}: {escape(why)}{extra}")
    for s in rep.superseded[:10]:
        console.print(
            f"[yellow]superseded[/] {escape(s['model'])} {escape(s['task'])} seed {s['seed']}: "
            f"kept the run of {s['kept']}, left out {', '.join(s['superseded'])}"
        )
    if len(rep.superseded) > 10:
        console.print(f"[yellow]superseded[/] ... and {len(rep.superseded) - 10} more")


commands: list[click.Command] = [import_group]
