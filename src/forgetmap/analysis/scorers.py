"""Were the two sides of a task scored the same way? (compare warnings, issues 13 and 15)

An imported row's `extract_rule` names the tool, where its pred came from and the filter /
metric / scorer that decided `correct` (`lm-eval:logged:strict-match/exact_match`,
`inspect:logged:choice`; docs/importers.md); rows that forgetmap's extractor scored (its own
runs, `--reextract`) count as one scorer, `forgetmap`. When the before and after side of a task
were scored differently - another lm-eval filter, another inspect scorer, one side re-extracted
- a flip may be the scoring's, not the model's: compare says so.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.importers import scorer_key
from forgetmap.records import ResultsStore


def scorer_sets(
    source: ResultsStore | pa.Table, models: list[str]
) -> dict[tuple[str, str], set[str]]:
    """{(model, task): the scorer keys of its rows} for `models` (distinct rules only)."""
    if isinstance(source, ResultsStore):
        table = source.read(models=models, columns=["model", "task", "extract_rule"])
    else:
        cols = [c for c in ("model", "task", "extract_rule") if c in source.column_names]
        table = source.select(cols)
        table = table.filter(pc.is_in(table["model"], pa.array(models, pa.string())))
    if "extract_rule" not in table.column_names:
        table = table.append_column("extract_rule", pa.nulls(table.num_rows, pa.string()))
    distinct = table.group_by(["model", "task", "extract_rule"]).aggregate([])
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in distinct.to_pylist():
        out[(row["model"], row["task"])].add(scorer_key(row["extract_rule"]))
    return out


def scorer_warnings(
    sets: dict[tuple[str, str], set[str]], before: str, after: str, tasks: list[str]
) -> list[str]:
    """One warning per task (of `tasks`, the paired ones) whose two sides were scored by
    different filters / metrics / scorers."""
    out = []
    for task in tasks:
        b, a = sets.get((before, task), set()), sets.get((after, task), set())
        if b and a and b != a:
            out.append(
                f"{before} -> {after}: task {task} was scored differently on the two sides "
                f"(before: {', '.join(sorted(b))}; after: {', '.join(sorted(a))}); flips may come "
                "from the filter/scorer, not the model (docs/importers.md)"
            )
    return out
