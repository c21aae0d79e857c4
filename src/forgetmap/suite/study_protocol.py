"""The `study` protocol: the study's own prompts, read from a checkout of its code at run time.

`--protocol study --study-repo DIR` (or FORGETMAP_STUDY_REPO=DIR) asks every benchmark as the
study (arXiv 2510.17776) did, from its own files (`study_checkout.yaml` says where they are);
nothing of them is stored in forgetmap. Per item, the prompt is what the study's prompt function
makes of the item's source row (`meta["row"]`, the Hub schema those functions read), evaluated
by `forgetmap.suite.study_code` (parsed with `ast`, never imported or executed), in dataset
order after seeding `random` as lighteval 0.10 does before it builds a task's documents:

- `cot_chat` (post-trained models): the zero-shot module's query as the one user message (the
  study set no system prompt). No stop sequences: lighteval 0.10's vLLM backend, which the study
  ran, drops a task's stop sequences when the chat template is used;
- `cot_fewshot` (base models): the few-shot module's query (its exemplars from
  cot_template.json, ending "Reasoning:"; MMLU's end "Answer:") as completion text, with the
  task's stop sequences;
- scoring as the study's analysis: chance k 4 outside BBH (BBH: its declared option count);
  SALAD-Bench letter sets count when any gold letter is given (`any_gold`);
- items the study's code drops (its prompt function returns no document) are excluded;
- there is no `loglik` (the study generated every answer).

A forgetmap task maps to the study task whose name means it (`study_task_name`); a benchmark
the study ran as `<benchmark>:main` on another split (HellaSwag: the unlabelled test split)
gets that task's prompt function on the registry's split. Problems with the checkout are one
line naming the file and the key (`DIR/config/tasks: files.task_lists: not found ...`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.letters import LETTERS
from forgetmap.suite.items import Item, LoadedTask
from forgetmap.suite.protocol import Protocol, TaskProtocol
from forgetmap.suite.registry import TaskSpec, all_tasks, get_task
from forgetmap.suite.study_code import StudyCodeError, StudyModule, is_doc

__all__ = [
    "MODES",
    "STUDY_PROTOCOL",
    "StudyCheckout",
    "StudyProtocol",
    "load_study_protocol",
    "study_repo",
    "study_task_name",
]

STUDY_PROTOCOL = "study"
DECLARATION = "study_checkout.yaml"
# elicitation -> the module (files key) whose queries it sends
MODES = {"cot_chat": "chat", "cot_fewshot": "fewshot"}


@lru_cache(maxsize=1)
def declaration() -> dict[str, Any]:
    """study_checkout.yaml: where the study's files are and what its task names mean."""
    text = resources.files("forgetmap.suite").joinpath(DECLARATION).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def study_task_name(name: str) -> str:
    """The forgetmap task a study task name means: `community|bbh_reasoning_letter:navigate|0`
    -> `bbh:navigate`, `…:main` -> the split it ran on, `ifeval_reasoning` -> `ifeval:prompts`."""
    names = declaration()["task_names"]
    parts = name.split("|")
    core = parts[1] if len(parts) >= 3 else name
    head, sep, sub = core.partition(":")
    for suf in names["suffixes"]:
        if head.endswith(suf):
            head = head[: -len(suf)]
            break
    for suf in names["suffixes"]:
        sub = sub.replace(suf, "")
    if not sep and head in names["single"]:
        return str(names["single"][head])
    if sub == "main" and head in names["main_splits"]:
        sub = str(names["main_splits"][head])
    out = f"{head}{sep}{sub}"
    return str(names["aliases"].get(out, out))


