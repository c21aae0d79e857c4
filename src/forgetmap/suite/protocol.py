"""Protocols: how every benchmark is asked and scored, as data (format: docs/protocols.md).

A protocol is a YAML file that selects, per benchmark or task, the settings of `SETTINGS`: the
zero-shot chat template, the few-shot template, how many shots and where they come from (the
registry's few-shot split, the evaluated split, or hand-written `exemplars`), stop sequences,
the chance-k rule and multi-answer scoring. Built-ins live in `forgetmap/suite/protocols/`:
`forgetmap` (the registry's own declarations: today's behaviour) and `study-like`. A user's
file is given by path. Settings of a task are resolved from, most specific first:

    protocol tasks.<task>  >  protocol benchmarks.<benchmark>  >  registry (tasks.yaml) subset
    and benchmark `protocol` blocks  >  protocol defaults  >  registry defaults.protocol

so a benchmark's own declarations (IFEval's verbatim prompt, BBH's official description) hold
unless a protocol names the benchmark. Every error in a protocol file is one line naming the
file and the key (`my.yaml: benchmarks.arc.shots: must be an integer >= 0, got 'x'`).

Exemplars taken from an evaluated split are excluded from evaluation under the protocol
(`Protocol.excluded`, `Protocol.load`) and recorded in the run manifest.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from forgetmap.errors import ForgetmapError
from forgetmap.letters import LETTERS
from forgetmap.suite.items import Item, LoadedTask
from forgetmap.suite.registry import (
    ANSWER_MODES,
    TABLE,
    TaskSpec,
    all_tasks,
    benchmark_names,
    default_protocol,
    get_task,
)

__all__ = [
    "DEFAULT_PROTOCOL",
    "SETTINGS",
    "Exemplar",
    "Protocol",
    "TaskProtocol",
    "builtin_protocols",
    "load_declared",
    "render",
]

DEFAULT_PROTOCOL = "forgetmap"
STUDY_PROTOCOL = "study"  # not a file: read from the study's checkout (suite/study_protocol.py)
FEWSHOT_SOURCES = ("split", "eval_split", "exemplars")
MULTI_ANSWER = ("exact_set", "any_gold")

# variables a template may use, per kind (docs/protocols.md lists them with their meaning)
_ITEM_VARS = {"question", "passage", "full_question", "choices", "options", "letters", "k",
              "meta", "task", "benchmark", "subset", "subject"}  # fmt: skip
_VARS: dict[str, set[str]] = {
    "instruction": {"task", "benchmark", "subset", "subject", "description"},
    "system": {"task", "benchmark", "subset", "subject", "instruction"},
    "answer_format": {"letters", "k"},
    "option": {"letter", "text", "index"},
    "chat": _ITEM_VARS | {"instruction", "answer_format"},
    "fewshot_example": _ITEM_VARS | {"reasoning", "answer"},
    "fewshot": _ITEM_VARS | {"instruction", "examples", "query"},
    "loglik_context": _ITEM_VARS | {"instruction"},
    "loglik_continuation": {"letter", "text", "index"},
}


@dataclass(frozen=True)
class Setting:
    """One protocol setting: its kind (how it is checked) and what it does (docs)."""

    kind: str
    doc: str


SETTINGS: dict[str, Setting] = {
    "instruction": Setting("template", "the task instruction (first line of every prompt)"),
    "system": Setting("template?", "a system message before the user turn (null: none)"),
    "answer_format": Setting(
        "templates", "per answer mode (letter, letters, free_form): the line fixing the answer"
    ),
    "option": Setting("template", "one option line, e.g. `{{ letter }}) {{ text }}`"),
    "chat": Setting("template", "the zero-shot user message (cot_chat)"),
    "chat_stop": Setting("stops", "stop sequences of cot_chat"),
    "fewshot_example": Setting(
        "template", "one few-shot example, and the final query (answer none)"
    ),
    "fewshot": Setting("template", "the few-shot completion prompt (cot_fewshot)"),
    "fewshot_stop": Setting("stops", "stop sequences of cot_fewshot"),
    "shots": Setting("count", "number of few-shot examples"),
    "fewshot_source": Setting(
        "choice:" + ",".join(FEWSHOT_SOURCES),
        "split: the registry's few-shot split (else a sample of the evaluated split); "
        "eval_split: a sample of the evaluated split; exemplars: the `exemplars` list",
    ),
    "exemplars": Setting("exemplars", "hand-written examples: items named by task/split/id"),
    "loglik_context": Setting("template", "the shared context of loglik scoring"),
    "loglik_continuation": Setting("template", "one continuation per option (loglik)"),
    "option_order": Setting(
        "choice:registry,source",
        "registry: the options as the registry loads them (GPQA/TruthfulQA shuffled once per "
        "item); source: the source's own order (meta source_choices), gold letter moved along",
    ),
    "choices": Setting(
        "choices",
        "null, or a fixed option list (or `range:LO:HI`) replacing the item's options; the gold "
        "letter follows the gold option's text",
    ),
    "chance_k": Setting(
        "chance_k", "options counted by compare's chance terms: item | nominal | an integer"
    ),
    "multi_answer": Setting(
        "choice:" + ",".join(MULTI_ANSWER),
        "letter-set answers: exact_set (all gold letters, no other) or any_gold (every "
        "predicted letter is gold)",
    ),
}
_EXEMPLAR_KEYS = {"task", "split", "id", "answer", "reasoning"}


@dataclass(frozen=True)
class Exemplar:
    """A hand-written few-shot example: the item `id` of `split` of `task` (None: the task it
    is used for), its gold `answer` (checked against the data) and our own `reasoning`."""

    id: str
    split: str
    answer: str
    reasoning: str
    task: str | None = None
    key: str = ""  # where it is declared, for error messages


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


@lru_cache(maxsize=512)
def _compile(source: str) -> tuple[Any, frozenset[str]]:
    """The compiled template and the variables it uses (raises TemplateSyntaxError)."""
    parsed = _ENV.parse(source)
    return _ENV.from_string(source), frozenset(meta.find_undeclared_variables(parsed))


def render(source: str, **values: Any) -> str:
    """Render a protocol template (Jinja, sandboxed, undefined variables are errors)."""
    template, _ = _compile(source)
    return template.render(**values)


def uses(source: str, name: str) -> bool:
    """Whether the template `source` refers to variable `name`."""
    return name in _compile(source)[1]


# -- checking a settings mapping ------------------------------------------------------------------


class _Checker:
    def __init__(self, where: str):
        self.where = where

    def err(self, key: str, msg: str) -> ForgetmapError:
        return ForgetmapError(f"{self.where}: {key}: {msg}")

    def template(self, v: Any, key: str, kind: str, nullable: bool = False) -> Any:
        if v is None and nullable:
            return None
        if not isinstance(v, str):
            raise self.err(key, f"must be a template string, got {type(v).__name__}")
        try:
            _, used = _compile(v)
        except TemplateSyntaxError as exc:
            raise self.err(key, f"template error at line {exc.lineno}: {exc.message}") from None
        unknown = sorted(used - _VARS[kind])
        if unknown:
            raise self.err(
                key,
                f"unknown template variable {unknown[0]!r} "
                f"(variables: {', '.join(sorted(_VARS[kind]))})",
            )
        return v

    def setting(self, name: str, v: Any, key: str) -> Any:
        kind = SETTINGS[name].kind
        if kind == "template":
            return self.template(v, key, name)
        if kind == "template?":
            return self.template(v, key, name, nullable=True)
        if kind == "templates":
            if not isinstance(v, dict):
                raise self.err(key, "must be a mapping of answer mode -> template")
            for mode, t in v.items():
                if mode not in ANSWER_MODES:
                    raise self.err(f"{key}.{mode}", f"unknown answer mode; use {ANSWER_MODES}")
                self.template(t, f"{key}.{mode}", "answer_format")
            return dict(v)
        if kind == "stops":
            if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
                raise self.err(key, "must be a list of non-empty strings")
            return list(v)
        if kind == "count":
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise self.err(key, f"must be an integer >= 0, got {v!r}")
            return v
        if kind.startswith("choice:"):
            options = kind.split(":", 1)[1].split(",")
            if v not in options:
                raise self.err(key, f"must be one of {', '.join(options)}, got {v!r}")
            return v
        if kind == "chance_k":
            if v in ("item", "nominal") or (
                isinstance(v, int) and not isinstance(v, bool) and v >= 2
            ):
                return v
            raise self.err(key, f"must be item, nominal or an integer >= 2, got {v!r}")
        if kind == "exemplars":
            return self.exemplars(v, key)
        if kind == "choices":
            if v is None:
                return None
            if isinstance(v, str) and v.startswith("range:"):
                try:
                    _, lo, hi = v.split(":")
                    return tuple(str(i) for i in range(int(lo), int(hi) + 1))
                except ValueError:
                    raise self.err(key, f"a range is written range:LO:HI, got {v!r}") from None
            if (
                not isinstance(v, list)
                or len(v) < 2
                or not all(isinstance(c, (str, int)) for c in v)
            ):
                raise self.err(key, "must be null, a list of at least two options, or range:LO:HI")
            return tuple(str(c) for c in v)
        raise AssertionError(kind)

    def exemplars(self, v: Any, key: str) -> tuple[Exemplar, ...]:
        if not isinstance(v, list):
            raise self.err(key, "must be a list of exemplars")
        out = []
        for i, ex in enumerate(v):
            k = f"{key}[{i}]"
            if not isinstance(ex, dict):
                raise self.err(k, "must be a mapping with split, id, answer, reasoning")
            unknown = sorted(set(ex) - _EXEMPLAR_KEYS)
            if unknown:
                raise self.err(f"{k}.{unknown[0]}", f"unknown key (keys: {sorted(_EXEMPLAR_KEYS)})")
            for req in ("split", "id", "answer", "reasoning"):
                if not isinstance(ex.get(req), (str, int)) or str(ex.get(req)).strip() == "":
                    raise self.err(f"{k}.{req}", "required (a non-empty string)")
            task = ex.get("task")
            if task is not None:
                try:
                    spec = get_task(str(task))
                except ForgetmapError as exc:
                    raise self.err(f"{k}.task", str(exc)) from None
                if ex["split"] not in spec.splits:
                    raise self.err(
                        f"{k}.split",
                        f"{spec.name} has no split {ex['split']!r} "
                        f"(splits: {', '.join(spec.splits)})",
                    )
            out.append(
                Exemplar(
                    id=str(ex["id"]),
                    split=str(ex["split"]),
                    answer=str(ex["answer"]).strip(),
                    reasoning=str(ex["reasoning"]).strip(),
                    task=str(task) if task is not None else None,
                    key=k,
                )
            )
        return tuple(out)

    def block(self, doc: Any, key: str) -> dict[str, Any]:
        if doc is None:
            return {}
        if not isinstance(doc, dict):
            raise self.err(key, f"must be a mapping of settings, got {type(doc).__name__}")
        out = {}
        for name, v in doc.items():
            if name not in SETTINGS:
                close = difflib.get_close_matches(str(name), list(SETTINGS), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.err(f"{key}.{name}", f"unknown setting{hint}")
            out[name] = self.setting(name, v, f"{key}.{name}")
        return out


# -- resolved settings of one task ----------------------------------------------------------------


@dataclass(frozen=True)
class TaskProtocol:
    """The settings of one task under one protocol, and where each came from."""

    protocol: Protocol
    spec: TaskSpec
    settings: Mapping[str, Any]
    origin: Mapping[str, tuple[str, str]]  # setting -> (file, key of the block declaring it)

    def __getitem__(self, name: str) -> Any:
        return self.settings[name]

    def where(self, name: str) -> str:
        """`FILE: KEY.name` of the declaration in force for setting `name`."""
        file, key = self.origin[name]
        return f"{file}: {key}.{name}"

    def layout(self, item: Item) -> Item:
        """`item` with the options this protocol shows (`option_order`, `choices`) and its gold
        letter moved along; the item itself when both are the registry's."""
        order, fixed = self.settings["option_order"], self.settings["choices"]
        if (order == "registry" and fixed is None) or not item.choices:
            return item
        choices, gold = list(item.choices), item.gold
        if order == "source" and "source_choices" in item.meta:
            choices, gold = list(item.meta["source_choices"]), item.meta["source_gold"]
        if fixed is not None:
            texts = [choices[LETTERS.index(g)] for g in gold]
            missing = [t for t in texts if t not in fixed]
            if missing:
                raise ForgetmapError(
                    f"{self.where('choices')}: {self.spec.name} item {item.item_id}: its answer "
                    f"{missing[0]!r} is not one of the declared choices"
                )
            choices = list(fixed)
            gold = "".join(sorted(LETTERS[fixed.index(t)] for t in texts))
        if choices == list(item.choices) and gold == item.gold:
            return item
        return Item(item.item_id, item.question, choices, gold, len(choices), item.meta)

    def exemplar_items(self, data_dir: str | Path | None = None) -> list[Item]:
        """The exemplars as Items (question and options from the data, our reasoning), gold
        answers checked; errors name the protocol file and the exemplar's key."""
        from forgetmap.suite.loaders import load_split

        out = []
        file = self.origin["exemplars"][0]
        for ex in self.settings["exemplars"][: self.settings["shots"]]:
            src = get_task(ex.task) if ex.task else self.spec
            where = f"{src.name} split {ex.split}"
            try:
                loaded = load_split(src, ex.split, data_dir=data_dir)
            except ForgetmapError as exc:
                raise ForgetmapError(f"{file}: {ex.key}: {exc}") from None
            it = next((it for it in loaded.items if it.item_id == ex.id), None)
            if it is None:
                raise ForgetmapError(f"{file}: {ex.key}: no item {ex.id!r} in {where}")
            it = self.layout(it)  # the answer is written in the layout the protocol shows
            if it.gold != ex.answer:
                raise ForgetmapError(
                    f"{file}: {ex.key}: answer {ex.answer!r} but the gold answer of {ex.id!r} "
                    f"in {where} is {it.gold!r}"
                )
            meta = {**it.meta, "reasoning": ex.reasoning, "exemplar_of": src.name}
            out.append(Item(it.item_id, it.question, it.choices, it.gold, it.k, meta))
        return out


