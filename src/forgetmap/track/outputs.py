"""What `forgetmap track` writes into its output folder::

    OUT/index.html                   the curve, its table, items forgotten for good, and per
                                     checkpoint the flipped items (report.drilldown)
    OUT/curve.csv                    step x category: F_true, BT_true, acc_post with CIs, n
    OUT/curve.png, OUT/curve.svg     F_true and BT_true against step, CI bands
    OUT/items_first_forgotten.csv    items that flip 1->0 and stay flipped (track.first_forgotten)
    OUT/report/                      the full report of every checkpoint vs the base (build_report)

The page is rendered by jinja2 with autoescaping on: questions and model responses are text,
never markup.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from rich.console import Console

from forgetmap.analysis.results import TOTAL, Comparison
from forgetmap.atomic import atomic_write, atomic_write_text, make_dirs
from forgetmap.records import ResultsStore
from forgetmap.report.build import build_report
from forgetmap.report.drilldown import RESPONSE_TAIL, PairItems, collect_items
from forgetmap.report.html import embed_figure
from forgetmap.report.model import build_model, fmt_pct
from forgetmap.track.curve import curve_table, plot_curve, write_curve_csv
from forgetmap.track.first_forgotten import first_forgotten
from forgetmap.version import __version__

ITEMS_PER_CHECKPOINT = 40  # flipped items shown per checkpoint in index.html (all in the CSVs)
FIRST_FORGOTTEN_SHOWN = 200


@dataclass
class Written:
    curve: pa.Table
    first_forgotten: pa.Table
    files: dict[str, Path]


def write_outputs(
    store: ResultsStore,
    comparison: Comparison,
    base: str,
    run: str,
    steps: Sequence[int],
    models: Sequence[str],
    out: Path,
    notes: Sequence[str] = (),
    report: bool = True,
    console: Console | None = None,
) -> Written:
    """Write every file of the module docstring into `out`; returns the tables and paths."""
    make_dirs(out)
    curve = curve_table(comparison, steps)
    files = {"curve.csv": write_curve_csv(curve, out / "curve.csv")}
    title = f"{run}: forgetting vs {base}"
    png, svg = plot_curve(curve, out / "curve", title)
    files.update({"curve.png": png, "curve.svg": svg})
    ff = first_forgotten(store, base, list(zip(steps, models, strict=True)))
    path = out / "items_first_forgotten.csv"
    atomic_write(path, lambda tmp: pacsv.write_csv(ff, str(tmp)))
    files["items_first_forgotten.csv"] = path
    if report:
        files["report"] = build_report(
            comparison, store, out / "report", title=title, interactive=False,
            formats=("svg",), console=console,
        )  # fmt: skip
    view = build_model(comparison)
    drill = [
        collect_items(
            store, pair, cap=ITEMS_PER_CHECKPOINT, csv_path=out / "items" / f"step-{s}.csv"
        )
        for s, pair in zip(steps, view.pairs, strict=True)
    ]
    html = render_index(title, base, run, steps, curve, ff, drill, notes, png, out, files)
    files["index.html"] = atomic_write_text(out / "index.html", html)
    return Written(curve, ff, files)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("forgetmap.track", "templates"),
        autoescape=True,  # every value is escaped: questions and responses are model text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _ci(row: dict[str, Any], m: str) -> str:
    lo, hi = row[f"{m}_ci_low"], row[f"{m}_ci_high"]
    return "" if lo is None or hi is None else f"[{fmt_pct(lo)}, {fmt_pct(hi)}]"


def _curve_rows(curve: pa.Table) -> list[dict[str, Any]]:
    """Display rows of the curve table: the Total of each step, then its categories."""
    rows = curve.to_pylist()  # one row per (step, category): small
    for r in rows:
        r["total"] = r["category"] == TOTAL
        for m in ("F_true", "BT_true", "acc_post", "acc_pre"):
            r[f"{m}_txt"] = fmt_pct(r[m]) if r[m] is not None else "–"
        for m in ("F_true", "BT_true", "acc_post"):
            r[f"{m}_ci"] = _ci(r, m)
    return sorted(rows, key=lambda r: (r["step"], not r["total"], r["category"]))


def render_index(
    title: str,
    base: str,
    run: str,
    steps: Sequence[int],
    curve: pa.Table,
    ff: pa.Table,
    drill: Sequence[PairItems],
    notes: Sequence[str],
    png: Path,
    out: Path,
    files: dict[str, Path],
) -> str:
    """index.html as one string (figure embedded, every value escaped)."""
    totals = curve.filter(pc.equal(curve.column("category"), TOTAL))
    return (
        _env()
        .get_template("index.html.j2")
        .render(
            title=title,
            base=base,
            run=run,
            version=__version__,
            generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            figure=embed_figure(png, "F_true and BT_true against the training step", out),
            curve=_curve_rows(curve),
            n_steps=len(steps),
            has_total=totals.num_rows > 0,
            forgotten=ff.slice(0, FIRST_FORGOTTEN_SHOWN).to_pylist(),
            n_forgotten=ff.num_rows,
            drill=[
                {
                    "step": s,
                    "d": d,
                    "csv": d.csv_path.relative_to(out).as_posix() if d.csv_path else None,
                }
                for s, d in zip(steps, drill, strict=True)
            ],
            notes=list(notes),
            response_tail=RESPONSE_TAIL,
            files={k: v.relative_to(out).as_posix() for k, v in files.items()},
        )
    )
