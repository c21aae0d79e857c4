"""forgetmap: map what post-training forgets, item by item.

The public API, importable from the top level::

    import forgetmap

    forgetmap.import_logs("lm-eval", "logs/base", results="runs", model="base")
    forgetmap.import_logs("lm-eval", "logs/instruct", results="runs", model="instruct")
    store = forgetmap.ResultsStore("runs")
    comparison = forgetmap.compare(store, [("base", "instruct")])
    print(comparison.pair("base", "instruct").total.F_true)
    forgetmap.build_report(comparison, store, "report")

Every name is imported on first use (module `__getattr__`), so `import forgetmap` is instant and
loads no torch, no Arrow, no model code; `evaluate` brings in its backend's libraries only when a
model is loaded. The README's "Python API" section is a complete script (run by a test).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from forgetmap.version import __version__

# public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    # evaluate a model on tasks x seeds into a results directory
    "evaluate": "forgetmap.engine.runner:evaluate",
    # compare pairs of models: a typed Comparison (docs/metrics.md)
    "compare": "forgetmap.analysis.compare:compare",
    "Comparison": "forgetmap.analysis.results:Comparison",
    "flipped_items": "forgetmap.analysis.flips:flipped_items",
    # tables, figures and report.html
    "build_report": "forgetmap.report.build:build_report",
    # studies: many pairs, merges, one report (docs/study.md)
    "load_study": "forgetmap.study.config:load_study",
    "run_study": "forgetmap.study.pipeline:run_study",
    # checkpoints of a training run vs its base: the forgetting curve (docs/tracking.md)
    "track": "forgetmap.track.run:run_track",
    # per-sample records (docs/records.md)
    "ResultsStore": "forgetmap.records.store:ResultsStore",
    # the task registry
    "get_task": "forgetmap.suite.registry:get_task",
    "list_tasks": "forgetmap.suite.registry:list_tasks",
    # other tools' logs -> records (docs/importers.md)
    "import_logs": "forgetmap.importers:import_logs",
    "ForgetmapError": "forgetmap.errors:ForgetmapError",
}

__all__ = [  # = __version__ and the keys of _EXPORTS (tests/test_api.py checks)
    "Comparison",
    "ForgetmapError",
    "ResultsStore",
    "__version__",
    "build_report",
    "compare",
    "evaluate",
    "flipped_items",
    "get_task",
    "import_logs",
    "list_tasks",
    "load_study",
    "run_study",
    "track",
]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'forgetmap' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from forgetmap.analysis.compare import compare
    from forgetmap.analysis.flips import flipped_items
    from forgetmap.analysis.results import Comparison
    from forgetmap.engine.runner import evaluate
    from forgetmap.errors import ForgetmapError
    from forgetmap.importers import import_logs
    from forgetmap.records.store import ResultsStore
    from forgetmap.report.build import build_report
    from forgetmap.study.config import load_study
    from forgetmap.study.pipeline import run_study
    from forgetmap.suite.registry import get_task, list_tasks
    from forgetmap.track.run import run_track as track
