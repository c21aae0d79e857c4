"""The forgetting curve: one row per (checkpoint step, category), numbers read from the typed
Comparison of every checkpoint against the base (never recomputed here), and its figure.

`curve.csv` columns (fractions, not %): step, model, category (each category and `Total`),
F_true, F_true_ci_low, F_true_ci_high, BT_true (+ CI), acc_pre (the base), acc_post (+ CI),
n_items (items in the category), n_tasks. CIs are compare's 95% bootstrap intervals over items
(docs/statistics.md); empty when compare ran without bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from forgetmap.analysis.results import TOTAL, CategorySummary, Comparison
from forgetmap.atomic import atomic_write
from forgetmap.report.figures import STYLE, color

CURVE_METRICS = ("F_true", "BT_true", "acc_post")
PLOTTED = {"F_true": "forgetting F_true", "BT_true": "backward transfer BT_true"}


def _row(step: int, model: str, category: str, s: CategorySummary) -> dict[str, object]:
    row: dict[str, object] = {"step": step, "model": model, "category": category}
    for m in CURVE_METRICS:
        stat = s.stat(m)
        ci = (stat.ci95 if stat is not None else None) or [None, None]
        row[m] = stat.mean if stat is not None else None
        row[f"{m}_ci_low"], row[f"{m}_ci_high"] = ci[0], ci[1]
    acc_pre = s.stat("acc_pre")
    row["acc_pre"] = acc_pre.mean if acc_pre is not None else None
    row["n_items"] = s.item_view.n_items
    row["n_tasks"] = s.n_tasks
    return row


CURVE_SCHEMA = pa.schema(
    [("step", pa.int64()), ("model", pa.string()), ("category", pa.string())]
    + [
        (f"{m}{suffix}", pa.float64())
        for m in CURVE_METRICS
        for suffix in ("", "_ci_low", "_ci_high")
    ]
    + [("acc_pre", pa.float64()), ("n_items", pa.int64()), ("n_tasks", pa.int64())]
)


def curve_table(comparison: Comparison, steps: Sequence[int]) -> pa.Table:
    """The curve rows of `comparison` (one pair per checkpoint, `steps` in pair order), sorted
    by step, categories alphabetically, Total last in each step."""
    rows = []
    for step, pair in zip(steps, comparison.pairs, strict=True):
        blocks = sorted(pair.categories.items())
        if pair.total is not None:
            blocks.append((TOTAL, pair.total))
        rows.extend(_row(step, pair.after, name, s) for name, s in blocks)
    return pa.Table.from_pylist(rows, schema=CURVE_SCHEMA)


def write_curve_csv(table: pa.Table, path: Path) -> Path:
    atomic_write(path, lambda tmp: pacsv.write_csv(table, str(tmp)))
    return path


def plot_curve(table: pa.Table, out: Path, title: str) -> list[Path]:
    """`out`.png and `out`.svg: F_true and BT_true (in %) against step, one line per category
    and a thick Total, each with its 95% CI band."""
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    with mpl.rc_context(STYLE):
        axes = fig.subplots(1, 2, sharex=True)
        cats = pc.unique(table.column("category")).to_pylist()
        cats = sorted(c for c in cats if c != TOTAL) + ([TOTAL] if TOTAL in cats else [])
        for ax, (metric, label) in zip(axes, PLOTTED.items(), strict=True):
            for i, cat in enumerate(cats):
                _line(ax, table.filter(pc.equal(table.column("category"), cat)), metric, cat, i)
            ax.axhline(0.0, color="#888888", linewidth=0.6)
            ax.set_title(label)
            ax.set_xlabel("training step")
            ax.set_ylabel("% of items")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper")
        fig.suptitle(title, fontsize=10)
        files = []
        for ext in ("png", "svg"):
            path = out.with_suffix(f".{ext}")
            atomic_write(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=150))
            files.append(path)
    return files


def _line(ax: Axes, t: pa.Table, metric: str, cat: str, i: int) -> None:
    steps = t.column("step").to_numpy()
    y = _pct(t, metric)
    lo, hi = _pct(t, f"{metric}_ci_low"), _pct(t, f"{metric}_ci_high")
    total = cat == TOTAL
    c = "#000000" if total else color(i)
    width = 2.2 if total else 1.2
    ax.plot(steps, y, marker="o", markersize=3, color=c, linewidth=width, label=cat)
    ok = ~(np.isnan(lo) | np.isnan(hi))
    if ok.any():
        alpha = 0.15 if total else 0.1
        ax.fill_between(steps[ok], lo[ok], hi[ok], color=c, alpha=alpha, linewidth=0)


def _pct(t: pa.Table, column: str) -> np.ndarray:
    return t.column(column).to_numpy(zero_copy_only=False).astype(float) * 100.0
