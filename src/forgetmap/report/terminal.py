"""Number formats and the one-screen summary table, shared by `forgetmap compare`, the demo and
the HTML report (one format for a p-value everywhere)."""

from __future__ import annotations

import math

from rich.console import Console, ConsoleOptions, RenderResult

from forgetmap.analysis.results import TOTAL, CategorySummary, PairResult, Stat
from forgetmap.report.fit_table import Column, FitTable, render
from forgetmap.report.model import fmt_pct


def format_p(p: float | None) -> str:
    """Exact p-value: 3 decimals, scientific below 0.001 (`4.2e-05`); '–' when undefined."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def format_stat(stat: Stat | None, with_std: bool = True) -> str:
    """A fraction's mean (± std over seeds) x100 with one decimal: `12.3 ± 0.4`; '–' missing."""
    if stat is None or stat.mean is None:
        return "–"
    text = fmt_pct(stat.mean)
    if with_std and stat.std is not None:
        text += f" ± {fmt_pct(stat.std)}"
    return text


_COLUMNS = (
    ("category", "left"),
    ("F_true ± std", "right"),
    ("F_excess [95% CI]", "right"),
    ("MDE", "right"),
    ("BT_true ± std", "right"),
    ("acc before→after", "right"),
    ("no-ans. F", "right"),
    ("1→0 / 0→1", "right"),
    ("McNemar p", "right"),
    ("tasks", "right"),
)
NOISE_NOTE = (
    "†: not distinguishable from sampling noise (95% CI reaches 0 or does not clear the "
    "before-model's floor); F_excess = F_true - before-model noise floor; MDE: smallest "
    "F_excess detectable (80% power, alpha 0.05)"
)


def _interval(block: CategorySummary) -> str:
    ex = block.F_excess
    if ex is None or ex.mean is None:
        return "–"
    text = fmt_pct(ex.mean)
    lo, hi = ex.ci95 if ex.ci95 else (None, None)
    if lo is not None and hi is not None:
        text += f" [{fmt_pct(lo)}, {fmt_pct(hi)}]"
    return text


def _flagged(block: CategorySummary, metric: str) -> str:
    text = format_stat(block.stat(metric))
    return text + ("†" if block.distinguishable(metric) is False else "")


def summary_fit_table(pair: PairResult) -> FitTable:
    """Per category and in total (x100, mean ± std over seeds): F_true († when it is not
    distinguishable from noise), its excess over the noise floor with the 95% CI, the MDE,
    BT_true, accuracy before and after, forgetting with no extractable answer after, pooled flip
    counts and their exact McNemar p. The rest is in the report's tables."""
    excluded = (
        f"; not in aggregates: {', '.join(pair.excluded_from_aggregate)}"
        if pair.excluded_from_aggregate
        else ""
    )
    rows: list[tuple[str, CategorySummary]] = list(pair.categories.items())
    if pair.total is not None:
        rows.append((TOTAL, pair.total))
    marked = any(c.distinguishable("F_true") is not None for _, c in rows)
    table = FitTable(
        f"{pair.before} → {pair.after}  (x100, mean ± std over seeds)",
        [Column(name, justify) for name, justify in _COLUMNS],
        caption=(
            f"seeds {', '.join(map(str, pair.seeds))}; {pair.n_paired:,} paired rows; unpaired: "
            f"{pair.unpaired.before_only:,} before-only, {pair.unpaired.after_only:,} after-only"
            + excluded
            + ("\n" + NOISE_NOTE if marked else "")
        ),
    )
    for name, c in rows:
        acc = f"{format_stat(c.acc_pre, False)} → {format_stat(c.acc_post, False)}"
        table.add_row(
            name,
            _flagged(c, "F_true"),
            _interval(c),
            fmt_pct(c.mde_F_true),
            _flagged(c, "BT_true"),
            acc,
            format_stat(c.F_no_answer, with_std=False),
            f"{c.pooled.n10:,} / {c.pooled.n01:,}",
            format_p(c.pooled.p_mcnemar),
            str(c.n_tasks),
            style="bold" if name == TOTAL else None,
        )
    return table


class SummaryTable:
    """The summary table as a rich renderable: it fits the console it is printed on (columns
    that do not fit go to a further table; a number is never cut)."""

    def __init__(self, pair: PairResult) -> None:
        self.table = summary_fit_table(pair)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from render(self.table, console, width=options.max_width)


def summary_table(pair: PairResult) -> SummaryTable:
    """The one-screen summary of a pair (summary_fit_table), ready for `console.print`."""
    return SummaryTable(pair)


def noise_words(pair: PairResult) -> str | None:
    """In words: the categories whose forgetting is distinguishable from sampling noise and those
    whose forgetting is not (None when the comparison has no intervals)."""
    yes: list[str] = []
    no: list[str] = []
    for name, block in pair.categories.items():
        flag = block.distinguishable("F_true")
        if flag is not None:
            (yes if flag else no).append(name)
    if not yes and not no:
        return None
    parts = []
    if yes:
        parts.append(f"Forgetting distinguishable from sampling noise in {_join(yes)}")
    else:
        parts.append("No category shows forgetting distinguishable from sampling noise")
    if no:
        parts.append(f"not in {_join(no)} (95% CI reaches 0 or does not clear the noise floor)")
    total = pair.total.distinguishable("F_true") if pair.total is not None else None
    if total is not None and pair.total is not None:
        ex = pair.total.F_excess
        beyond = (
            f", {fmt_pct(ex.mean)} points beyond the noise floor"
            if ex is not None and ex.mean is not None
            else ""
        )
        parts.append(f"in total it is {'' if total else 'not '}distinguishable{beyond}")
    return "; ".join(parts) + "."


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
