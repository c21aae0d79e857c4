"""Terminal tables that never cut a number: columns fit the console or go to a further table.

Rich shrinks columns to fit the console and then truncates cells ("11.0±…") when stdout is not a
wide terminal. Here columns keep their natural width, and when they do not fit side by side they
are split over several tables that each repeat the key (first) column — the way the LaTeX tables
are split into parts. A column too wide for the console on its own wraps at spaces, never below
its longest unbreakable token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

_PAD = 3  # two spaces of padding plus a border per column in rich's default box


@dataclass
class Column:
    header: str
    justify: str = "right"
    style: str | None = None


@dataclass
class FitTable:
    """A table described by columns and rows of cells (str or rich Text)."""

    title: str | None
    columns: list[Column]
    rows: list[list[str | Text]] = field(default_factory=list)
    caption: str | None = None
    row_styles: list[str | None] = field(default_factory=list)

    def add_row(self, *cells: str | Text, style: str | None = None) -> None:
        self.rows.append(list(cells))
        self.row_styles.append(style)


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def min_width(header: str, cells: Sequence[str | Text]) -> int:
    """Width of the longest unbreakable token of a column (header words included)."""
    words = [w for c in cells for w in _plain(c).split()] + header.split()
    return max((len(w) for w in words), default=1)


def natural_width(header: str, cells: Sequence[str | Text]) -> int:
    return max([len(header), *(len(_plain(c)) for c in cells)], default=1)


def _widths(table: FitTable) -> tuple[list[int], list[int]]:
    cols = range(len(table.columns))
    lo = [min_width(table.columns[j].header, [r[j] for r in table.rows]) for j in cols]
    hi = [natural_width(table.columns[j].header, [r[j] for r in table.rows]) for j in cols]
    return lo, [max(a, b) for a, b in zip(lo, hi, strict=True)]


def split_columns(table: FitTable, width: int) -> list[list[int]]:
    """Groups of column indices (each starting with the key column 0) that fit in `width` at
    their natural width (cells unwrapped); only a column too wide for the console beside the
    key column on its own is counted at what remains (its cells then wrap at spaces)."""
    lo, hi = _widths(table)
    room = width - 1 - 2 * _PAD - hi[0]
    return _groups([hi[0], *(max(lo[j], min(hi[j], room)) for j in range(1, len(hi)))], width)


def _groups(w: list[int], width: int) -> list[list[int]]:
    groups: list[list[int]] = []
    current: list[int] = [0]
    used = 1 + w[0] + _PAD
    for j in range(1, len(w)):
        if len(current) > 1 and used + w[j] + _PAD > width:
            groups.append(current)
            current, used = [0], 1 + w[0] + _PAD
        current.append(j)
        used += w[j] + _PAD
    groups.append(current)
    return groups


def fit_widths(lo: list[int], hi: list[int], width: int) -> list[int]:
    """Column widths between lo and hi summing (with borders) to at most `width`: natural widths
    when they fit, else the widest columns give way first, never below lo."""
    w = list(hi)
    budget = width - 1 - _PAD * len(w)
    while sum(w) > budget:
        slack = [x - m for x, m in zip(w, lo, strict=True)]
        j = max(range(len(w)), key=lambda i: (slack[i] > 0, w[i]))
        if slack[j] <= 0:
            break
        w[j] -= 1
    return w


def render(table: FitTable, console: Console, width: int | None = None) -> list[RenderableType]:
    """Rich tables for `table` at `width` (default: the console's; one unless it must split)."""
    width = width or console.width
    lo, hi = _widths(table)
    groups = split_columns(table, width)
    out: list[RenderableType] = []
    for g, idx in enumerate(groups):
        part = f" ({g + 1}/{len(groups)})" if len(groups) > 1 else ""
        t = Table(
            title=(table.title + part) if table.title else None,
            caption=table.caption if g == len(groups) - 1 else None,
            caption_justify="left",
            caption_style="dim",
        )
        widths = fit_widths([lo[j] for j in idx], [hi[j] for j in idx], width)
        for j, w in zip(idx, widths, strict=True):
            c = table.columns[j]
            t.add_column(
                c.header,
                justify=c.justify,  # type: ignore[arg-type]
                style=c.style,
                width=w,
                overflow="fold",
            )
        for row, style in zip(table.rows, table.row_styles, strict=True):
            t.add_row(*(row[j] for j in idx), style=style)
        out.append(t)
    return out


def print_table(table: FitTable, console: Console) -> None:
    for t in render(table, console):
        console.print(t)
