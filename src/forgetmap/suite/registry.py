"""The task registry: every benchmark/subset of the study, read from one declarative table.

The table is `tasks.yaml` beside this module (documented there). This module only expands it
into `TaskSpec`s and named suites; per-benchmark differences live in the table and in the row
adapters of `forgetmap.suite.loaders`, never in per-task code here.

Tasks of the `synth` benchmark (offline demo data) are registered lazily from
`forgetmap.suite.synthetic.FAMILIES` when that module exists.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from forgetmap.errors import ForgetmapError

__all__ = [
    "TaskSpec",
    "category_for",
    "get_task",
    "list_tasks",
    "resolve_tasks",
    "suite_names",
]


@dataclass(frozen=True)
class TaskSpec:
    """One evaluable task (`benchmark:subset`) and where its items come from."""

    name: str
    benchmark: str
    subset: str
    category: str | None
    k: int | None  # options per item when fixed for the task; None when it varies or free-form
    free_form: bool = False
    answer_mode: str | None = None  # forgetmap.suite.extract.AnswerMode; None: letter/free_form
    in_aggregate: bool = True
    study: bool = True  # part of the study's suite (DESIGN §5)
    adapter: str = ""
    split: str = "test"
    fewshot_split: str | None = None
    local_format: str = ""
    local_paths: tuple[str, ...] = ()  # relative to the data dir
    fewshot_paths: tuple[str, ...] = ()  # relative to the data dir; empty: derived by the loader
    hub_id: str | None = None
    hub_config: str | None = None
    hub_split: str | None = None
    hub_revision: str | None = None
    k_nominal: int | None = None  # DESIGN §5 option count (BBH); items keep their own k
    fixed_choices: tuple[str, ...] = ()  # option list for BBH tasks whose inputs carry none
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def k_label(self) -> str:
        """k as shown to users: the int, 'free-form', or 'varies'."""
        if self.free_form:
            return "free-form"
        return str(self.k) if self.k is not None else "varies"


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if template is None:
        return None
    return str(template).format(**values)


def _hub_revision(benchmark: str, default: str | None) -> str | None:
    return os.environ.get(f"FORGETMAP_HUB_REVISION_{benchmark.upper()}", default)


def _choices(spec: Any) -> tuple[str, ...]:
    if spec is None:
        return ()
    if isinstance(spec, str) and spec.startswith("range:"):
        _, lo, hi = spec.split(":")
        return tuple(str(i) for i in range(int(lo), int(hi) + 1))
    return tuple(str(c) for c in spec)


def _expand(benchmark: str, b: dict[str, Any]) -> list[TaskSpec]:
    out = []
    for subset, sub in b["subsets"].items():
        sub = {"category": sub} if isinstance(sub, str) else dict(sub)
        values = {**{k: v for k, v in sub.items() if isinstance(v, str)}, "subset": subset}
        split = _fill(b.get("split", "test"), values)
        values["split"] = split
        files = sub.get("file", subset)
        files = files if isinstance(files, list) else [files]
        local = b.get("local", {})
        paths = tuple(_fill(local.get("path"), {**values, "file": f}) for f in files)
        fewshot_paths = (sub["fewshot_path"],) if "fewshot_path" in sub else ()
        hub = b.get("hub", {})
        k = sub.get("k", b.get("k"))
        k_nominal = k if benchmark == "bbh" else None
        if sub.get("varies"):
            k = None
        free_form = bool(sub.get("free_form", b.get("free_form", False)))
        out.append(
            TaskSpec(
                name=f"{benchmark}:{subset}",
                benchmark=benchmark,
                subset=subset,
                category=sub.get("category"),
                k=k,
                free_form=free_form,
                answer_mode=sub.get("answer_mode", b.get("answer_mode")),
                in_aggregate=bool(sub.get("in_aggregate", b.get("in_aggregate", True))),
                study=bool(sub.get("study", b.get("study", True))),
                adapter=b["adapter"],
                split=split,
                fewshot_split=sub.get("fewshot_split", b.get("fewshot_split")),
                local_format=local.get("format", ""),
                local_paths=paths,
                fewshot_paths=fewshot_paths,
                hub_id=hub.get("id"),
                hub_config=_fill(hub.get("config"), {**values, "file": files[0]}),
                hub_split=_fill(hub.get("split"), values),
                hub_revision=_hub_revision(benchmark, hub.get("revision")),
                k_nominal=k_nominal,
                fixed_choices=_choices(sub.get("choices")),
                extra={"hub_files": files} if len(files) > 1 else {},
            )
        )
    return out


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    text = resources.files("forgetmap.suite").joinpath("tasks.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _synth_tasks() -> list[TaskSpec]:
    """`synth:<family>` tasks from forgetmap.suite.synthetic, if that module is installed."""
    try:
        mod = importlib.import_module("forgetmap.suite.synthetic")
    except ModuleNotFoundError as exc:
        if exc.name == "forgetmap.suite.synthetic":
            return []
        raise
    families = getattr(mod, "FAMILIES", {})
    return [
        TaskSpec(
            name=f"synth:{fam}",
            benchmark="synth",
            subset=fam,
            category=cat,
            k=int(k) if k else None,
            study=False,
            adapter="synth",
            split="generated",
            local_format="synthetic",
        )
        for fam, (cat, k) in families.items()
    ]


@lru_cache(maxsize=1)
def _tasks() -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for benchmark, b in _table()["benchmarks"].items():
        for t in _expand(benchmark, b):
            tasks[t.name] = t
    for t in _synth_tasks():
        tasks.setdefault(t.name, t)
    return tasks


def all_tasks() -> list[TaskSpec]:
    """Every registered task (study tasks, extra subsets, synth)."""
    return list(_tasks().values())


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The task called `name`; an unknown name is a user error that suggests close names."""
    if isinstance(name, TaskSpec):
        return name
    tasks = _tasks()
    if name in tasks:
        return tasks[name]
    close = difflib.get_close_matches(name, list(tasks), n=3, cutoff=0.6)
    if not close and ":" not in name:
        close = [t for t in tasks if t.split(":", 1)[1] == name or t.startswith(name + ":")][:3]
    hint = f"; did you mean {', '.join(close)}?" if close else "; `forgetmap tasks` lists them"
    raise ForgetmapError(f"unknown task {name!r}{hint}")


