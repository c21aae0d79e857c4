"""`forgetmap study CONFIG [--dry-run] [--group G] --results DIR`: run a whole study grid."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from forgetmap.cli.options import data_dir_option, protocol_option, results_option

console = Console(stderr=True)


@click.command("study")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@results_option(
    help="Results directory (records of every model; resumable). Not needed with --dry-run.",
    required=False,
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Only this group or model set (evaluation mode), e.g. tuned, merge_base; repeatable.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the plan (models, pairs, merges, requests, tokens)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report directory (default: RESULTS/report).",
)
@click.option("--limit", type=int, help="At most N items per task (smoke runs).")
@data_dir_option()
@click.option("--no-report", is_flag=True, help="Evaluate and compare, but write no report.")
@protocol_option(
    help="Protocol (built-in name or YAML file) for models whose set does not name one; "
    "replaces the study's top-level `protocol` (docs/protocols.md).",
)
def study(config: Path, results: Path | None, groups: tuple[str, ...], dry_run: bool, out: Path | None,
          limit: int | None, data_dir: str | None, no_report: bool,
          protocol: str | None) -> None:  # fmt: skip
    """Evaluate each unique model of a study once, make its merges, compare all pairs, report."""
    from forgetmap.study.config import load_study
    from forgetmap.study.pipeline import make_plan, print_plan, run_study

    st = load_study(config, protocol=protocol)
    if dry_run:
        out_console = Console(soft_wrap=True)
        print_plan(make_plan(st, groups, limit=limit, data_dir=data_dir), out_console)
        return
    if results is None:
        raise click.UsageError("Missing option '--results' (needed unless --dry-run).")
    outcome = run_study(st, results, groups, out=out, limit=limit, data_dir=data_dir,
                        console=console, report=not no_report)  # fmt: skip
    console.print(f"compared {len(outcome.compared)} pair(s); results in {outcome.results}")
    if outcome.report:
        click.echo(str(outcome.report))


commands = [study]