# -- the protocol ---------------------------------------------------------------------------------


@dataclass
class Protocol:
    """A named protocol: per-benchmark/per-task settings over the registry's declarations."""

    name: str
    source: str  # "builtin:<name>" or the file's path
    sha256: str  # of the file's text (of every file when it extends another)
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)  # (scope, setting) -> file
    _cache: dict[str, TaskProtocol] = field(default_factory=dict, repr=False)
    _excluded: dict[str, frozenset[str]] | None = field(default=None, repr=False)

    def for_task(self, task: str | TaskSpec) -> TaskProtocol:
        """The resolved settings of `task` (cached)."""
        spec = get_task(task)
        hit = self._cache.get(spec.name)
        if hit is not None:
            return hit
        bench = f"benchmarks.{spec.benchmark}"
        layers: list[tuple[Mapping[str, Any], str | None, str]] = [
            (default_protocol(), TABLE, "defaults.protocol"),
            (self.defaults, None, "defaults"),
            (spec.protocol, TABLE, f"{bench}.protocol"),
            (self.benchmarks.get(spec.benchmark, {}), None, bench),
            (self.tasks.get(spec.name, {}), None, f"tasks.{spec.name}"),
        ]
        settings: dict[str, Any] = {}
        origin: dict[str, tuple[str, str]] = {}
        for layer, file, key in layers:
            for name, v in layer.items():
                settings[name] = v
                origin[name] = (file or self.origins.get((key, name), self.source), key)
        missing = sorted(set(SETTINGS) - set(settings))
        if missing:
            raise ForgetmapError(f"{TABLE}: defaults.protocol.{missing[0]}: not declared")
        for name, v in settings.items():  # registry values are checked like a protocol's
            if origin[name][0] == TABLE:
                settings[name] = _Checker(TABLE).setting(name, v, f"{origin[name][1]}.{name}")
        tp = TaskProtocol(self, spec, settings, origin)
        self._cache[spec.name] = tp
        return tp

    def render_prompt(
        self, tp: TaskProtocol, item: Item, elicitation: str, data_dir: str | Path | None
    ) -> str | None:
        """The whole prompt text of `item`, for protocols that make it themselves (the `study`
        protocol renders the study's own code); None: rendered from the templates."""
        return None

    def excluded_reason(self) -> str:
        """Why `excluded` items are not evaluated (for messages)."""
        return f"an exemplar of protocol {self.name!r} (taken from the evaluated split)"

    def excluded_item_reason(
        self, task: str | TaskSpec, item_id: str, data_dir: str | Path | None = None
    ) -> str:
        """Why one excluded item of `task` is not evaluated (for messages naming the item)."""
        return self.excluded_reason()

    def excluded(self, task: str | TaskSpec, data_dir: str | Path | None = None) -> frozenset[str]:
        """Item ids of `task` that serve as exemplars taken from its evaluated split under this
        protocol: they are not evaluated (so an example never is its own test item). `data_dir`:
        the benchmark files, for protocols whose exclusions depend on the items."""
        if self._excluded is None:
            found: dict[str, set[str]] = {}
            for spec in all_tasks():
                tp = self.for_task(spec)
                if tp["fewshot_source"] != "exemplars" or not tp["shots"]:
                    continue
                for ex in tp["exemplars"][: tp["shots"]]:
                    src = get_task(ex.task) if ex.task else spec
                    if ex.split == src.split:
                        found.setdefault(src.name, set()).add(ex.id)
            self._excluded = {t: frozenset(ids) for t, ids in found.items()}
        return self._excluded.get(get_task(task).name, frozenset())

    def load(
        self,
        task: str | TaskSpec,
        data_dir: str | Path | None = None,
        limit: int | None = None,
        source: str | None = None,
    ) -> LoadedTask:
        """The items `task` is evaluated on under this protocol: the evaluated split minus the
        excluded exemplars (`LoadedTask.excluded`), then the first `limit`."""
        from forgetmap.suite.loaders import load_task

        loaded = load_task(task, data_dir=data_dir, source=source)
        drop = self.excluded(task, data_dir)
        items = [it for it in loaded.items if it.item_id not in drop] if drop else loaded.items
        tp = self.for_task(task)
        if tp["option_order"] != "registry" or tp["choices"] is not None:
            items = [tp.layout(it) for it in items]
        gone = [it.item_id for it in loaded.items if it.item_id in drop]
        if limit is not None:
            items = items[:limit]
        return LoadedTask(
            loaded.task, items, loaded.skipped, loaded.repaired, loaded.source,
            loaded.description, excluded=gone,
        )  # fmt: skip

    def manifest(
        self, tasks: list[TaskSpec] | None = None, data_dir: str | Path | None = None
    ) -> dict[str, Any]:
        """What a run manifest records: name, file and hash, chance-k rules, exclusions."""
        specs = tasks if tasks is not None else all_tasks()
        out: dict[str, Any] = {"name": self.name, "source": self.source, "sha256": self.sha256}
        out["chance_k"] = {t.name: self.for_task(t)["chance_k"] for t in specs}
        out["multi_answer"] = {
            t.name: self.for_task(t)["multi_answer"] for t in specs if t.answer_mode == "letter_set"
        }
        excluded = {t.name: sorted(self.excluded(t, data_dir)) for t in specs}
        out["excluded"] = {t: ids for t, ids in excluded.items() if ids}
        return out


