"""The task registry: every benchmark of the study declared as one unit, read from one table.

The table is `tasks.yaml` beside this module (its keys are documented there and in
docs/protocols.md). Per benchmark it declares the data source and its splits (local file
layout, Hugging Face id/config/split/revision), categories, the answer mode and scorer, and the
benchmark's own protocol settings (instruction, few-shot source and count, stop sequences,
loglik form, chance-k rule). This module expands it into `TaskSpec`s and named suites and checks
it; no code anywhere else branches on a benchmark's name (tests/test_declarations.py).

The `synth` benchmark (offline demo data) takes its subsets from
`forgetmap.suite.synthetic.FAMILIES`, the declaration of its generated families.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from forgetmap.errors import ForgetmapError

__all__ = [
    "ANSWER_MODES",
    "SCORERS",
    "SplitSpec",
    "TaskSpec",
    "all_tasks",
    "benchmark_names",
    "category_for",
    "default_protocol",
    "get_task",
    "list_tasks",
    "resolve_tasks",
    "suite_names",
]

ANSWER_MODES = ("letter", "letter_set", "free_form", "instruction")  # extract.AnswerMode
SCORERS = ("extract", "instruction_checks")
TABLE = "tasks.yaml"

_BENCHMARK_KEYS = {"k", "answer_mode", "scorer", "study", "in_aggregate", "data", "protocol", "n_items",
                   "subsets", "subsets_from"}  # fmt: skip
_SUBSET_KEYS = {"category", "k", "varies", "choices", "file", "hub_config", "in_aggregate", "n_items",
                "study", "answer_mode", "scorer", "protocol"}  # fmt: skip
_DATA_KEYS = {"adapter", "split", "fewshot_split", "description_split", "local", "hub", "splits",
              "mirror"}  # fmt: skip
_SPLIT_KEYS = {"adapter", "local", "hub", "fallback"}
_LOCAL_KEYS = {"format", "path", "answers"}


@dataclass(frozen=True)
class SplitSpec:
    """Where one split of a task lives: offline files and the Hub (None: not on the Hub)."""

    name: str
    adapter: str
    local_format: str
    local_paths: tuple[str, ...]  # relative to the data dir
    hub_id: str | None
    hub_configs: tuple[str | None, ...]  # several for MCTest `test` (mc160 + mc500)
    hub_split: str | None
    hub_revision: str | None
    hub_adapter: str  # row adapter for the Hub's schema (= adapter unless declared)
    answer_paths: tuple[str, ...] = ()  # answer file read with each local path (MCTest .ans)
    mirror: tuple[str, str] | None = None  # (URL, local root): the official repo at a commit
    fallback: SplitSpec | None = None  # another local layout, read when only it is present

    @property
    def hub_config(self) -> str | None:
        return self.hub_configs[0] if self.hub_configs else None

    def url_for(self, path: str) -> str | None:
        """Where the official repository (data.mirror) publishes the local file `path`."""
        if self.mirror is None or not path.startswith(self.mirror[1]):
            return None
        return self.mirror[0] + path[len(self.mirror[1]) :]

    def on_disk(self, root: Path) -> SplitSpec:
        """This layout, or its fallback when only the fallback's files are under `root`."""
        if self.fallback is None or all((root / p).exists() for p in self.local_paths):
            return self
        if all((root / p).exists() for p in self.fallback.local_paths):
            return self.fallback
        return self


@dataclass(frozen=True)
class TaskSpec:
    """One evaluable task (`benchmark:subset`): its data, answer mode, scorer and settings."""

    name: str
    benchmark: str
    subset: str
    category: str | None
    k: int | None  # options per item when fixed for the task; None when it varies or free-form
    free_form: bool = False  # answer mode free_form or instruction (no options)
    in_aggregate: bool = True
    study: bool = True  # part of the study's suite (the study's appendix B.2)
    answer_mode: str = "letter"  # one of ANSWER_MODES (forgetmap.suite.extract.AnswerMode)
    scorer: str = "extract"  # one of SCORERS
    adapter: str = ""
    split: str = "test"  # the evaluated split
    fewshot_split: str | None = None
    description_split: str | None = None
    local_format: str = ""
    local_paths: tuple[str, ...] = ()  # of the evaluated split, relative to the data dir
    hub_id: str | None = None
    hub_config: str | None = None
    hub_split: str | None = None
    hub_revision: str | None = None
    k_nominal: int | None = (
        None  # declared option count (the study's appendix B.2); items keep their own k
    )
    n_items: int | None = None  # official number of items of the evaluated split (data check)
    fixed_choices: tuple[str, ...] = ()  # option list for BBH tasks whose inputs carry none
    splits: Mapping[str, SplitSpec] = field(default_factory=dict, compare=False, hash=False)
    protocol: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def k_label(self) -> str:
        """k as shown to users: the int, 'free-form', or 'varies'."""
        if self.free_form:
            return "free-form"
        return str(self.k) if self.k is not None else "varies"

    def split_spec(self, split: str | None = None) -> SplitSpec:
        """The declared split `split` (default: the evaluated one)."""
        name = split or self.split
        if name not in self.splits:
            raise ForgetmapError(
                f"{self.name}: no split {name!r} declared in {TABLE} "
                f"(splits: {', '.join(self.splits) or 'none'})"
            )
        return self.splits[name]


