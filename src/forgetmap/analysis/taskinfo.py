"""Category and aggregate membership of tasks, from the suite registry when it knows the task.

The registry (layer 3, `forgetmap.suite.registry`) is imported lazily; tasks it does not know
(imported logs with their own names) use the part of the task name before ':' as category and
count in aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _registry() -> Any:
    try:
        from forgetmap.suite import registry
    except ImportError:
        return None
    return registry


def task_info(tasks: Iterable[str]) -> dict[str, tuple[str | None, bool]]:
    """{task: (registry category or None, in_aggregate)} for each task."""
    reg = _registry()
    out: dict[str, tuple[str | None, bool]] = {}
    for t in tasks:
        cat, in_agg = None, True
        if reg is not None:
            try:
                cat = reg.category_for(t)
            except Exception:  # noqa: BLE001 - an unknown task is not an error here
                cat = None
            if cat is not None:
                try:
                    in_agg = bool(getattr(reg.get_task(t), "in_aggregate", True))
                except Exception:  # noqa: BLE001
                    in_agg = True
        out[t] = (cat, in_agg)
    return out


def fallback_category(task: str) -> str:
    """Category of a task the registry does not know: the benchmark part before ':'."""
    return task.split(":", 1)[0]