# -- loading --------------------------------------------------------------------------------------


def builtin_protocols() -> list[str]:
    """Names of the protocols shipped with forgetmap."""
    files = resources.files("forgetmap.suite").joinpath("protocols").iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def _read(ref: str) -> tuple[str, str, str]:
    """(text, source, display name) of a protocol given by built-in name or file path."""
    if ref in builtin_protocols():
        res = resources.files("forgetmap.suite").joinpath("protocols").joinpath(f"{ref}.yaml")
        return res.read_text(encoding="utf-8"), f"builtin:{ref}", f"{ref}.yaml"
    path = Path(ref).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in ref:
        if not path.is_file():
            raise ForgetmapError(f"{ref}: protocol file not found")
        try:
            return path.read_text(encoding="utf-8"), str(path.resolve()), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ForgetmapError(f"{path}: cannot read protocol file: {exc}") from None
    close = difflib.get_close_matches(ref, builtin_protocols(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ForgetmapError(
        f"unknown protocol {ref!r}{hint} (built-in: {', '.join(builtin_protocols())}; "
        f"{STUDY_PROTOCOL} with --study-repo; or give a protocol file path)"
    )


_TOP_KEYS = {"name", "description", "extends", "defaults", "benchmarks", "tasks"}


def _parse(ref: str, seen: tuple[str, ...] = ()) -> Protocol:
    text, source, where = _read(ref)
    if source in seen:
        raise ForgetmapError(f"{where}: extends: circular reference to {ref!r}")
    check = _Checker(where)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ForgetmapError(
            f"{where}: not valid YAML{line}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(doc, dict):
        raise ForgetmapError(f"{where}: a protocol file must be a YAML mapping")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise check.err(unknown[0], f"unknown key (keys: {', '.join(sorted(_TOP_KEYS))})")
    name = doc.get("name", Path(where).stem)
    if not isinstance(name, str) or not name:
        raise check.err("name", "must be a non-empty string")
    base = _parse(str(doc["extends"]), (*seen, source)) if doc.get("extends") else None
    proto = Protocol(
        name=name,
        source=source,
        sha256=_sha256(text if base is None else base.sha256 + text),
        description=str(doc.get("description") or (base.description if base else "")),
    )
    if base is not None:
        proto.defaults = dict(base.defaults)
        proto.benchmarks = {b: dict(s) for b, s in base.benchmarks.items()}
        proto.tasks = {t: dict(s) for t, s in base.tasks.items()}
        proto.origins = dict(base.origins)
    own = check.block(doc.get("defaults"), "defaults")
    proto.defaults.update(own)
    proto.origins.update({("defaults", n): where for n in own})
    benches = doc.get("benchmarks") or {}
    if not isinstance(benches, dict):
        raise check.err("benchmarks", "must be a mapping of benchmark -> settings")
    known = benchmark_names()
    for b, block in benches.items():
        if b not in known:
            close = difflib.get_close_matches(str(b), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise check.err(f"benchmarks.{b}", f"unknown benchmark{hint}")
        own = check.block(block, f"benchmarks.{b}")
        proto.benchmarks.setdefault(b, {}).update(own)
        proto.origins.update({(f"benchmarks.{b}", n): where for n in own})
    tasks = doc.get("tasks") or {}
    if not isinstance(tasks, dict):
        raise check.err("tasks", "must be a mapping of task -> settings")
    for t, block in tasks.items():
        try:
            spec = get_task(str(t))
        except ForgetmapError as exc:
            raise check.err(f"tasks.{t}", str(exc)) from None
        own = check.block(block, f"tasks.{t}")
        proto.tasks.setdefault(spec.name, {}).update(own)
        proto.origins.update({(f"tasks.{spec.name}", n): where for n in own})
    _check_shots(proto, where)
    return proto


def _check_shots(proto: Protocol, where: str) -> None:
    """Every task whose few-shot source is `exemplars` has at least `shots` of them."""
    for spec in all_tasks():
        tp = proto.for_task(spec)
        if tp["fewshot_source"] == "exemplars" and len(tp["exemplars"]) < tp["shots"]:
            culprit = "exemplars" if tp.origin["exemplars"][0] != TABLE else "fewshot_source"
            raise ForgetmapError(
                f"{tp.where(culprit)}: {spec.name} takes {tp['shots']} shots from "
                f"exemplars but {len(tp['exemplars'])} are declared for it"
            )


_LOADED: dict[str, Protocol] = {}


def load_declared(ref: str | None = None) -> Protocol:
    """A declared protocol: a built-in name, a YAML file path, or None (forgetmap). Any
    protocol, the study's included, is loaded with `forgetmap.suite.protocol_loader.load_protocol`.

    Files are re-read when they change (keyed by path and content hash)."""
    ref = ref or DEFAULT_PROTOCOL
    text, source, _ = _read(ref)
    key = f"{source}|{_sha256(text)}"
    proto = _LOADED.get(key)
    if proto is None:
        proto = _parse(ref)
        _LOADED[key] = proto
    return proto


def settings_json(tp: TaskProtocol) -> str:
    """The resolved settings of a task as canonical JSON (exemplars by key fields)."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple) and v and isinstance(v[0], Exemplar):
            return [{"task": e.task, "split": e.split, "id": e.id, "answer": e.answer} for e in v]
        return v

    return json.dumps({k: plain(v) for k, v in tp.settings.items()}, sort_keys=True, default=str)