def _err(key: str, msg: str) -> ForgetmapError:
    return ForgetmapError(f"{TABLE}: {key}: {msg}")


def _fill(template: Any, values: dict[str, Any], key: str) -> Any:
    if template is None:
        return None
    try:
        return str(template).format(**values)
    except KeyError as exc:
        raise _err(key, f"unknown placeholder {exc} in {template!r}") from None


def _hub_revision(benchmark: str, default: str | None) -> str | None:
    return os.environ.get(f"FORGETMAP_HUB_REVISION_{benchmark.upper()}", default)


def _choices(spec: Any) -> tuple[str, ...]:
    if spec is None:
        return ()
    if isinstance(spec, str) and spec.startswith("range:"):
        _, lo, hi = spec.split(":")
        return tuple(str(i) for i in range(int(lo), int(hi) + 1))
    return tuple(str(c) for c in spec)


def _check_keys(doc: Any, allowed: set[str], key: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise _err(key, f"must be a mapping, got {type(doc).__name__}")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _err(f"{key}.{unknown[0]}", f"unknown key{hint}")
    return doc


def _mirror(data: dict[str, Any], key: str) -> tuple[str, str] | None:
    """data.mirror {url, root}: the official repository (at a commit) whose files under `url`
    are the data folder's files under `root`."""
    m = data.get("mirror")
    if m is None:
        return None
    m = _check_keys(m, {"url", "root"}, f"{key}.mirror")
    if not str(m.get("url", "")).endswith("/") or not str(m.get("root", "")).endswith("/"):
        raise _err(f"{key}.mirror", "needs `url` and `root`, both ending in '/'")
    return str(m["url"]), str(m["root"])


def _split_spec(
    benchmark: str, data: dict[str, Any], name: str, values: dict[str, Any], key: str
) -> SplitSpec:
    """Split `name`: the benchmark-level layout with `{split}` = name, plus its overrides."""
    over = _check_keys(data["splits"].get(name) or {}, _SPLIT_KEYS, f"{key}.splits.{name}")
    local = {**(data.get("local") or {}), **(over.get("local") or {})}
    _check_keys(local, _LOCAL_KEYS, f"{key}.splits.{name}.local")
    if "hub" in over:
        hub = None if over["hub"] is None else {**(data.get("hub") or {}), **over["hub"]}
    else:
        hub = data.get("hub")
    adapter = over.get("adapter", data["adapter"])
    vals = {**values, "split": name}
    files = values["_files"]

    def per_file(template: str | None) -> tuple[str, ...]:
        return tuple(_fill(template, {**vals, "file": f}, key) for f in files) if template else ()

    fallback = None
    if over.get("fallback") is not None:
        fkey = f"{key}.splits.{name}.fallback"
        fb = _check_keys(over["fallback"], {"adapter", "local"}, fkey)
        inner = {**data, "adapter": fb.get("adapter", adapter), "local": fb.get("local")}
        fallback = _split_spec(benchmark, {**inner, "splits": {name: {}}}, name, values, fkey)
    hub = hub or {}
    return SplitSpec(
        name=name,
        adapter=adapter,
        local_format=local.get("format", ""),
        local_paths=per_file(local.get("path")),
        hub_id=hub.get("id"),
        hub_configs=tuple(_fill(hub.get("config"), {**vals, "file": f}, key) for f in files)
        if hub
        else (),
        hub_split=_fill(hub.get("split"), vals, key),
        hub_revision=_hub_revision(benchmark, hub.get("revision")) if hub else None,
        hub_adapter=adapter if "adapter" in over else hub.get("adapter", adapter),
        answer_paths=per_file(local.get("answers")),
        mirror=_mirror(data, key),
        fallback=fallback,
    )


def _n_items(benchmark: str, b: dict[str, Any], sub: dict[str, Any], subset: str) -> int | None:
    """The official item count: the subset's `n_items`, else the benchmark's (an int, or a
    mapping subset -> int)."""
    n = sub.get("n_items", b.get("n_items"))
    if isinstance(n, Mapping):
        n = n.get(subset)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise _err(f"benchmarks.{benchmark}.n_items", f"{subset}: not a count: {n!r}")
    return n


def _subsets(benchmark: str, b: dict[str, Any]) -> dict[str, Any]:
    """The subsets of `b`, or those of the module named by `subsets_from` (synth families)."""
    source = b.get("subsets_from")
    if source is None:
        return b.get("subsets") or {}
    try:
        mod = importlib.import_module(f"forgetmap.suite.{source}")
    except ModuleNotFoundError as exc:
        raise _err(f"benchmarks.{benchmark}.subsets_from", f"no module {source!r}") from exc
    return {
        fam: {"category": cat, "k": int(k) if k else None}
        for fam, (cat, k) in getattr(mod, "FAMILIES", {}).items()
    }


def _expand(benchmark: str, b: dict[str, Any], defaults: dict[str, Any]) -> list[TaskSpec]:
    key = f"benchmarks.{benchmark}"
    b = _check_keys(b, _BENCHMARK_KEYS, key)
    data = _check_keys(b.get("data"), _DATA_KEYS, f"{key}.data")
    out = []
    for subset, sub in _subsets(benchmark, b).items():
        skey = f"{key}.subsets.{subset}"
        sub = _check_keys(
            {"category": sub} if isinstance(sub, str) else dict(sub), _SUBSET_KEYS, skey
        )
        values: dict[str, Any] = {
            **{k: v for k, v in sub.items() if isinstance(v, str)},
            "subset": subset,
        }
        files = sub.get("file", subset)
        values["_files"] = files if isinstance(files, list) else [files]
        split = _fill(data.get("split", "test"), values, f"{key}.data.split")
        raw = data.get("splits") or {split: {}}
        raw = {_fill(n, values, f"{key}.data.splits"): v for n, v in raw.items()}
        splits = {
            n: _split_spec(benchmark, {**data, "splits": raw}, n, values, f"{key}.data")
            for n in raw
        }
        if split not in splits:
            raise _err(f"{key}.data.splits", f"the evaluated split {split!r} is not declared")
        answer = sub.get("answer_mode", b.get("answer_mode", defaults.get("answer_mode", "letter")))
        scorer = sub.get("scorer", b.get("scorer", defaults.get("scorer", "extract")))
        if answer not in ANSWER_MODES:
            raise _err(f"{skey}.answer_mode", f"must be one of {', '.join(ANSWER_MODES)}")
        if scorer not in SCORERS:
            raise _err(f"{skey}.scorer", f"must be one of {', '.join(SCORERS)}")
        fewshot = data.get("fewshot_split")
        describe = data.get("description_split")
        for k_, name in (("fewshot_split", fewshot), ("description_split", describe)):
            if name is not None and name not in splits:
                raise _err(f"{key}.data.{k_}", f"split {name!r} is not declared in splits")
        k = sub.get("k", b.get("k"))
        k_nominal = k
        if sub.get("varies"):
            k = None
        ev = splits[split]
        protocol = {**(b.get("protocol") or {}), **(sub.get("protocol") or {})}
        out.append(
            TaskSpec(
                name=f"{benchmark}:{subset}",
                benchmark=benchmark,
                subset=subset,
                category=sub.get("category"),
                k=k,
                free_form=answer in ("free_form", "instruction"),
                in_aggregate=bool(sub.get("in_aggregate", b.get("in_aggregate", True))),
                study=bool(sub.get("study", b.get("study", True))),
                answer_mode=answer,
                scorer=scorer,
                adapter=ev.adapter,
                split=split,
                fewshot_split=fewshot,
                description_split=describe,
                local_format=ev.local_format,
                local_paths=ev.local_paths,
                hub_id=ev.hub_id,
                hub_config=ev.hub_config,
                hub_split=ev.hub_split,
                hub_revision=ev.hub_revision,
                k_nominal=k_nominal,
                n_items=_n_items(benchmark, b, sub, subset),
                fixed_choices=_choices(sub.get("choices")),
                splits=splits,
                protocol=protocol,
            )
        )
    return out


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    text = resources.files("forgetmap.suite").joinpath(TABLE).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    _check_keys(doc, {"defaults", "anchors", "benchmarks", "suites"}, "(top level)")
    return doc


def default_protocol() -> dict[str, Any]:
    """The registry's `defaults.protocol` block: the house style every benchmark starts from."""
    return dict(_table()["defaults"].get("protocol") or {})


@lru_cache(maxsize=1)
def _tasks() -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    defaults = _table().get("defaults") or {}
    for benchmark, b in _table()["benchmarks"].items():
        for t in _expand(benchmark, b, defaults):
            tasks[t.name] = t
    return tasks


def all_tasks() -> list[TaskSpec]:
    """Every registered task (study tasks, extra subsets, synth)."""
    return list(_tasks().values())


def benchmark_names() -> list[str]:
    """Names of the declared benchmarks, in table order."""
    return list(_table()["benchmarks"])


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
    """Names of the named suites, plus `all`."""
    return [*_table()["suites"], "all"]


def _select(entries: list[str], seen: tuple[str, ...] = ()) -> list[str]:
    tasks = _tasks()
    suites = _table()["suites"]
    chosen: list[str] = []
    fields = {
        "category": lambda t, v: t.category == v,
        "aggregate": lambda t, v: t.in_aggregate == (v == "true"),
        "benchmark": lambda t, v: t.benchmark == v,
    }
    for entry in entries:
        drop = entry.startswith("-")
        pat = entry[1:] if drop else entry
        head, _, value = pat.partition(":")
        if pat.startswith("@"):
            ref = pat[1:]
            if ref in seen or ref not in suites:
                raise ForgetmapError(f"suite table: bad reference {entry!r}")
            matched = _select(suites[ref], (*seen, ref))
        elif head in fields:
            matched = [n for n in tasks if fields[head](tasks[n], value)]
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
    first: dict[str, TaskSpec] = {}
    for t in out:
        first.setdefault(t.name, t)
    return list(first.values())