def study_repo(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The study checkout: `explicit`, else FORGETMAP_STUDY_REPO; every file it needs present."""
    raw = explicit or os.environ.get("FORGETMAP_STUDY_REPO")
    if not raw:
        raise ForgetmapError(
            "the study protocol reads the study's code at run time: pass --study-repo DIR or set "
            "FORGETMAP_STUDY_REPO to a checkout of post-forget/post-forget"
        )
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise ForgetmapError(f"{root}: --study-repo: not a directory")
    for key, rel in declaration()["files"].items():
        if not (root / rel).exists():
            raise ForgetmapError(
                f"{root / rel}: files.{key}: not found in the study checkout {root} "
                f"(forgetmap/suite/{DECLARATION})"
            )
    return root


def _ran_tasks(folder: Path) -> list[str]:
    """The lighteval task names of the study's task lists, without suite and shot counts."""
    out = []
    for f in sorted(folder.rglob("*.txt")):
        for line in f.read_text(encoding="utf-8").splitlines():
            task = line.split("#", 1)[0].strip()
            if task:
                parts = task.split("|")
                out.append(parts[1] if len(parts) >= 2 else parts[0])
    if not out:
        raise ForgetmapError(f"{folder}: files.task_lists: no task names in *.txt files")
    return out


_LABEL = re.compile(r"^\([A-Z]\)$")


@dataclass(frozen=True)
class StudyDoc:
    """What the study's prompt function made of one item: the query, and the options (texts)
    and gold letters in the order that query shows them."""

    query: str
    choices: tuple[str, ...] | None  # None: the registry's options (BBH letters the input lists)
    gold: str | None
    error: str | None = None  # the study's code fails on this item (its run of the task did)


@dataclass
class StudyCheckout:
    """The study's two task modules and task lists, read (not run) from a checkout."""

    root: Path
    _modules: dict[str, StudyModule] = field(default_factory=dict, repr=False)
    _configs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)
    _queries: dict[tuple[str, str, str], dict[str, StudyDoc | None]] = field(
        default_factory=dict, repr=False
    )
    _random: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False)

    def path(self, key: str) -> Path:
        return self.root / declaration()["files"][key]

    def module(self, mode: str) -> StudyModule:
        """The module of `mode` (chat | fewshot), evaluated once."""
        if mode not in self._modules:
            presets = {
                name: str(self.path(ref))
                for name, ref in (declaration().get("presets") or {}).get(mode, {}).items()
            }
            mod = StudyModule(self.path(mode), presets=presets, files=(self.path("exemplars"),))
            mod.watch = declaration().get("option_list_name")
            self._modules[mode] = mod
        return self._modules[mode]

    def configs(self, mode: str) -> dict[str, dict[str, Any]]:
        """forgetmap task -> the lighteval task config the study ran for it in `mode`."""
        if mode in self._configs:
            return self._configs[mode]
        mod = self.module(mode)
        table = mod["TASKS_TABLE"]
        if not isinstance(table, list) or not all(isinstance(c, dict) for c in table):
            raise ForgetmapError(f"{mod.path}: TASKS_TABLE: not a list of task configs")
        ran = set(_ran_tasks(self.path("task_lists")))
        by_task: dict[str, dict[str, Any]] = {}
        mains: dict[str, dict[str, Any]] = {}
        for cfg in table:
            name = str(cfg.get("name", ""))
            if name not in ran:
                continue
            target = study_task_name(name)
            by_task.setdefault(target, cfg)
            if name.endswith(":main"):
                mains[target.split(":", 1)[0]] = cfg
        for spec in all_tasks():  # `<benchmark>:main` on another split: the registry's split
            if spec.name not in by_task and spec.study and spec.benchmark in mains:
                by_task[spec.name] = mains[spec.benchmark]
        self._configs[mode] = by_task
        return by_task

    def config(self, mode: str, spec: TaskSpec) -> dict[str, Any] | None:
        return self.configs(mode).get(spec.name)

    def queries(
        self, mode: str, spec: TaskSpec, data_dir: str | os.PathLike[str] | None = None
    ) -> dict[str, StudyDoc | None]:
        """item_id -> what the study made of every item of `spec` (None: the study drops it),
        built in dataset order after lighteval's seed, as lighteval builds documents."""
        key = (mode, spec.name, str(data_dir or os.environ.get("FORGETMAP_DATA_DIR") or ""))
        if key not in self._queries:
            from forgetmap.suite.loaders import load_items

            items = load_items(spec, data_dir=data_dir)
            self._queries[key] = {}
            self.module(mode).seed(int(declaration()["document_seed"]))
            for i, it in enumerate(items):
                self._queries[key][it.item_id] = self.doc(mode, spec, it, i)
        return self._queries[key]

    def item_doc(
        self, mode: str, spec: TaskSpec, item: Item, data_dir: str | os.PathLike[str] | None
    ) -> StudyDoc | None:
        """The study's document for `item` as lighteval built it: on its own when the task's
        prompt function draws no random numbers, else from the task's pass in dataset order."""
        key = (mode, spec.name)
        if key not in self._random:
            mod = self.module(mode)
            mod.seed(int(declaration()["document_seed"]))
            before = mod.rng.getstate()
            first = self.doc(mode, spec, item)
            self._random[key] = mod.rng.getstate() != before
            if not self._random[key]:
                return first
        if self._random[key]:
            docs = self.queries(mode, spec, data_dir)
            if item.item_id in docs:
                return docs[item.item_id]
        self.module(mode).seed(int(declaration()["document_seed"]))
        return self.doc(mode, spec, item)

    def doc(self, mode: str, spec: TaskSpec, item: Item, index: int = 0) -> StudyDoc | None:
        """The study's document for one item (None: the study's code drops it)."""
        cfg = self.config(mode, spec)
        mod = self.module(mode)
        if cfg is None:
            raise ForgetmapError(
                f"{mod.path}: TASKS_TABLE: the study ran no {mode} task for {spec.name} "
                f"(tasks of {self.path('task_lists')})"
            )
        row = item.meta.get("row")
        if not isinstance(row, Mapping):
            raise ForgetmapError(f"{spec.name}: item {item.item_id} has no source row to render")
        line = {**row, "__few_shots": False, "__index": index}
        mod.watched = None
        try:
            doc = mod.call(cfg["prompt_function"], line, cfg["name"])
        except StudyCodeError as exc:  # e.g. its few-shot dyck_languages template: braces
            return StudyDoc("", None, None, error=str(exc).splitlines()[0])
        if doc == [] or doc is None:
            return None
        if not is_doc(doc) or not isinstance(doc.get("query"), str):
            raise ForgetmapError(
                f"{mod.path}: {cfg['name']}: its prompt function made no document with a query"
            )
        return StudyDoc(str(doc["query"]), *self._layout(doc, mod.watched, item))

    @staticmethod
    def _layout(
        doc: Mapping[str, Any], watched: list[Any] | None, item: Item
    ) -> tuple[tuple[str, ...] | None, str | None]:
        """The options the query shows and the gold letters (None, None: the item's own)."""
        if not item.choices:
            return None, None
        gi = doc.get("gold_index")
        idx = gi if isinstance(gi, list) else [gi]
        # a CSV row holds the index as text ("0"); the Hub's rows hold an int
        idx = [int(i) if isinstance(i, str) and i.lstrip("-").isdigit() else i for i in idx]
        n = len(doc.get("choices") or []) or len(item.choices)
        if not idx or not all(isinstance(i, int) or i in LETTERS[:n] for i in idx):
            return None, None
        # lighteval indexes -1 as the last option; a letter (SALAD-Bench's answers) is itself
        gold = "".join(sorted(i if isinstance(i, str) else LETTERS[i % n] for i in idx))
        texts = list(watched or [])
        if not texts or all(_LABEL.match(t) for t in texts) or len(texts) != n:
            return None, gold  # letters of the options the item's own input lists
        return tuple(t.strip() for t in texts), gold

    def fingerprint(self) -> str:
        """SHA-256 over the files read (the protocol's `sha256` in run manifests)."""
        h = hashlib.sha256()
        paths = [self.path(k) for k in ("chat", "fewshot", "exemplars")]
        paths += sorted(self.path("task_lists").rglob("*.txt"))
        for p in paths:
            h.update(str(p.relative_to(self.root)).encode())
            h.update(p.read_bytes())
        return h.hexdigest()


