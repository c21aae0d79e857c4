"""`forgetmap data pull|check`: get the official benchmark files, and verify a data folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.suite.check import BenchmarkCheck, check_folder
from forgetmap.suite.datafiles import DataFile, registry_files
from forgetmap.suite.pull import PullReport, pull
from forgetmap.suite.registry import all_tasks, list_tasks

err = Console(stderr=True, soft_wrap=True)


def _out() -> Console:
    out = Console()
    return out if out.is_terminal else Console(width=160)


def _benchmarks(suite: str | None, benchmarks: str | None) -> list[str] | None:
    """Benchmarks named by --benchmarks and/or those of --suite; None: all of them."""
    chosen: list[str] = []
    known = list(dict.fromkeys(t.benchmark for t in all_tasks() if t.local_paths))
    if suite:
        chosen += [t.benchmark for t in list_tasks(suite) if t.local_paths]
    for name in (benchmarks or "").split(","):
        name = name.strip()
        if not name:
            continue
        if name not in known:
            raise ForgetmapError(f"unknown benchmark {name!r} (benchmarks: {', '.join(known)})")
        chosen.append(name)
    return list(dict.fromkeys(chosen)) if (suite or benchmarks) else None


def _pins(revision: tuple[str, ...]) -> dict[str, str]:
    pins = {}
    for r in revision:
        bench, sep, commit = r.partition("=")
        if not sep or not bench or not commit:
            raise ForgetmapError(f"--revision {r!r}: expected BENCHMARK=COMMIT")
        pins[bench.strip()] = commit.strip()
    return pins


F = TypeVar("F", bound=Callable[..., Any])

_select = [
    click.option("--suite", default=None, help="The benchmarks of a named suite (paper, ...)."),
    click.option("--benchmarks", default=None, help="Comma-separated benchmarks (mmlu,bbh,...)."),
]


def _with_select(f: F) -> F:
    for opt in reversed(_select):
        f = opt(f)
    return f


@click.group("data")
def data_group() -> None:
    """Benchmark data: pull the official files from the Hugging Face Hub, check a data folder."""


def _pull_table(report: PullReport, files: list[DataFile]) -> Table:
    t = Table(title="forgetmap data pull")
    for c in ("benchmark", "files", "written", "already complete", "status"):
        t.add_column(c, justify="left" if c in ("benchmark", "status") else "right")
    for bench in dict.fromkeys(f.benchmark for f in files):
        n = sum(f.benchmark == bench for f in files)
        failed = report.failed.get(bench)
        t.add_row(
            bench,
            str(n),
            str(len(report.written.get(bench, []))),
            str(len(report.kept.get(bench, []))),
            "[red]failed[/]" if failed else "[green]ok[/]",
        )
    return t


@data_group.command("pull")
@click.option(
    "--to", "to", required=True, type=click.Path(file_okay=False), help="Data folder to write."
)
@_with_select
@click.option(
    "--revision",
    multiple=True,
    metavar="BENCHMARK=COMMIT",
    help="Pin a benchmark's Hub dataset to a commit (repeatable; default: the registry's).",
)
@click.option("--all-splits", is_flag=True, help="Every declared split, not only those read.")
@click.option("--force", is_flag=True, help="Fetch again files that are already complete.")
def pull_command(
    to: str,
    suite: str | None,
    benchmarks: str | None,
    revision: tuple[str, ...],
    all_splits: bool,
    force: bool,
) -> None:
    """Fetch the official benchmark files into the layout the loaders read, with MANIFEST.json
    (sources, resolved commits, sha256 and row counts). Rerun to resume."""
    files = registry_files(
        _benchmarks(suite, benchmarks), all_splits=all_splits, revisions=_pins(revision)
    )
    with Progress(
        TextColumn("[bold]pull[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        bar = progress.add_task("", total=len(files))

        def on_file(f: DataFile, outcome: str) -> None:
            progress.update(bar, advance=1, description=f"{f.benchmark}: {f.path}")

        report = pull(files, Path(to), force=force, on_file=on_file)
    out = _out()
    out.print(_pull_table(report, files))
    for bench, notes in report.optional.items():
        for note in notes:
            out.print(
                f"[yellow]optional[/] {bench}: {note} (few-shot examples will come from the evaluated split)"
            )
    for bench, msg in report.failed.items():
        out.print(
            f"[red]failed[/] {msg}" if msg.startswith(bench) else f"[red]failed[/] {bench}: {msg}"
        )
    if report.failed:
        raise DataError(
            f"{len(report.failed)} benchmark(s) not pulled ({', '.join(report.failed)}); the "
            f"rest is in {to}: `forgetmap data check {to}`"
        )
    out.print(f"pulled into {to}; verify with `forgetmap data check {to}`")


def _check_table(results: list[BenchmarkCheck], root: Path) -> Table:
    t = Table(title=f"forgetmap data check {root}")
    for c in ("benchmark", "files", "items", "official", "sha256 (manifest)", "status"):
        t.add_column(
            c, justify="left" if c in ("benchmark", "sha256 (manifest)", "status") else "right"
        )
    style = {"ok": "[green]ok[/]", "absent": "[yellow]absent[/]", "mismatch": "[red]mismatch[/]"}
    for r in results:
        absent = r.status == "absent"
        t.add_row(
            r.benchmark,
            f"{r.files_present}/{r.files_expected}",
            "–" if absent else f"{r.items:,}" + (f" (+{r.skipped} skipped)" if r.skipped else ""),
            "–" if r.official is None else f"{r.official:,}",
            "–" if absent else r.hashes,
            style[r.status],
        )
    return t


@data_group.command("check")
@click.argument("folder", type=click.Path(file_okay=False))
@_with_select
@click.option("--require-all", is_flag=True, help="An absent benchmark is a failure too.")
def check_command(
    folder: str, suite: str | None, benchmarks: str | None, require_all: bool
) -> None:
    """Verify a data folder against the registry: files present, item counts equal to the
    official counts, hashes equal to MANIFEST.json. Exit 2 on a mismatch, naming the file."""
    root = Path(folder)
    wanted = _benchmarks(suite, benchmarks)
    files = registry_files(wanted)
    tasks = [t for t in all_tasks() if t.local_paths and (wanted is None or t.benchmark in wanted)]
    with err.status(f"checking {root}"):
        results = check_folder(root, files, tasks, lambda t: getattr(t, "n_items", None))
    out = _out()
    out.print(_check_table(results, root))
    for r in results:
        for note in r.notes:
            out.print(f"[dim]{r.benchmark}: {note}[/]")
    problems = [p for r in results for p in r.problems]
    for p in problems:
        out.print(f"[red]mismatch[/] {p}")
    absent = [r.benchmark for r in results if r.status == "absent"]
    if problems:
        raise DataError(f"{root}: {len(problems)} mismatch(es), first: {problems[0]}")
    if absent and require_all:
        raise DataError(f"{root}: absent benchmark(s): {', '.join(absent)}")
    present = len(results) - len(absent)
    tail = f"; absent: {', '.join(absent)}" if absent else ""
    out.print(f"{root}: {present} benchmark(s) match the registry{tail}")


commands: list[click.Command] = [data_group]
