"""Category and aggregate membership of tasks, from the suite registry when it knows the task.

Tasks the registry does not know (imported logs with their own names) use the part of the task
name before ':' as category and count in aggregates (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from forgetmap.suite.registry import category_for, get_task


def task_info(tasks: Iterable[str]) -> dict[str, tuple[str | None, bool]]:
    """{task: (registry category or None, in_aggregate)} for each task."""
    out: dict[str, tuple[str | None, bool]] = {}
    for t in tasks:
        cat = category_for(t)
        out[t] = (cat, get_task(t).in_aggregate if cat is not None else True)
    return out


def fallback_category(task: str) -> str:
    """Category of a task the registry does not know: the benchmark part before ':'."""
    return task.split(":", 1)[0]
