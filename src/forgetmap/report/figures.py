"""Publication figures from a comparison: radar charts, the forgetting map, conventional vs
sample-wise forgetting (the study's Figure 10) and forgetting against model size.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend switch), so it is
safe in servers and threads. Every figure is written as PNG (300 dpi), SVG (text kept as text) and
PDF (for LaTeX).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import matplotlib as mpl
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.projections.polar import PolarAxes

from forgetmap.analysis.results import TOTAL
from forgetmap.atomic import atomic_write
from forgetmap.errors import ForgetmapError
from forgetmap.report.model import PairView, ReportModel
from forgetmap.report.sizes import format_size, size_families

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "svg.fonttype": "none",
    # no bbox="tight": constrained layout already fits legends/labels, and a tight bbox costs
    # one extra draw per file
}
# Okabe–Ito (colour-blind safe), then tab10 for more traces.
PALETTE = [
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
]
DPI = 300
MAX_TRACES = 8  # pairs per radar / bar figure (more are split over several figures)


def color(i: int) -> str:
    if i < len(PALETTE):
        return PALETTE[i]
    return mpl.colors.to_hex(mpl.colormaps["tab20"](i % 20))


@dataclass
class FigureSet:
    """What `write_figures` produced: file stems (PNG + SVG beside each) and notes on skips."""

    files: list[Path] = field(default_factory=list)  # PNG paths; SVG and PDF have the same stem
    captions: dict[Path, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def slugify(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "group"


FORMATS = ("png", "svg", "pdf")


def _save(fig: Figure, out: Path, stem: str, formats: Sequence[str] = FORMATS) -> Path:
    """Write `stem`.png (always: the HTML falls back to it) and the other `formats`."""
    FigureCanvasAgg(fig)
    png = atomic_write(
        out / f"{stem}.png", lambda p: fig.savefig(p, format="png", dpi=DPI, facecolor="white")
    )
    for ext in formats:
        if ext != "png":
            atomic_write(out / f"{stem}.{ext}", partial(_savefig, fig, fmt=ext))
    return png


def _savefig(fig: Figure, path: Path, fmt: str) -> None:
    fig.savefig(path, format=fmt, facecolor="white")


def _values(pairs: Sequence[PairView], cats: Sequence[str], metric: str) -> np.ndarray:
    """pairs × cats matrix of ×100 means (NaN where missing)."""
    out = np.full((len(pairs), len(cats)), np.nan)
    for i, p in enumerate(pairs):
        for j, c in enumerate(cats):
            s = p.stat(c, metric)
            if s is not None:
                out[i, j] = s[0] * 100
    return out


#: how estimates that are not distinguishable from noise are drawn (figure notes use this text)
NOISE_NOTE = (
    "hollow markers, hatched grey cells and bars: the 95% CI includes 0 or the estimate is not "
    "above the sampling-noise floor (F_excess CI includes 0); whiskers: 95% bootstrap CI"
)


def _marks(pairs: Sequence[PairView], cats: Sequence[str], metric: str) -> np.ndarray:
    """pairs × cats: 1 distinguishable from noise, 0 not, -1 unknown (no CI in the comparison)."""
    out = np.full((len(pairs), len(cats)), -1, np.int8)
    for i, p in enumerate(pairs):
        for j, c in enumerate(cats):
            flag = p.distinguishable(c, metric)
            if flag is not None:
                out[i, j] = int(flag)
    return out


def _intervals(
    pairs: Sequence[PairView], cats: Sequence[str], metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """pairs × cats 95% CI bounds ×100 (NaN where the comparison has none)."""
    lo = np.full((len(pairs), len(cats)), np.nan)
    hi = lo.copy()
    for i, p in enumerate(pairs):
        for j, c in enumerate(cats):
            ci = p.ci(c, metric)
            if ci is not None:
                lo[i, j], hi[i, j] = ci[0] * 100, ci[1] * 100
    return lo, hi


def _nice_ticks(values: np.ndarray, max_ticks: int = 5) -> np.ndarray:
    """Round ticks 0, step, ..., top covering the finite values (at most `max_ticks` steps)."""
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    if top <= 0:
        return np.array([0.0, 0.5, 1.0])
    base = 10 ** math.floor(math.log10(top / max_ticks))
    for mult in (1, 2, 5, 10, 20, 50):
        step = mult * base
        n = math.ceil(top / step - 1e-9)
        if n <= max_ticks:
            return np.round(np.arange(n + 1) * step, 10)
    return np.array([0.0, top])


def _nice_max(values: np.ndarray) -> float:
    return float(_nice_ticks(values)[-1])


# -- radar -----------------------------------------------------------------------------------------
METRIC_TITLES = {
    "F_true": "Forgetting (F$_{true}$, %)",
    "BT_true": "Backward transfer (BT$_{true}$, %)",
}


#: radial axes of the radar charts: `auto` fits the data; `study` is the study's fixed axis
#: (0-50 %, ticks 15/30/45, its src/analyze/radar.py), so charts compare across groups
RADAR_SCALES = {"auto": None, "study": (15.0, 30.0, 45.0, 50.0)}


def radar_figure(
    pairs: Sequence[PairView], cats: Sequence[str], title: str, scale: str = "auto"
) -> Figure:
    """Two polar panels (forgetting left, backward transfer right), one trace per pair.

    `scale`: a key of RADAR_SCALES (`study`: fixed 0-50 %, larger values reach the rim)."""
    if scale not in RADAR_SCALES:
        raise ForgetmapError(
            f"--radar-scale must be one of {', '.join(RADAR_SCALES)}, got {scale!r}"
        )
    fixed = RADAR_SCALES[scale]
    n = len(cats)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    closed = np.concatenate([angles, angles[:1]])
    fig = Figure(figsize=(9.0, 4.9), layout="constrained")
    axes = [cast(PolarAxes, fig.add_subplot(1, 2, k + 1, projection="polar")) for k in range(2)]
    for ax, metric in zip(axes, ("F_true", "BT_true"), strict=True):
        vals = _values(pairs, cats, metric)
        lo, hi = _intervals(pairs, cats, metric)
        marks = _marks(pairs, cats, metric)
        if fixed is None:
            ticks = _nice_ticks(np.concatenate([vals.ravel(), hi.ravel()]))[1:]
            rmax = float(ticks[-1])
        else:
            ticks, rmax = np.asarray(fixed[:-1]), fixed[-1]
            vals, lo, hi = (np.minimum(a, rmax) for a in (vals, lo, hi))
        ax.set_theta_offset(np.pi / 2)
        ax.set_theta_direction(-1)
        ax.set_ylim(0, rmax)
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{t:g}" for t in ticks], fontsize=7, color="#555555")
        for lab in ax.get_yticklabels():  # keep radial labels readable over the traces
            lab.set_bbox({"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.6})
            lab.set_zorder(6)
        ax.set_rlabel_position(180 / n)
        ax.set_xticks(angles)
        ax.set_xticklabels(list(cats), fontsize=8.5)
        ax.tick_params(axis="x", pad=6)
        ax.grid(color="#BBBBBB", linewidth=0.6)
        ax.spines["polar"].set_color("#999999")
        ax.spines["polar"].set_linewidth(0.6)
        for i, p in enumerate(pairs):
            row = vals[i]
            # a missing category is drawn at 0 but left unmarked (the table shows '–')
            drawn = np.nan_to_num(row, nan=0.0)
            ys = np.concatenate([drawn, drawn[:1]])
            ax.plot(closed, ys, color=color(i), linewidth=1.6, label=p.label, zorder=3)
            if len(pairs) <= 4:  # fills of many traces turn to mud
                ax.fill(closed, ys, color=color(i), alpha=0.07, zorder=2)
            _radar_points(ax, angles, row, lo[i], hi[i], marks[i], color(i))
        ax.set_title(METRIC_TITLES[metric], pad=16)
    handles, labels = axes[0].get_legend_handles_labels()
    handles, labels = _with_noise_key(handles, labels, pairs, cats)
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(len(labels), 3),
        handlelength=1.6,
        columnspacing=1.4,
    )
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


def _any_weak(pairs: Sequence[PairView], cats: Sequence[str]) -> bool:
    return any((_marks(pairs, [*cats, TOTAL], m) == 0).any() for m in ("F_true", "BT_true"))


def _with_noise_key(
    handles: list, labels: list[str], pairs: Sequence[PairView], cats: Sequence[str], bar=False
) -> tuple[list, list[str]]:
    """Legend entries plus one for "not distinguishable from noise" when a figure has any."""
    if not _any_weak(pairs, cats):
        return handles, labels
    key: Artist
    if bar:
        key = Rectangle((0, 0), 1, 1, facecolor="#BBBBBB", hatch="////", edgecolor="#777777")
    else:
        key = Line2D([], [], marker="o", ls="none", mfc="white", mec="#444444", mew=1.3)
    return [*handles, key], [*labels, "not distinguishable from noise (95% CI)"]


def _radar_points(
    ax,
    angles: np.ndarray,
    row: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    marks: np.ndarray,
    col: str,
) -> None:
    """Markers (hollow where not distinguishable from noise) and radial CI whiskers."""
    ok = np.isfinite(row)
    whisk = ok & np.isfinite(lo) & np.isfinite(hi)
    if whisk.any():
        ax.errorbar(
            angles[whisk],
            row[whisk],
            yerr=[np.maximum(row - lo, 0)[whisk], np.maximum(hi - row, 0)[whisk]],
            fmt="none",
            ecolor=col,
            elinewidth=1.4,
            alpha=0.6,
            zorder=3.5,
        )
    solid = ok & (marks != 0)
    hollow = ok & (marks == 0)
    ax.scatter(angles[solid], row[solid], s=16, color=col, zorder=4)
    ax.scatter(
        angles[hollow], row[hollow], s=22, facecolors="white", edgecolors=col, linewidths=1.3,
        zorder=4,
    )  # fmt: skip


def bars_figure(pairs: Sequence[PairView], cats: Sequence[str], title: str) -> Figure:
    """Fallback for fewer than 3 categories (a radar needs 3 axes): grouped bars per panel."""
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("F_true", "BT_true"), strict=True):
        _grouped_bars(ax, _values(pairs, cats, metric), cats, pairs, metric)
        ax.set_title(METRIC_TITLES[metric])
        ax.set_ylabel("%")
    handles, labels = _unique_legend(axes[0])
    handles, labels = _with_noise_key(handles, labels, pairs, cats, bar=True)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3))
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


def _grouped_bars(
    ax,
    vals: np.ndarray,
    cats: Sequence[str],
    pairs: Sequence[PairView],
    metric: str | None = None,
) -> None:
    """One bar per pair and category; with `metric`, CI whiskers and hatched, faded bars where
    the estimate is not distinguishable from noise."""
    n_pairs = max(len(pairs), 1)
    width = 0.8 / n_pairs
    x = np.arange(len(cats))
    marks = _marks(pairs, cats, metric) if metric else np.full(vals.shape, -1)
    lo, hi = _intervals(pairs, cats, metric) if metric else (vals * np.nan, vals * np.nan)
    for i, p in enumerate(pairs):
        xs = x - 0.4 + width * (i + 0.5)
        heights = np.nan_to_num(vals[i], nan=0.0)
        weak = marks[i] == 0
        ax.bar(xs[~weak], heights[~weak], width=width, color=color(i), label=p.label, linewidth=0)
        if weak.any():
            ax.bar(
                xs[weak], heights[weak], width=width, color=color(i), alpha=0.35,
                hatch="////", edgecolor=color(i), linewidth=0,
                label=None if (~weak).any() else p.label,
            )  # fmt: skip
        ok = np.isfinite(lo[i]) & np.isfinite(hi[i]) & np.isfinite(vals[i])
        if ok.any():
            ax.errorbar(
                xs[ok], vals[i][ok],
                yerr=[np.maximum(vals[i] - lo[i], 0)[ok], np.maximum(hi[i] - vals[i], 0)[ok]],
                fmt="none", ecolor="#333333", elinewidth=0.8, capsize=1.5,
            )  # fmt: skip
    ax.set_xticks(x)
    ax.set_xticklabels(list(cats), rotation=35, ha="right")
    ax.yaxis.grid(True, color="#DDDDDD", linewidth=0.6)
    ax.set_axisbelow(True)


# -- forgetting map (heatmap) ----------------------------------------------------------------------
def heatmap_figure(pairs: Sequence[PairView], cats: Sequence[str], title: str) -> Figure:
    """Pairs × categories (+ Total), F_true above BT_true, every cell annotated."""
    cols = [*cats, TOTAL]
    width = max(5.0, 2.2 + 0.58 * len(cols))
    height = 1.4 + 2 * max(1.2, 0.5 + 0.3 * len(pairs))
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    for ax, metric, cmap in zip(axes, ("F_true", "BT_true"), ("Reds", "Blues"), strict=True):
        vals = _values(pairs, cols, metric)
        cticks = _nice_ticks(vals, max_ticks=5 if len(pairs) > 3 else 3)
        vmax = float(cticks[-1])
        masked = np.ma.masked_invalid(vals)
        cm = mpl.colormaps[cmap].with_extremes(bad="#EEEEEE")
        im = ax.imshow(masked, cmap=cm, vmin=0, vmax=vmax, aspect="auto")
        weak = _marks(pairs, cols, metric) == 0
        for i, j in zip(*np.nonzero(weak & np.isfinite(vals)), strict=True):
            ax.add_patch(
                Rectangle(
                    (j - 0.5, i - 0.5), 1, 1, facecolor="#E4E4E4", edgecolor="#A0A0A0",
                    hatch="////", linewidth=0, zorder=2,
                )
            )  # fmt: skip
        for (i, j), v in np.ndenumerate(vals):
            txt = "–" if not np.isfinite(v) else f"{v:.1f}"
            dark = np.isfinite(v) and v > 0.6 * vmax and not weak[i, j]
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                fontsize=7.5,
                color="white" if dark else "#222222",
                fontweight="bold" if cols[j] == TOTAL else "normal",
                zorder=3,
                bbox=(
                    {"facecolor": "#E4E4E4", "edgecolor": "none", "pad": 0.8}
                    if weak[i, j]
                    else None
                ),
            )
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels(cols, rotation=35, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(len(pairs)))
        ax.set_yticklabels([p.label for p in pairs])
        ax.axvline(len(cats) - 0.5, color="white", linewidth=2.5)
        for s in ax.spines.values():
            s.set_visible(False)
        ax.tick_params(length=0)
        ax.set_title(METRIC_TITLES[metric], loc="left")
        cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.015, aspect=12)
        cb.set_ticks(list(cticks))
        cb.outline.set_visible(False)
        cb.ax.tick_params(labelsize=7)
    if _any_weak(pairs, cats):
        fig.supxlabel(
            "hatched grey: not distinguishable from sampling noise (95% CI)",
            fontsize=7.5, color="#555555",
        )  # fmt: skip
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


# -- conventional vs sample-wise (study Figure 10) -------------------------------------------------
def conventional_figure(pairs: Sequence[PairView], cats: Sequence[str], title: str) -> Figure:
    """Conventional forgetting max(acc_pre − acc_post, 0) beside F_true, on one y scale."""
    conv = _values(pairs, cats, "conventional")
    true = _values(pairs, cats, "F_true")
    ymax = _nice_max(
        np.concatenate([conv.ravel(), true.ravel(), _intervals(pairs, cats, "F_true")[1].ravel()])
    )
    fig = Figure(figsize=(min(max(7.0, 1.0 * len(cats) + 1.5), 12.0), 3.4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, vals, name, metric in zip(
        axes,
        (conv, true),
        ("Conventional forgetting (accuracy drop, %)", "Sample-wise forgetting (F$_{true}$, %)"),
        (None, "F_true"),
        strict=True,
    ):
        _grouped_bars(ax, vals, cats, pairs, metric)
        ax.set_ylim(0, ymax)
        ax.set_title(name)
    axes[0].set_ylabel("%")
    handles, labels = _unique_legend(axes[0])
    handles, labels = _with_noise_key(handles, labels, pairs, cats, bar=True)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3))
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


def _unique_legend(ax) -> tuple[list, list[str]]:
    """Legend handles of an axes, one per label (a pair's faded bars repeat its label)."""
    handles, labels = ax.get_legend_handles_labels()
    seen: dict[str, object] = {}
    for h, lab in zip(handles, labels, strict=True):
        seen.setdefault(lab, h)
    return list(seen.values()), list(seen)


# -- size scaling ----------------------------------------------------------------------------------
def size_figure(families: dict[str, list[tuple[float, PairView]]], title: str) -> Figure:
    """Total F_true and BT_true (mean ± std over seeds) against the after-model's size."""
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    axes = fig.subplots(1, 2)
    all_sizes: set[float] = set()
    for ax, metric in zip(axes, ("F_true", "BT_true"), strict=True):
        for i, (name, members) in enumerate(families.items()):
            xs, ys, es = [], [], []
            for size, p in members:
                s = p.stat(TOTAL, metric)
                if s is None:
                    continue
                xs.append(size)
                ys.append(s[0] * 100)
                es.append((s[1] or 0.0) * 100)
            all_sizes.update(xs)
            ax.errorbar(
                xs,
                ys,
                yerr=es,
                color=color(i),
                marker="o",
                markersize=4,
                linewidth=1.6,
                capsize=2.5,
                label=name,
            )
        ax.set_xscale("log")
        ax.set_title(METRIC_TITLES[metric])
        ax.set_xlabel("parameters (after-model)")
        ax.set_ylim(bottom=0)
        ax.yaxis.grid(True, color="#DDDDDD", linewidth=0.6)
    ticks = sorted(all_sizes)
    for ax in axes:
        ax.set_xticks(ticks)
        ax.set_xticklabels([format_size(t) for t in ticks])
        ax.minorticks_off()
    axes[0].set_ylabel("Total, %")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 2))
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


