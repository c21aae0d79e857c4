"""The self-contained HTML report: one file, figures embedded as data URIs, CSS/JS inline.

Rendered by jinja2 with autoescaping on for every value: model ids, task names, questions and,
above all, model responses are text, never markup. Figures are embedded as `<img>` data URIs
(an SVG inside `<img>` cannot run script), so nothing in the page needs the network.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from forgetmap.analysis.results import TOTAL, Comparison
from forgetmap.report.drilldown import RESPONSE_TAIL, PairItems
from forgetmap.report.model import PairView, ReportModel, fmt_pct
from forgetmap.report.tables import TablePart
from forgetmap.report.terminal import format_p
from forgetmap.version import __version__

SIGNIFICANCE = 0.05
# SVGs larger than this are embedded as PNG instead (keeps the page light)
MAX_INLINE_SVG = 600_000


@dataclass
class EmbeddedFigure:
    caption: str
    mime: str
    data: str  # base64
    png: str  # relative links to the files beside the report
    svg: str | None
    pdf: str | None


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("forgetmap.report", "templates"),
        autoescape=True,  # every value is escaped, whatever the template's file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def embed_figure(png: Path, caption: str, root: Path) -> EmbeddedFigure:
    """Base64 data URI of the figure (SVG when small enough, else PNG)."""
    svg = png.with_suffix(".svg")
    if svg.exists() and svg.stat().st_size <= MAX_INLINE_SVG:
        mime, raw = "image/svg+xml", svg.read_bytes()
    else:
        mime, raw = "image/png", png.read_bytes()
    return EmbeddedFigure(
        caption=caption,
        mime=mime,
        data=base64.b64encode(raw).decode("ascii"),
        png=png.relative_to(root).as_posix(),
        svg=svg.relative_to(root).as_posix() if svg.exists() else None,
        pdf=pdf.relative_to(root).as_posix() if (pdf := png.with_suffix(".pdf")).exists() else None,
    )


def _pm(pair: PairView, metric: str) -> str:
    s = pair.stat(TOTAL, metric)
    if s is None:
        return "–"
    mean, std = s
    return fmt_pct(mean) if std is None else f"{fmt_pct(mean)} ± {fmt_pct(std)}"


def summary_rows(model: ReportModel) -> dict[str, list[dict[str, Any]]]:
    """Per group, one headline row per pair (all numbers from the comparison's `total`)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for group, pairs in model.groups.items():
        rows = []
        for p in pairs:
            pooled = p.result.total.pooled if p.result.total is not None else None
            pval = pooled.p_mcnemar if pooled is not None else None
            rows.append(
                {
                    "before": p.before,
                    "after": p.after,
                    "seeds": len(p.result.seeds),
                    "n_paired": p.result.n_paired,
                    "acc_pre": _pm(p, "acc_pre"),
                    "acc_post": _pm(p, "acc_post"),
                    "F_true": _pm(p, "F_true")
                    + ("†" if p.distinguishable(TOTAL, "F_true") is False else ""),
                    "F_excess": _excess_text(p),
                    "BT_true": _pm(p, "BT_true"),
                    "conventional": _pm(p, "conventional"),
                    "flips": f"{pooled.n10} / {pooled.n01}" if pooled is not None else "–",
                    "consistent": _consistent(p),
                    "F_no_answer": _pm(p, "F_no_answer"),
                    "p": format_p(pval),
                    "significant": pval is not None and pval < SIGNIFICANCE,
                }
            )
        out[group] = rows
    return out


def _consistent(pair: PairView) -> str:
    if pair.result.total is None:
        return "–"
    iv = pair.result.total.item_view
    return f"{iv.consistent_10} / {iv.consistent_01}"


def significance_rows(model: ReportModel, group: str) -> list[dict[str, Any]]:
    """Per category (and Total): pooled McNemar p and 1→0 / 0→1 counts for each pair of `group`."""
    rows = []
    for cat in [*model.group_categories(group), TOTAL]:
        cells = []
        for p in model.groups[group]:
            block = p.result.summary(cat)
            pval = block.pooled.p_mcnemar if block is not None else None
            cells.append(
                {
                    "p": format_p(pval),
                    "flips": f"{block.pooled.n10}/{block.pooled.n01}" if block is not None else "",
                    "significant": pval is not None and pval < SIGNIFICANCE,
                }
            )
        rows.append({"category": cat, "cells": cells})
    return rows


def _excess_text(pair: PairView) -> str:
    """Total F_excess with its CI, ×100 ('–' when the comparison has none)."""
    ex = pair.excess(TOTAL, "F_excess")
    if ex is None:
        return "–"
    return f"{fmt_pct(ex[0])} {_ci_text(ex[1])}".strip()


def _ci_text(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"[{fmt_pct(ci[0])}, {fmt_pct(ci[1])}]"


def uncertainty_rows(model: ReportModel, group: str) -> list[dict[str, Any]]:
    """Per category (and Total), for each pair of `group`: F_true with its 95% CI, the noise
    floors of both models, F_excess with its CI, the MDE and whether F_true is distinguishable
    from noise (all ×100, read from the comparison)."""
    rows = []
    for cat in [*model.group_categories(group), TOTAL]:
        cells = []
        for p in model.groups[group]:
            stat = p.stat(cat, "F_true")
            excess = p.excess(cat, "F_excess")
            floors = [p.floor(cat, side) for side in ("before", "after")]
            mde = p.mde(cat)
            cells.append(
                {
                    "F_true": "–" if stat is None else fmt_pct(stat[0]),
                    "ci": _ci_text(p.ci(cat, "F_true")),
                    "floor_before": "–" if floors[0] is None else fmt_pct(floors[0]),
                    "floor_after": "–" if floors[1] is None else fmt_pct(floors[1]),
                    "excess": "–" if excess is None else fmt_pct(excess[0]),
                    "excess_ci": "" if excess is None else _ci_text(excess[1]),
                    "mde": "–" if mde is None else fmt_pct(mde),
                    "distinguishable": p.distinguishable(cat, "F_true"),
                }
            )
        rows.append({"category": cat, "cells": cells})
    return rows


def verdicts(model: ReportModel) -> list[dict[str, Any]]:
    """Per pair, in words: categories whose forgetting is / is not distinguishable from noise."""
    out = []
    for p in model.pairs:
        v = p.noise_verdict("F_true")
        if v["yes"] or v["no"]:
            out.append({"pair": p.title, "yes": v["yes"], "no": v["no"]})
    return out


def headline(model: ReportModel) -> dict[str, Any]:
    """Mean of the pairs' total F_true / BT_true (×100) and the count of significant pairs."""

    def mean_of(metric: str) -> str:
        vals = [s[0] for p in model.pairs if (s := p.stat(TOTAL, metric)) is not None]
        return fmt_pct(sum(vals) / len(vals)) if vals else "–"

    n_sig = 0
    for p in model.pairs:
        pval = p.result.total.pooled.p_mcnemar if p.result.total is not None else None
        n_sig += pval is not None and pval < SIGNIFICANCE
    return {"F_true": mean_of("F_true"), "BT_true": mean_of("BT_true"), "n_sig": n_sig}


def _drill_context(d: PairItems, root: Path) -> dict[str, Any]:
    return {
        "pair": d.pair,
        "rows": d.rows,
        "n_items": d.n_items,
        "n_forgotten_items": d.n_forgotten_items,
        "n_gained_items": d.n_gained_items,
        "csv": d.csv_path.relative_to(root).as_posix() if d.csv_path else None,
        "tasks": sorted({r.task for r in d.rows}),
        "categories": sorted({r.category for r in d.rows}),
        "statuses": sorted({s for r in d.rows for s in r.statuses}),
    }


def render_report(
    *,
    title: str,
    model: ReportModel,
    comparison: Comparison,
    tables: Sequence[TablePart],
    figures: Sequence[EmbeddedFigure],
    figure_notes: Sequence[str],
    drill: Sequence[PairItems],
    files: Sequence[str],
    drill_notes: Sequence[str] = (),
    root: Path,
    interactive: str | None = None,
) -> str:
    """The report page as one HTML string."""
    warnings = [w for p in model.pairs for w in p.result.warnings]
    for p in model.pairs:
        un = p.result.unpaired
        if un.before_only or un.after_only:
            warnings.append(
                f"{p.title}: {un.before_only} record(s) only in the before-model and "
                f"{un.after_only} only in the after-model were left unpaired."
            )
    tmpl = _env().get_template("report.html.j2")
    return tmpl.render(
        title=title,
        version=__version__,
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        n_pairs=len(model.pairs),
        settings=comparison.settings.to_dict(),
        headline=headline(model),
        summary=summary_rows(model),
        significance={g: significance_rows(model, g) for g in model.groups},
        uncertainty={g: uncertainty_rows(model, g) for g in model.groups},
        verdicts=verdicts(model),
        groups=model.groups,
        warnings=warnings,
        tables=[
            {
                "caption": t.caption,
                "pairs": t.pairs,
                "rows_cells": list(zip(t.rows, t.cells, strict=True)),
            }
            for t in tables
        ],
        figures=figures,
        figure_notes=figure_notes,
        interactive=interactive,
        drill=[_drill_context(d, root) for d in drill],
        drill_notes=drill_notes,
        response_tail=RESPONSE_TAIL,
        files=files,
    )
