"""`forgetmap report`: compare pairs from a results directory and write tables, figures, HTML."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from forgetmap.atomic import check_output
from forgetmap.cli.options import chance_k_option, multi_answer_option, results_option
from forgetmap.errors import ForgetmapError

if TYPE_CHECKING:
    from forgetmap.analysis.results import Comparison

console = Console(stderr=True)


def study_groups(
    path: Path, only: Sequence[str] = ()
) -> tuple[dict[str, list[tuple[str, str]]], str]:
    """The report groups of a study config (`Study.report_groups`) and its title."""
    from forgetmap.study.config import load_study

    study = load_study(path)
    return study.report_groups(only), study.title or study.name


def _keep(
    groups: dict[str, list[tuple[str, str]]], have: set[tuple[str, str]], where: str
) -> dict[str, list[tuple[str, str]]]:
    """Keep the pairs in `have`; say which of the study's pairs are left out (none: an error)."""
    kept = {n: [p for p in ps if p in have] for n, ps in groups.items()}
    kept = {n: ps for n, ps in kept.items() if ps}
    missing = list(
        dict.fromkeys(f"{b} -> {a}" for ps in groups.values() for b, a in ps if (b, a) not in have)
    )
    if missing:
        console.print(
            f"[yellow]warning:[/] {len(missing)} pair(s) of the study have no results in "
            + escape(f"{where} and are left out: {', '.join(missing[:10])}")
            + (" ..." if len(missing) > 10 else ""),
            soft_wrap=True,
            highlight=False,
        )
    if not kept:
        raise ForgetmapError(f"none of the study's pairs has results in {where}")
    return kept


def _from_counts(
    counts_file: Path, groups: dict[str, list[tuple[str, str]]] | None, chance_k: str
) -> tuple[Comparison, dict[str, list[tuple[str, str]]]]:
    """The comparison drawn from a file of transition counts (the study's CSV), and the groups
    restricted to its pairs (all of them when none were asked for)."""
    from forgetmap.analysis.counts import STUDY_RULE, compare_counts
    from forgetmap.importers.post_forget import read_comparison_counts

    counts = read_comparison_counts(counts_file)
    befores, afters = counts.column("before").to_pylist(), counts.column("after").to_pylist()
    pairs_in = list(dict.fromkeys(zip(befores, afters, strict=True)))
    if groups is None:
        groups = {"All pairs": pairs_in}
    else:
        groups = _keep(groups, set(pairs_in), str(counts_file))
    wanted = list(dict.fromkeys(p for g in groups.values() for p in g))
    rule = STUDY_RULE if chance_k == "item" else chance_k
    return compare_counts(counts, chance_k=rule, source=str(counts_file), pairs=wanted), groups