class StudyProtocol(Protocol):
    """A Protocol whose prompts are the study checkout's queries (see the module doc)."""

    checkout: StudyCheckout

    def study_doc(
        self, spec: TaskSpec, item: Item, mode: str, data_dir: str | Path | None
    ) -> StudyDoc:
        doc = self.checkout.item_doc(mode, spec, item, data_dir)
        if doc is None:
            raise ForgetmapError(
                f"{spec.name}: item {item.item_id} is dropped by the study's code "
                "(its prompt function returns no document); it is not evaluated under `study`"
            )
        if doc.error is not None:
            raise ForgetmapError(
                f"{spec.name}: item {item.item_id}: the study's code fails on it ({doc.error}); "
                "it is not evaluated under `study`"
            )
        return doc

    def render_prompt(
        self, tp: TaskProtocol, item: Item, elicitation: str, data_dir: str | Path | None
    ) -> str:
        mode = MODES.get(elicitation)
        if mode is None:
            raise ForgetmapError(
                f"the study protocol has no {elicitation} prompts (the study generated every "
                "answer: cot_chat or cot_fewshot)"
            )
        return self.study_doc(tp.spec, item, mode, data_dir).query

    def layout_item(self, spec: TaskSpec, item: Item, data_dir: str | Path | None) -> Item:
        """`item` with the options and gold letters of the study's document (zero-shot module;
        the few-shot module lays options out the same way)."""
        for mode in MODES.values():
            if self.checkout.config(mode, spec) is None:
                continue
            found = self.checkout.item_doc(mode, spec, item, data_dir)
            if found is None or found.error is not None:
                continue  # not evaluated in this mode: the other mode's layout, else the item's
            doc = found
            choices = list(doc.choices) if doc.choices is not None else list(item.choices)
            gold = doc.gold or item.gold
            if choices == list(item.choices) and gold == item.gold:
                return item
            return Item(item.item_id, item.question, choices, gold, len(choices), item.meta)
        return item

    def excluded(self, task: str | TaskSpec, data_dir: str | Path | None = None) -> frozenset[str]:
        """Items the study's code drops (their prompt function returns no document) or fails
        on, in either mode."""
        spec = get_task(task)
        dropped: set[str] = set()
        for mode in MODES.values():
            if self.checkout.config(mode, spec) is not None:
                try:
                    docs = self.checkout.queries(mode, spec, data_dir)
                except DataError:  # no benchmark files: nothing to exclude (loading says why)
                    return frozenset()
                dropped.update(i for i, d in docs.items() if d is None or d.error is not None)
        return frozenset(dropped)

    def excluded_reason(self) -> str:
        return "dropped by the study's code (its prompt function returns no document or fails)"

    def excluded_item_reason(
        self, task: str | TaskSpec, item_id: str, data_dir: str | Path | None = None
    ) -> str:
        """Which of the study's files and prompt functions drops or fails on the item, and how."""
        spec = get_task(task)
        why = []
        for mode in MODES.values():
            cfg = self.checkout.config(mode, spec)
            if cfg is None:
                continue
            doc = self.checkout.queries(mode, spec, data_dir).get(item_id)
            if doc is not None and doc.error is None:
                continue
            fn = cfg["prompt_function"]
            node = getattr(fn, "node", None)
            where = f"{self.checkout.module(mode).path}" + (
                f":{node.lineno}: {node.name}()" if node is not None else f": {fn}"
            )
            why.append(
                f"{where} returns no document for it"
                if doc is None
                else f"{where} fails on it: {doc.error}"
            )
        return f"dropped by the study's code ({'; '.join(why)})" if why else self.excluded_reason()

    def load(
        self,
        task: str | TaskSpec,
        data_dir: str | Path | None = None,
        limit: int | None = None,
        source: str | None = None,
    ) -> LoadedTask:
        spec = get_task(task)
        for mode in MODES.values():  # build the task's documents from the same data
            if self.checkout.config(mode, spec) is not None:
                self.checkout.queries(mode, spec, data_dir)
        loaded = super().load(task, data_dir=data_dir, limit=limit, source=source)
        items = [self.layout_item(spec, it, data_dir) for it in loaded.items]
        return LoadedTask(
            loaded.task, items, loaded.skipped, loaded.repaired, loaded.source,
            loaded.description, excluded=loaded.excluded,
        )  # fmt: skip


