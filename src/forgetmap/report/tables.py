"""The study's appendix tables: categories as rows, pairs as columns, at most 4 columns per part.

Cells read `F_true ± std (F_max)` (forgetting) or `BT_true ± std (BT_max)` (backward transfer),
×100 with one decimal, as the study's tables (arXiv 2510.17776; its latex_converter puts the
ceiling, "Max Possible", in brackets); `bracket="accuracy"` puts acc_pre / acc_post there
instead. Output as LaTeX (booktabs), Markdown and CSV, plus tidy numeric CSVs (per category, per
task cell).
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from forgetmap.analysis.results import TOTAL
from forgetmap.errors import ForgetmapError
from forgetmap.report.model import PairView, ReportModel, fmt_pct, order_categories

# metric -> (ceiling, accuracy: what the brackets can show; human name)
TABLE_METRICS: dict[str, tuple[str, str, str]] = {
    "F_true": ("F_max", "acc_pre", "Forgetting"),
    "BT_true": ("BT_max", "acc_post", "Backward transfer"),
}
BRACKETS = ("ceiling", "accuracy")
MAX_COLUMNS = 4
NOT_DISTINGUISHABLE = "†"
NOISE_LEGEND = (
    "† not distinguishable from sampling noise: the 95% CI includes 0 or does not clear the "
    "before-model's noise floor."
)


@dataclass
class TablePart:
    """One printed table: a slice of at most MAX_COLUMNS pairs of one group."""

    group: str
    metric: str
    part: int
    n_parts: int
    pairs: list[PairView]
    rows: list[str]  # categories then TOTAL
    cells: list[list[str]]  # rows x pairs, formatted
    bracket: str = "ceiling"

    @property
    def caption(self) -> str:
        inner = bracket_metric(self.metric, self.bracket)
        name = TABLE_METRICS[self.metric][2]
        part = f" (part {self.part}/{self.n_parts})" if self.n_parts > 1 else ""
        text = f"{name} — {self.group}{part}: {self.metric} ± std over seeds ({inner}), ×100."
        if any(NOT_DISTINGUISHABLE in c for row in self.cells for c in row):
            text += " " + NOISE_LEGEND
        return text


def bracket_metric(metric: str, bracket: str) -> str:
    """The metric a table cell shows in brackets: the ceiling (F_max/BT_max) or the accuracy."""
    if bracket not in BRACKETS:
        raise ForgetmapError(f"--bracket must be one of {', '.join(BRACKETS)}, got {bracket!r}")
    ceiling, accuracy, _ = TABLE_METRICS[metric]
    return ceiling if bracket == "ceiling" else accuracy


def format_cell(pair: PairView, category: str, metric: str, bracket: str = "ceiling") -> str:
    """`12.3 ± 0.4 (56.7)`; without `± std` when there is one seed; '–' when missing."""
    acc_metric = bracket_metric(metric, bracket)
    value = pair.stat(category, metric)
    if value is None:
        return "–"
    mean, std = value
    acc = pair.stat(category, acc_metric)
    text = fmt_pct(mean) if std is None else f"{fmt_pct(mean)} ± {fmt_pct(std)}"
    if pair.distinguishable(category, metric) is False:
        text += NOT_DISTINGUISHABLE
    return f"{text} ({fmt_pct(acc[0])})" if acc is not None else text


def build_parts(
    model: ReportModel, metric: str, max_columns: int = MAX_COLUMNS, bracket: str = "ceiling"
) -> list[TablePart]:
    """All parts of the `metric` table, group by group, each at most `max_columns` wide;
    `bracket`: ceiling (the study's tables) or accuracy in the cells' brackets."""
    if metric not in TABLE_METRICS:
        raise ValueError(f"no appendix table for metric {metric!r}")
    if max_columns < 1:
        raise ValueError("max_columns must be >= 1")
    parts: list[TablePart] = []
    for group, pairs in model.groups.items():
        rows = [*model.group_categories(group), TOTAL]
        chunks = [pairs[i : i + max_columns] for i in range(0, len(pairs), max_columns)]
        for i, chunk in enumerate(chunks, 1):
            cells = [[format_cell(p, r, metric, bracket) for p in chunk] for r in rows]
            parts.append(TablePart(group, metric, i, len(chunks), chunk, rows, cells, bracket))
    return parts


# -- LaTeX -----------------------------------------------------------------------------------------
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "→": r"$\rightarrow$",
    "±": r"$\pm$",
    "†": r"$^{\dagger}$",
    "–": "--",
    "×": r"$\times$",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters (model ids carry `_`, `&`, `#`...)."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def _latex_label(part: TablePart) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in part.group.lower()).strip("-")
    return f"tab:{part.metric.lower()}-{safe}-{part.part}"


def part_to_latex(part: TablePart) -> str:
    """One booktabs `table` environment; needs only `\\usepackage{booktabs}`."""
    n = len(part.pairs)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{latex_escape(part.caption)}}}",
        rf"\label{{{_latex_label(part)}}}",
        r"\resizebox{\linewidth}{!}{%",
        rf"\begin{{tabular}}{{l{'c' * n}}}",
        r"\toprule",
        " & ".join(["Category", *(latex_escape(p.label) for p in part.pairs)]) + r" \\",
        " & ".join(
            ["", *(r"{\scriptsize from " + latex_escape(p.before) + "}" for p in part.pairs)]
        )
        + r" \\",
        r"\midrule",
    ]
    for row, cells in zip(part.rows, part.cells, strict=True):
        if row == TOTAL:
            lines.append(r"\midrule")
        lines.append(" & ".join([latex_escape(row), *(latex_escape(c) for c in cells)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}%", "}", r"\end{table}"]
    return "\n".join(lines)


def to_latex(parts: Sequence[TablePart]) -> str:
    head = (
        "% forgetmap appendix tables. Requires \\usepackage{booktabs} and \\usepackage{graphicx}.\n"
    )
    return head + "\n\n".join(part_to_latex(p) for p in parts) + "\n"


# -- Markdown --------------------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    """Model and task names are data: raw HTML in them must not render (a Markdown table is
    often shown as HTML), a `|` must not split the cell, a newline must not end the row."""
    text = " ".join(text.replace("\\", "\\\\").splitlines())
    return html.escape(text, quote=False).replace("|", r"\|")


def part_to_markdown(part: TablePart) -> str:
    head = ["Category", *(_md_escape(f"{p.label} (from {p.before})") for p in part.pairs)]
    lines = [
        f"**{_md_escape(part.caption)}**",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join([":---", *(":---:" for _ in part.pairs)]) + "|",
    ]
    for row, cells in zip(part.rows, part.cells, strict=True):
        name = f"**{row}**" if row == TOTAL else _md_escape(row)
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def to_markdown(parts: Sequence[TablePart]) -> str:
    return "\n\n".join(part_to_markdown(p) for p in parts) + "\n"


# -- CSV -------------------------------------------------------------------------------------------
def to_csv(model: ReportModel, metric: str, bracket: str = "ceiling") -> str:
    """The whole table unsplit (CSV has no page width): categories × every pair, formatted cells."""
    rows = [*model.categories, TOTAL]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["category", *(f"{p.before} -> {p.after}" for p in model.pairs)])
    for r in rows:
        w.writerow([r, *(format_cell(p, r, metric, bracket) for p in model.pairs)])
    return buf.getvalue()


def category_rows(model: ReportModel) -> list[dict[str, Any]]:
    """Tidy numbers (fractions, as in the comparison): one row per (pair, category incl. Total)."""
    out: list[dict[str, Any]] = []
    for p in model.pairs:
        for cat in [*p.categories(), TOTAL]:
            block = p.result.summary(cat)
            row: dict[str, Any] = {"before": p.before, "after": p.after, "category": cat}
            row.update(_flatten(block.to_dict() if block is not None else {}))
            out.append(row)
    return out


def cell_rows(model: ReportModel) -> list[dict[str, Any]]:
    """Every per-(task, seed) cell of every pair: all metrics, McNemar p, CIs (ci_<m>_lo/_hi)."""
    return [
        {"before": p.before, "after": p.after, **_flatten(cell.to_dict())}
        for p in model.pairs
        for cell in p.result.cells
    ]


def task_rows(model: ReportModel) -> list[dict[str, Any]]:
    """Per pair and task, pooled over seeds (mean/std, pooled McNemar, item view), as compare gives."""
    return [
        {"before": p.before, "after": p.after, "task": task, **_flatten(block.to_dict())}
        for p in model.pairs
        for task, block in p.result.tasks.items()
    ]


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """{'F_true': {'mean': .1}, 'ci': [lo, hi]} -> {'F_true_mean': .1, 'ci_lo': lo, 'ci_hi': hi}."""
    if isinstance(obj, Mapping):
        flat: dict[str, Any] = {}
        for k, v in obj.items():
            flat.update(_flatten(v, f"{prefix}{k}_"))
        return flat
    key = prefix[:-1]
    if isinstance(obj, (list, tuple)):
        if len(obj) == 2 and all(x is None or isinstance(x, (int, float)) for x in obj):
            return {f"{key}_lo": _clean(obj[0]), f"{key}_hi": _clean(obj[1])}
        return {key: ";".join(map(str, obj))}
    return {key: _clean(obj)}


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV with the union of the rows' columns, first-seen order."""
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(cols), lineterminator="\n", restval="")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


__all__ = [
    "MAX_COLUMNS",
    "TABLE_METRICS",
    "TablePart",
    "build_parts",
    "category_rows",
    "cell_rows",
    "format_cell",
    "latex_escape",
    "order_categories",
    "rows_to_csv",
    "task_rows",
    "to_csv",
    "to_latex",
    "to_markdown",
]