def category_for(task: str) -> str | None:
    """The registry category of `task`, or None when the registry does not know the task."""
    t = _tasks().get(task)
    return t.category if t else None


def suite_names() -> list[str]:
    """Names of the named suites (plus `all` and `synth` when synth tasks exist)."""
    names = list(_table()["suites"])
    names.append("all")
    if any(t.benchmark == "synth" for t in _tasks().values()):
        names.append("synth")
    return names


def _select(entries: list[str], seen: tuple[str, ...] = ()) -> list[str]:
    tasks = _tasks()
    suites = _table()["suites"]
    chosen: list[str] = []
    for entry in entries:
        drop = entry.startswith("-")
        pat = entry[1:] if drop else entry
        if pat.startswith("@"):
            ref = pat[1:]
            if ref in seen or ref not in suites:
                raise ForgetmapError(f"suite table: bad reference {entry!r}")
            matched = _select(suites[ref], (*seen, ref))
        elif pat.startswith("category:"):
            matched = [n for n in tasks if tasks[n].category == pat.split(":", 1)[1]]
        elif pat.startswith("aggregate:"):
            want = pat.split(":", 1)[1] == "true"
            matched = [n for n in tasks if tasks[n].in_aggregate == want]
        else:
            matched = [n for n in tasks if fnmatch.fnmatchcase(n, pat)]
            matched = [n for n in matched if tasks[n].study or "*" not in pat]
        if drop:
            gone = set(matched)
            chosen = [n for n in chosen if n not in gone]
        else:
            chosen.extend(n for n in matched if n not in chosen)
    return chosen


def list_tasks(suite: str | None = None) -> list[TaskSpec]:
    """Tasks of a named suite (registry order); None or `all`: every registered task."""
    tasks = _tasks()
    if suite is None or suite == "all":
        return list(tasks.values())
    if suite == "synth":
        return [t for t in tasks.values() if t.benchmark == "synth"]
    suites = _table()["suites"]
    if suite not in suites:
        close = difflib.get_close_matches(suite, suite_names(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ForgetmapError(f"unknown suite {suite!r}{hint} (suites: {', '.join(suite_names())})")
    return [tasks[n] for n in _select(suites[suite])]


def resolve_tasks(suite: str | None = None, tasks: str | list[str] | None = None) -> list[TaskSpec]:
    """Tasks from `--suite` and/or `--tasks T1,T2` (globs allowed), in order, without duplicates."""
    out: list[TaskSpec] = list_tasks(suite) if suite else []
    if tasks:
        names = tasks.split(",") if isinstance(tasks, str) else list(tasks)
        for raw in names:
            name = raw.strip()
            if not name:
                continue
            if any(c in name for c in "*?["):
                matched = [t for t in _tasks().values() if fnmatch.fnmatchcase(t.name, name)]
                if not matched:
                    raise ForgetmapError(f"no task matches {name!r}")
                out.extend(matched)
            else:
                out.append(get_task(name))
    if not suite and not tasks:
        raise ForgetmapError("no tasks selected: give --suite NAME or --tasks T1,T2")
    seen: set[str] = set()
    return [t for t in out if not (t.name in seen or seen.add(t.name))]