_LOADED: dict[tuple[str, str], StudyProtocol] = {}


def load_study_protocol(repo: str | os.PathLike[str] | None = None) -> StudyProtocol:
    """The `study` protocol of the checkout at `repo` (default FORGETMAP_STUDY_REPO)."""
    root = study_repo(repo)
    checkout = StudyCheckout(root)
    key = (str(root.resolve()), checkout.fingerprint())
    if key in _LOADED:
        return _LOADED[key]
    scoring = declaration()["scoring"]
    chance = dict(scoring["chance_k"])
    proto = StudyProtocol(
        name=STUDY_PROTOCOL,
        source=f"study:{root.resolve()}",
        sha256=key[1],
        description="the study's own prompts, read from its code at run time",
        defaults={
            "system": None,
            "chat_stop": [],
            "shots": 0,
            "fewshot_source": "split",
            "chance_k": chance.pop("default"),
            "multi_answer": scoring["multi_answer"],
        },
        benchmarks={bench: {"chance_k": rule} for bench, rule in chance.items()},
    )
    proto.checkout = checkout
    for task, cfg in checkout.configs("fewshot").items():
        stops = [s for s in cfg.get("stop_sequence") or [] if isinstance(s, str) and s]
        proto.tasks[task] = {"fewshot_stop": stops}
    _LOADED[key] = proto
    return proto