@click.command("report")
@results_option(
    help="Results directory (records); needed for comparing and for the per-item drill-down.",
    required=False,
)
@click.option(
    "--pairs",
    "pairs_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File with one 'before<TAB>after' pair per line.",
)
@click.option(
    "--study",
    "study_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Study config (YAML): its groups become the report's groups.",
)
@click.option(
    "--group",
    "only_groups",
    multiple=True,
    help="With --study: only this group or model set (repeatable).",
)
@click.option(
    "--comparison",
    "comparison_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use a saved `compare --json` file instead of comparing again.",
)
@click.option(
    "--counts",
    "counts_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw from transition counts instead of records: the study's comparison_results_all.csv "
    "(columns task, seed, model_before, model_after, n, 0->0, 0->1, 1->0, 1->1); every pair in it "
    "unless --pairs/--study; --chance-k default there: the study's (4 outside BBH).",
)
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output dir."
)
@click.option("--title", default=None, help="Report title.")
@click.option(
    "--max-items",
    default=300,
    show_default=True,
    type=click.IntRange(min=0),
    help="Flipped items listed per pair in the HTML (all go to items/*.csv).",
)
@click.option(
    "--bootstrap",
    default=1000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Bootstrap resamples for the 95% CIs (per-task CSV).",
)
@chance_k_option()
@multi_answer_option()
@click.option(
    "--bracket",
    type=click.Choice(["ceiling", "accuracy"]),
    default="ceiling",
    show_default=True,
    help="What the tables' brackets show: the ceiling F_max/BT_max (as the study's tables) or "
    "the accuracy acc_pre/acc_post.",
)
@click.option(
    "--radar-scale",
    type=click.Choice(["auto", "study"]),
    default="auto",
    show_default=True,
    help="Radar charts' radial axis: fitted to the data, or the study's fixed 0-50 %.",
)
@click.option("--no-interactive", is_flag=True, help="Skip the plotly page.")
@click.option(
    "--formats",
    default="png,svg,pdf",
    show_default=True,
    help="Figure files to write (PNG always; the HTML embeds SVG when there is one).",
)
def report_command(
    results: Path | None,
    pairs_file: Path | None,
    study_file: Path | None,
    only_groups: tuple[str, ...],
    comparison_file: Path | None,
    counts_file: Path | None,
    out: Path,
    title: str | None,
    max_items: int,
    bootstrap: int,
    chance_k: str,
    multi_answer: str | None,
    bracket: str,
    radar_scale: str,
    no_interactive: bool,
    formats: str,
) -> None:
    """Tables (.tex/.md/.csv), figures (PNG/SVG/PDF) and one self-contained report.html.

    Compares the pairs of --pairs FILE or of a --study config's groups (or reads a saved
    --comparison) and writes everything under --out; prints where report.html is.
    """
    from forgetmap.records import ResultsStore
    from forgetmap.report.build import build_report

    given = comparison_file is not None or counts_file is not None
    if comparison_file is not None and counts_file is not None:
        raise ForgetmapError("give only one of --comparison FILE or --counts FILE")
    if not given and (pairs_file is None) == (study_file is None):
        raise ForgetmapError("give exactly one of --pairs FILE or --study CONFIG (or --comparison)")
    if pairs_file is not None and study_file is not None:
        raise ForgetmapError("give only one of --pairs FILE or --study CONFIG")
    if not given and results is None:
        raise ForgetmapError(
            "--results DIR is required (unless --comparison FILE or --counts FILE is given)"
        )
    check_output(out, directory=True)  # before the work, not after it
    store = ResultsStore(results) if results is not None else None
    if store is not None:
        store.check_root()

    groups: dict[str, list[tuple[str, str]]] | None = None
    if study_file is not None:
        groups, study_title = study_groups(study_file, only_groups)
        title = title or study_title
        if store is not None and not given:
            models = set(store.models())
            every = {p for ps in groups.values() for p in ps}
            groups = _keep(groups, {p for p in every if set(p) <= models}, str(store.root))
    elif only_groups:
        raise ForgetmapError("--group needs --study")
    elif pairs_file is not None:
        from forgetmap.analysis.pairing import read_pairs_file

        groups = {"All pairs": read_pairs_file(pairs_file)}

    if counts_file is not None:
        comparison, groups = _from_counts(counts_file, groups, chance_k)
    elif comparison_file is not None:
        from forgetmap.analysis.results import Comparison

        comparison = Comparison.load(comparison_file)
        have = {p.key for p in comparison.pairs}
        if groups is None:
            groups = {"All pairs": [p.key for p in comparison.pairs]}
        elif study_file is not None:
            groups = _keep(groups, have, str(comparison_file))
    else:
        from forgetmap.analysis.compare import compare

        if store is None or groups is None:  # ruled out by the checks above
            raise ForgetmapError("--results DIR and --pairs FILE or --study CONFIG are needed")
        wanted = list(dict.fromkeys(p for g in groups.values() for p in g))
        with (
            console.status(f"comparing {len(wanted)} pair(s)"),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            comparison = compare(
                store, wanted, bootstrap=bootstrap, chance_k=chance_k, multi_answer=multi_answer
            )
        for w in caught:  # one plain line each (they are in the report's summary too)
            console.print(f"[yellow]warning:[/] {escape(str(w.message))}", soft_wrap=True)

    path = build_report(
        comparison,
        store,
        out,
        groups=groups,
        title=title or "forgetmap report",
        item_cap=max_items,
        interactive=not no_interactive,
        console=console,
        formats=[f.strip().lower() for f in formats.split(",") if f.strip()],
        bracket=bracket,
        radar_scale=radar_scale,
    )
    click.echo(f"report: {path.resolve()}")
    click.echo(f"tables: {(out / 'tables').resolve()}  figures: {(out / 'figures').resolve()}")


commands: list[click.Command] = [report_command]
