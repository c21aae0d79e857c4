"""`build_report`: a comparison (a `Comparison` or a `compare --json` document) -> tables, figures
and report.html.

Output layout::

    OUT/report.html                 one self-contained page (open it offline)
    OUT/comparison.json             the comparison the report was made from
    OUT/tables/forgetting.{tex,md,csv}, backward_transfer.{tex,md,csv}
    OUT/tables/categories.csv       every aggregated metric per pair and category (fractions)
    OUT/tables/per_task.csv         per pair and task, pooled over seeds: metrics, McNemar p
    OUT/tables/per_task_seed.csv    per pair, task and seed: every metric, McNemar p, bootstrap CIs
    OUT/figures/*.{png,svg,pdf}     radar, forgetting map, conventional vs F_true, size scaling
    OUT/figures/interactive.html    plotly version (only with the `interactive` extra)
    OUT/items/<pair>.csv            every flipped item of a pair, full responses (needs the store)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from forgetmap.analysis.results import Comparison
from forgetmap.atomic import atomic_write_text, make_dirs
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore
from forgetmap.report.drilldown import DEFAULT_CAP, PairItems, collect_items
from forgetmap.report.figures import FORMATS, write_figures
from forgetmap.report.html import embed_figure, render_report
from forgetmap.report.interactive import write_interactive
from forgetmap.report.model import ReportModel, as_comparison, build_model
from forgetmap.report.tables import (
    TABLE_METRICS,
    TablePart,
    build_parts,
    category_rows,
    cell_rows,
    rows_to_csv,
    task_rows,
    to_csv,
    to_latex,
    to_markdown,
)

TABLE_FILES = {"F_true": "forgetting", "BT_true": "backward_transfer"}


def _write(path: Path, text: str) -> Path:
    return atomic_write_text(path, text)


def build_report(
    comparison: Comparison | Mapping[str, Any],
    store: ResultsStore | None,
    out_dir: str | os.PathLike[str],
    groups: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    title: str = "forgetmap report",
    item_cap: int = DEFAULT_CAP,
    item_budget: int = 2000,
    interactive: bool = True,
    console: Console | None = None,
    formats: Sequence[str] = FORMATS,
    bracket: str = "ceiling",
    radar_scale: str = "auto",
) -> Path:
    """Write the whole report into `out_dir`; returns the path of report.html.

    `groups` names sets of pairs (a study's groups); one figure/table set per group. Without a
    `store` the per-item drill-down is left out (the comparison holds no item text).
    `formats`: figure files besides the PNG (svg, pdf). `bracket`: what the tables' brackets
    show, the ceiling F_max/BT_max (as the study's tables) or the accuracy; `radar_scale`: auto,
    or study (its fixed 0-50 % axis).
    `item_cap` bounds the items listed per pair in the HTML, `item_budget` those of all pairs
    together (a 60-pair study lists fewer per pair), so the page stays openable; every flipped
    item goes to items/*.csv regardless.
    """
    comparison = as_comparison(comparison)
    out = Path(out_dir)
    make_dirs(out)
    model = build_model(comparison, groups)
    console = console or Console(stderr=True)
    files: list[Path] = []

    n_steps = 3 + (len(model.pairs) if store is not None else 0)
    progress = Progress(
        TextColumn("[bold]report[/]"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        job = progress.add_task("tables", total=n_steps)
        files.append(_write(out / "comparison.json", comparison.to_json()))
        parts = _write_tables(model, out, files, bracket)
        progress.update(job, advance=1, description="figures")

        figset = write_figures(model, out / "figures", formats, radar_scale=radar_scale)
        for png in figset.files:
            files += [png, *(png.with_suffix(f".{e}") for e in formats if e != "png")]
        progress.update(job, advance=1, description="interactive figures")
        inter = (
            write_interactive(model, out / "figures" / "interactive.html") if interactive else None
        )
        if inter is not None:
            files.append(inter)
        progress.update(job, advance=1)

        drill: list[PairItems] = []
        drill_notes: list[str] = []
        if store is not None:
            cap = min(item_cap, max(25, item_budget // len(model.pairs)))
            drill, drill_notes = _drill_down(store, model, out, cap, files, progress, job, console)
        notes = list(figset.notes)
        if store is None:
            notes.append("No results directory given: the per-item drill-down is not included.")

        html = render_report(
            title=title,
            model=model,
            comparison=comparison,
            tables=parts,
            figures=[embed_figure(p, figset.captions[p], out) for p in figset.files],
            figure_notes=notes,
            drill=drill,
            drill_notes=drill_notes,
            files=[f.relative_to(out).as_posix() for f in files],
            root=out,
            interactive=inter.relative_to(out).as_posix() if inter else None,
        )
        report = _write(out / "report.html", html)
    return report


def _write_tables(
    model: ReportModel, out: Path, files: list[Path], bracket: str
) -> list[TablePart]:
    """The appendix tables (LaTeX, Markdown, CSV; `bracket`: ceiling or accuracy) and the tidy
    CSVs; returns the table parts."""
    parts: list[TablePart] = []
    for metric, stem in TABLE_FILES.items():
        mparts = build_parts(model, metric, bracket=bracket)
        parts += mparts
        files.append(_write(out / "tables" / f"{stem}.tex", to_latex(mparts)))
        files.append(_write(out / "tables" / f"{stem}.md", to_markdown(mparts)))
        files.append(_write(out / "tables" / f"{stem}.csv", to_csv(model, metric, bracket)))
    files.append(_write(out / "tables" / "categories.csv", rows_to_csv(category_rows(model))))
    files.append(_write(out / "tables" / "per_task.csv", rows_to_csv(task_rows(model))))
    files.append(_write(out / "tables" / "per_task_seed.csv", rows_to_csv(cell_rows(model))))
    return parts


def _drill_down(
    store: ResultsStore,
    model: ReportModel,
    out: Path,
    cap: int,
    files: list[Path],
    progress: Progress,
    job: TaskID,
    console: Console,
) -> tuple[list[PairItems], list[str]]:
    """Each pair's flipped items (items/*.csv, and up to `cap` for the HTML); a pair whose
    records are not in `store` gets a note instead of stopping the report."""
    drill: list[PairItems] = []
    notes: list[str] = []
    for i, pair in enumerate(model.pairs, 1):
        progress.update(job, description=f"items {pair.title}")
        csv_path = out / "items" / f"{i:02d}_{pair.slug}.csv"
        try:
            d = collect_items(store, pair, cap=cap, csv_path=csv_path)
        except ForgetmapError as exc:  # e.g. a saved comparison and another results dir
            msg = f"{pair.title}: no item listing ({exc})"
            notes.append(msg)
            console.print(f"[yellow]warning:[/] {escape(msg)}", soft_wrap=True, highlight=False)
        else:
            drill.append(d)
            files.append(csv_path)
        progress.update(job, advance=1)
    return drill, notes


__all__ = ["TABLE_METRICS", "build_report"]
