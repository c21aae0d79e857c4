"""Number formats and the one-screen summary table, shared by `forgetmap compare`, the demo and
the HTML report (one format for a p-value everywhere)."""

from __future__ import annotations

import math

from rich.table import Table
from rich.text import Text

from forgetmap.analysis.results import TOTAL, CategorySummary, PairResult, Stat


def format_p(p: float | None) -> str:
    """Exact p-value: 3 decimals, scientific below 0.001 (`4.2e-05`); '–' when undefined."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def format_stat(stat: Stat | None, with_std: bool = True) -> str:
    """A fraction's mean (± std over seeds) x100 with one decimal: `12.3 ± 0.4`; '–' missing."""
    if stat is None or stat.mean is None:
        return "–"
    text = f"{100 * stat.mean:.1f}"
    if with_std and stat.std is not None:
        text += f" ± {100 * stat.std:.1f}"
    return text


_COLUMNS = (
    "category",
    "F_true ± std",
    "BT_true ± std",
    "acc before→after",
    "no-ans. F",
    "1→0 / 0→1",
    "McNemar p",
    "tasks",
)


def summary_table(pair: PairResult) -> Table:
    """Per category and in total (x100, mean ± std over seeds): F_true, BT_true, accuracy before
    and after, forgetting with no extractable answer after, pooled flip counts and their exact
    McNemar p. Conventional forgetting and the rest are in the report's tables."""
    excluded = (
        f"; not in aggregates: {', '.join(pair.excluded_from_aggregate)}"
        if pair.excluded_from_aggregate
        else ""
    )
    table = Table(
        title=f"{pair.before} → {pair.after}  (x100, mean ± std over seeds)",
        caption=(
            f"seeds {', '.join(map(str, pair.seeds))}; {pair.n_paired:,} paired rows; unpaired: "
            f"{pair.unpaired.before_only:,} before-only, {pair.unpaired.after_only:,} after-only"
            + excluded
        ),
        caption_style="dim",
        caption_justify="left",
    )
    rows: list[tuple[str, CategorySummary]] = list(pair.categories.items())
    if pair.total is not None:
        rows.append((TOTAL, pair.total))
    longest = max((len(name) for name, _ in rows), default=8)
    for name in _COLUMNS:
        if name == "category":  # names are never cut; numbers give way on a narrow screen
            table.add_column(name, no_wrap=True, min_width=longest)
        else:
            table.add_column(name, justify="right")
    for name, c in rows:
        acc = f"{format_stat(c.acc_pre, False)} → {format_stat(c.acc_post, False)}"
        table.add_row(
            Text(name, style="bold" if name == TOTAL else ""),
            format_stat(c.F_true),
            format_stat(c.BT_true),
            acc,
            format_stat(c.F_no_answer, with_std=False),
            f"{c.pooled.n10:,} / {c.pooled.n01:,}",
            format_p(c.pooled.p_mcnemar),
            str(c.n_tasks),
        )
    return table