# -- driver ----------------------------------------------------------------------------------------
def write_figures(
    model: ReportModel,
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    radar_scale: str = "auto",
) -> FigureSet:
    """Every figure for every group into `out_dir`, as PNG plus the other `formats`;
    `radar_scale`: auto or study (RADAR_SCALES)."""
    bad = sorted(set(formats) - set(FORMATS))
    if bad:
        raise ForgetmapError(f"unknown figure format(s) {', '.join(bad)}; use {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = FigureSet()

    def add(fig: Figure, stem: str, caption: str) -> None:
        png = _save(fig, out_dir, stem, formats)
        result.files.append(png)
        result.captions[png] = caption

    used: set[str] = set()
    marked = any(
        p.distinguishable(c, m) is not None
        for p in model.pairs
        for c in [*p.categories(), TOTAL]
        for m in ("F_true", "BT_true")
    )
    if marked:
        result.notes.append("In the figures, " + NOISE_NOTE + ".")
    with mpl.rc_context(cast(Any, STYLE)):
        for group, pairs in model.groups.items():
            cats = model.group_categories(group)
            g = slugify(group)
            if g in used:  # two group names with one slug ("Base 1", "base-1")
                g = f"{g}_{len(used)}"
            used.add(g)
            if not cats:
                result.notes.append(f"{group}: no categories in the comparison; no figures.")
                continue
            # traces per radar/bar figure are capped: 60 pairs in one chart is unreadable
            chunks = [pairs[i : i + MAX_TRACES] for i in range(0, len(pairs), MAX_TRACES)]
            for k, chunk in enumerate(chunks, 1):
                sfx = f"_{k}" if len(chunks) > 1 else ""
                part = f" ({k}/{len(chunks)})" if len(chunks) > 1 else ""
                if len(cats) >= 3:
                    axis = " (the study's fixed 0-50 % axis)" if radar_scale == "study" else ""
                    add(
                        radar_figure(chunk, cats, group + part, radar_scale),
                        f"radar_{g}{sfx}",
                        f"{group}{part}: forgetting (left) and backward transfer (right) "
                        f"per category{axis}.",
                    )
                else:
                    add(
                        bars_figure(chunk, cats, group + part),
                        f"bars_{g}{sfx}",
                        f"{group}{part}: forgetting and backward transfer per category (bars: a "
                        f"radar chart needs at least 3 categories, there are {len(cats)}).",
                    )
            add(
                heatmap_figure(pairs, cats, group),
                f"map_{g}",
                f"{group}: forgetting map — F_true and BT_true (×100) per pair and category.",
            )
            if any(p.stat(c, "conventional") is not None for p in pairs for c in cats):
                for k, chunk in enumerate(chunks, 1):
                    sfx = f"_{k}" if len(chunks) > 1 else ""
                    part = f" ({k}/{len(chunks)})" if len(chunks) > 1 else ""
                    add(
                        conventional_figure(chunk, cats, group + part),
                        f"conventional_{g}{sfx}",
                        f"{group}{part}: conventional forgetting (accuracy drop) against "
                        "sample-wise forgetting F_true, same scale.",
                    )
            else:
                result.notes.append(
                    f"{group}: the comparison has no 'conventional' per category; "
                    "conventional-vs-sample-wise figure skipped."
                )
        families = size_families(model.pairs)
        if families:
            add(
                size_figure(families, "Forgetting against model size"),
                "size_scaling",
                "Total F_true and BT_true against model size, within families of pairs "
                "that differ only in size.",
            )
        else:
            result.notes.append(
                "Size figure skipped: no family of pairs with at least two model sizes "
                "(sizes are read from names like 7B, 1.5B, 270M)."
            )
    return result
