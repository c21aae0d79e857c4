"""A study as data: models, named model sets, pairs grouped as in the paper, merges, sampling.

`load_study(path) -> Study` reads the YAML (format in docs/study.md) and checks it; every error
names the file and the key (`paper.yaml: groups.instruction_tuning.pairs[3]: ...`). Nothing here
imports an ML library: `forgetmap study --dry-run` and `forgetmap report --study` work anywhere.

Model sets are the study script's evaluation modes (qwen_math_base, qwen_math_instruct, base,
tuned, merge_base, merge_tuned): every model belongs to exactly one set, which fixes its kind
(base -> few-shot CoT on the base suite; post -> zero-shot CoT through the chat template on the
full suite) and may override sampling (4,096 new tokens for Qwen2.5-Math). Merges are models too;
each merge listed in a group expands into two pairs, `parent -> merge` for both parents.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from forgetmap.engine.backends import BACKENDS
from forgetmap.errors import ForgetmapError
from forgetmap.merge.config import MergeSpec, load_merge
from forgetmap.records.schema import ELICITATIONS

KINDS = ("base", "post")
QUANT_TYPES = ("Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "IQ4_NL")


class Pair(NamedTuple):
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.before} -> {self.after}"


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.6
    top_p: float = 0.95
    seeds: tuple[int, ...] = (0, 1, 2)
    max_new_tokens: int = 32768


@dataclass(frozen=True)
class Model:
    """One model of the study with everything needed to evaluate it."""

    id: str
    set: str
    kind: str
    load: str  # what the backend loads: Hub id, local path, alias, or a derived model's dir
    backend: str
    elicitation: str
    suite: str | None
    tasks: tuple[str, ...]
    max_new_tokens: int
    protocol: str = "forgetmap"  # built-in protocol name or protocol file (docs/protocols.md)
    merge: MergeSpec | None = None  # made by mergekit before evaluation
    quantize: tuple[str, str] | None = (
        None  # (source model id, llama.cpp type), made before evaluation
    )
    backend_options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def derived(self) -> bool:
        return self.merge is not None or self.quantize is not None


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    pairs: tuple[Pair, ...]  # explicit pairs, then the two pairs of each merge
    merges: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSet:
    name: str
    kind: str
    models: tuple[str, ...]


@dataclass
class Study:
    name: str
    title: str
    source: Path
    backend: str
    sampling: Sampling
    limit: int | None
    model_sets: dict[str, ModelSet]
    models: dict[str, Model]
    groups: dict[str, Group]
    estimate: dict[str, int]  # kind -> mean generated tokens per response (dry-run estimate)

    @property
    def pairs(self) -> list[Pair]:
        """All pairs of all groups, each once, in config order."""
        return list(dict.fromkeys(p for g in self.groups.values() for p in g.pairs))

    @property
    def merges(self) -> list[Model]:
        return [m for m in self.models.values() if m.merge is not None]

    def select(
        self, names: list[str] | tuple[str, ...] = ()
    ) -> tuple[list[Model], list[Pair], dict[str, Group]]:
        """Models to evaluate, pairs to compare and groups to report for `--group` names.

        A name is a group (its pairs and their models) or a model set (its models, and every pair
        with a model of the set on one side). No names: the whole study.
        """
        if not names:
            return list(self.models.values()), self.pairs, dict(self.groups)
        chosen: dict[str, Model] = {}
        pairs: list[Pair] = []
        groups: dict[str, Group] = {}
        for n in names:
            if n in self.groups:
                g = self.groups[n]
                groups[n] = g
                pairs += g.pairs
                for p in g.pairs:
                    chosen.setdefault(p.before, self.models[p.before])
                    chosen.setdefault(p.after, self.models[p.after])
            elif n in self.model_sets:
                members = set(self.model_sets[n].models)
                for m in self.model_sets[n].models:
                    chosen.setdefault(m, self.models[m])
                for g in self.groups.values():
                    sub = tuple(p for p in g.pairs if p.before in members or p.after in members)
                    if sub:
                        pairs += sub
                        prev = groups.get(g.name)
                        merged = tuple(dict.fromkeys((*(prev.pairs if prev else ()), *sub)))
                        groups[g.name] = Group(g.name, g.title, merged, g.merges)
            else:
                raise ForgetmapError(
                    f"{self.source}: no group or model set named {n!r}; groups: "
                    f"{', '.join(self.groups)}; model sets: {', '.join(self.model_sets)}"
                )
        return list(chosen.values()), list(dict.fromkeys(pairs)), groups

    def report_groups(
        self,
        names: Sequence[str] = (),
        keep: Collection[tuple[str, str]] | None = None,
    ) -> dict[str, list[tuple[str, str]]]:
        """The report's groups for `--group` names (see `select`): {title: [(before, after)]},
        with only the pairs in `keep` when given; groups left without pairs are dropped."""
        _, _, groups = self.select(list(names))
        out: dict[str, list[tuple[str, str]]] = {}
        for name, g in groups.items():
            pairs = [(p.before, p.after) for p in g.pairs]
            pairs = [p for p in pairs if keep is None or p in keep]
            if pairs:
                out[g.title or name] = pairs
        return out


def _err(src: str, key: str, msg: str) -> ForgetmapError:
    return ForgetmapError(f"{src}: {key}: {msg}")


def _mapping(doc: Any, src: str, key: str, required: bool = False) -> dict[str, Any]:
    if doc is None and not required:
        return {}
    if not isinstance(doc, dict):
        raise _err(src, key, f"must be a mapping, got {type(doc).__name__}")
    return doc


def _int(v: Any, src: str, key: str, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise _err(src, key, f"must be an integer >= {lo}, got {v!r}")
    return v


def _float(v: Any, src: str, key: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise _err(src, key, f"must be a number in [{lo}, {hi}], got {v!r}")
    return float(v)


def _strs(v: Any, src: str, key: str) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [s.strip() for s in v.split(",") if s.strip()]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise _err(src, key, "must be a list of names")
    return tuple(v)


def _sampling(doc: Any, src: str, key: str, base: Sampling) -> Sampling:
    d = _mapping(doc, src, key)
    unknown = set(d) - {"temperature", "top_p", "seeds", "max_new_tokens"}
    if unknown:
        raise _err(src, f"{key}.{sorted(unknown)[0]}", "unknown sampling setting")
    seeds = base.seeds
    if "seeds" in d:
        raw = d["seeds"]
        if (
            not isinstance(raw, list)
            or not raw
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in raw)
        ):
            raise _err(src, f"{key}.seeds", f"must be a non-empty list of integers, got {raw!r}")
        if len(set(raw)) != len(raw):
            raise _err(src, f"{key}.seeds", f"seeds must be distinct, got {raw}")
        seeds = tuple(raw)
    return Sampling(
        temperature=_float(
            d.get("temperature", base.temperature), src, f"{key}.temperature", 0.0, 5.0
        ),
        top_p=_float(d.get("top_p", base.top_p), src, f"{key}.top_p", 0.0, 1.0),
        seeds=seeds,
        max_new_tokens=_int(
            d.get("max_new_tokens", base.max_new_tokens), src, f"{key}.max_new_tokens"
        ),
    )


def parse_pair(text: Any, src: str, key: str) -> Pair:
    """`before -> after` (also accepts a two-element list or {before, after})."""
    if isinstance(text, dict) and set(text) == {"before", "after"}:
        a, b = text["before"], text["after"]
    elif isinstance(text, list) and len(text) == 2:
        a, b = text
    elif isinstance(text, str) and text.count("->") == 1:
        a, b = (s.strip() for s in text.split("->"))
    else:
        raise _err(src, key, f"a pair is written 'before -> after', got {text!r}")
    if not isinstance(a, str) or not isinstance(b, str) or not a or not b:
        raise _err(src, key, f"a pair needs two model ids, got {text!r}")
    if a == b:
        raise _err(src, key, f"before and after are the same model {a!r}")
    return Pair(a, b)


def _resolve_load(value: str, base_dir: Path) -> str:
    """Relative paths that exist next to the config are made absolute; ids/aliases pass through."""
    p = Path(os.path.expanduser(os.path.expandvars(value)))
    if not p.is_absolute() and (base_dir / p).exists():
        return str((base_dir / p).resolve())
    return str(p) if p.is_absolute() or p.exists() else value


def _protocol(value: Any, base_dir: Path, src: str, key: str) -> str:
    """A protocol name or file (relative paths next to the config), checked by loading it."""
    from forgetmap.suite.protocol_loader import load_protocol

    if not isinstance(value, str) or not value:
        raise _err(src, key, f"must be a protocol name or file, got {value!r}")
    ref = _resolve_load(value, base_dir)
    try:
        load_protocol(ref)
    except ForgetmapError as exc:
        raise _err(src, key, str(exc)) from None
    return ref


def load_study(path: str | os.PathLike[str], protocol: str | None = None) -> Study:
    """Read and check a study YAML; see docs/study.md for the format. `protocol` (the
    `--protocol` option) replaces the study's top-level `protocol`; a model set's or a model's
    own `protocol` still wins."""
    p = Path(path)
    if not p.is_file():
        raise ForgetmapError(f"study config {p} does not exist")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ForgetmapError(f"{p}: not valid YAML ({exc})") from None
    return parse_study(doc, p, protocol)


def parse_study(doc: Any, path: Path, protocol: str | None = None) -> Study:
    src = str(path)
    doc = _mapping(doc, src, "<top level>", required=True)
    known = {"name", "title", "description", "backend", "backend_options", "sampling", "limit",
             "elicitation", "suites", "tasks", "model_sets", "models", "merges", "groups",
             "estimate", "protocol"}  # fmt: skip
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _err(src, unknown[0], f"unknown key (known: {', '.join(sorted(known))})")
    name = doc.get("name", path.stem)
    limit = doc.get("limit")
    if limit is not None:
        limit = _int(limit, src, "limit")
    defaults = _defaults(doc, src, path, protocol)
    estimate = {"base": 512, "post": 1024}
    for k, v in _mapping(doc.get("estimate"), src, "estimate").items():
        if k not in KINDS:
            raise _err(src, f"estimate.{k}", f"kinds are {', '.join(KINDS)}")
        estimate[k] = _int(v, src, f"estimate.{k}")
    merges = _merges(doc, src, path)
    model_sets, models = _model_sets(doc, src, path, defaults, merges)
    groups = _groups(doc, src, models, merges)
    title = doc.get("title", name)
    return Study(
        name=str(name),
        title=str(title),
        source=path,
        backend=defaults.backend,
        sampling=defaults.sampling,
        limit=limit,
        model_sets=model_sets,
        models=models,
        groups=groups,
        estimate=estimate,
    )


@dataclass
class _Defaults:
    """Study-level settings a model set or model inherits unless it sets its own."""

    backend: str
    backend_options: dict[str, Any]
    sampling: Sampling
    protocol: str
    elicitation: dict[str, str]  # kind -> elicitation
    suites: dict[str, str | None]  # kind -> suite
    tasks: dict[str, tuple[str, ...]]  # kind -> tasks


def _defaults(doc: dict[str, Any], src: str, path: Path, protocol: str | None) -> _Defaults:
    backend = doc.get("backend", "vllm")
    if backend not in BACKENDS:
        raise _err(src, "backend", f"must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if protocol is not None:
        study_protocol = _protocol(protocol, Path.cwd(), "--protocol", "value")
    else:
        study_protocol = _protocol(doc.get("protocol", "forgetmap"), path.parent, src, "protocol")
    elicit = {"base": "cot_fewshot", "post": "cot_chat"}
    for k, v in _mapping(doc.get("elicitation"), src, "elicitation").items():
        if k not in KINDS:
            raise _err(src, f"elicitation.{k}", f"kinds are {', '.join(KINDS)}")
        if v not in ELICITATIONS:
            raise _err(
                src, f"elicitation.{k}", f"must be one of {', '.join(ELICITATIONS)}, got {v!r}"
            )
        elicit[k] = v
    suites: dict[str, str | None] = {"base": None, "post": None}
    for k, v in _mapping(doc.get("suites"), src, "suites").items():
        if k not in KINDS:
            raise _err(src, f"suites.{k}", f"kinds are {', '.join(KINDS)}")
        if not isinstance(v, str):
            raise _err(src, f"suites.{k}", f"must be a suite name, got {v!r}")
        suites[k] = v
    tasks: dict[str, tuple[str, ...]] = {"base": (), "post": ()}
    for k, v in _mapping(doc.get("tasks"), src, "tasks").items():
        if k not in KINDS:
            raise _err(src, f"tasks.{k}", f"kinds are {', '.join(KINDS)}")
        tasks[k] = _strs(v, src, f"tasks.{k}")
    for k in KINDS:
        if suites[k] is None and not tasks[k]:
            suites[k] = {"base": "paper-base", "post": "paper"}[k]
    return _Defaults(
        backend=backend,
        backend_options=_mapping(doc.get("backend_options"), src, "backend_options"),
        sampling=_sampling(doc.get("sampling"), src, "sampling", Sampling()),
        protocol=study_protocol,
        elicitation=elicit,
        suites=suites,
        tasks=tasks,
    )


def _merges(doc: dict[str, Any], src: str, path: Path) -> dict[str, MergeSpec]:
    """Merge config files (relative to the study file) -> merge specs by merged-model name."""
    merges: dict[str, MergeSpec] = {}
    raw_merges = doc.get("merges") or []
    if not isinstance(raw_merges, list):
        raise _err(src, "merges", "must be a list of merge config files")
    for i, f in enumerate(raw_merges):
        if not isinstance(f, str):
            raise _err(src, f"merges[{i}]", f"must be a path to a merge config, got {f!r}")
        mp = (path.parent / f).resolve()
        if not mp.is_file():
            raise _err(src, f"merges[{i}]", f"merge config {f} not found (looked at {mp})")
        spec = load_merge(mp)
        if spec.name in merges:
            raise _err(src, f"merges[{i}]", f"two merges are named {spec.name!r}")
        merges[spec.name] = spec
    return merges


def _model_sets(
    doc: dict[str, Any], src: str, path: Path, defaults: _Defaults, merges: dict[str, MergeSpec]
) -> tuple[dict[str, ModelSet], dict[str, Model]]:
    """Model sets and their models (every model in exactly one set), settings resolved."""
    overrides = _mapping(doc.get("models"), src, "models")
    for mid, o in overrides.items():
        _mapping(o, src, f"models.{mid}", required=True)
    raw_sets = _mapping(doc.get("model_sets"), src, "model_sets", required=True)
    if not raw_sets:
        raise _err(src, "model_sets", "at least one model set is needed")
    model_sets: dict[str, ModelSet] = {}
    models: dict[str, Model] = {}
    for sname, sdoc in raw_sets.items():
        key = f"model_sets.{sname}"
        sdoc = _mapping(sdoc, src, key, required=True)
        bad = sorted(
            set(sdoc)
            - {"kind", "models", "max_new_tokens", "elicitation", "suite", "tasks", "backend",
               "protocol", "backend_options"}
        )  # fmt: skip
        if bad:
            raise _err(src, f"{key}.{bad[0]}", "unknown key")
        kind = sdoc.get("kind")
        if kind not in KINDS:
            raise _err(src, f"{key}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
        members = _strs(sdoc.get("models"), src, f"{key}.models")
        model_sets[sname] = ModelSet(sname, kind, members)
        set_protocol = (
            _protocol(sdoc["protocol"], path.parent, src, f"{key}.protocol")
            if "protocol" in sdoc
            else defaults.protocol
        )
        for j, mid in enumerate(members):
            if mid in models:
                raise _err(
                    src,
                    f"{key}.models[{j}]",
                    f"{mid!r} is already in model set {models[mid].set!r}",
                )
            models[mid] = _model(
                mid, sname, kind, sdoc, overrides.get(mid, {}), set_protocol, defaults, merges,
                src, path,
            )  # fmt: skip
    _check_references(src, overrides, merges, models)
    return model_sets, models


def _model(
    mid: str,
    sname: str,
    kind: str,
    sdoc: dict[str, Any],
    o: dict[str, Any],
    set_protocol: str,
    defaults: _Defaults,
    merges: dict[str, MergeSpec],
    src: str,
    path: Path,
) -> Model:
    """One model of set `sname`: its own settings (`o`), else the set's, else the study's."""
    key = f"model_sets.{sname}"
    okey = f"models.{mid}"
    bad = sorted(set(o) - {"path", "backend", "max_new_tokens", "elicitation", "suite", "tasks",
                           "quantize", "backend_options", "protocol"})  # fmt: skip
    if bad:
        raise _err(src, f"{okey}.{bad[0]}", "unknown key")
    m_backend = o.get("backend", sdoc.get("backend", defaults.backend))
    if m_backend not in BACKENDS:
        raise _err(src, f"{okey}.backend", f"must be one of {', '.join(BACKENDS)}")
    el = o.get("elicitation", sdoc.get("elicitation", defaults.elicitation[kind]))
    if el not in ELICITATIONS:
        raise _err(src, f"{okey}.elicitation", f"must be one of {', '.join(ELICITATIONS)}")
    mnt = o.get("max_new_tokens", sdoc.get("max_new_tokens", defaults.sampling.max_new_tokens))
    mnt = _int(mnt, src, f"{okey}.max_new_tokens")
    m_tasks = o.get("tasks", sdoc.get("tasks"))
    m_tasks = _strs(m_tasks, src, f"{okey}.tasks") if m_tasks is not None else defaults.tasks[kind]
    m_suite = o.get("suite", sdoc.get("suite", None if m_tasks else defaults.suites[kind]))
    quant = None
    if "quantize" in o:
        q = _mapping(o["quantize"], src, f"{okey}.quantize", required=True)
        if q.get("type") not in QUANT_TYPES:
            raise _err(src, f"{okey}.quantize.type", f"must be one of {', '.join(QUANT_TYPES)}")
        if not isinstance(q.get("from"), str):
            raise _err(src, f"{okey}.quantize.from", "must name the model to quantize")
        quant = (q["from"], q["type"])
    load = o.get("path", mid)
    if not isinstance(load, str):
        raise _err(src, f"{okey}.path", "must be a string")
    return Model(
        id=mid,
        set=sname,
        kind=kind,
        load=_resolve_load(load, path.parent),
        backend=m_backend,
        elicitation=el,
        suite=m_suite,
        tasks=m_tasks,
        max_new_tokens=mnt,
        protocol=(
            _protocol(o["protocol"], path.parent, src, f"{okey}.protocol")
            if "protocol" in o
            else set_protocol
        ),
        merge=merges.get(mid),
        quantize=quant,
        backend_options={
            **defaults.backend_options,
            **_mapping(sdoc.get("backend_options"), src, f"{key}.backend_options"),
            **_mapping(o.get("backend_options"), src, f"{okey}.backend_options"),
        },
    )


def _check_references(
    src: str,
    overrides: dict[str, Any],
    merges: dict[str, MergeSpec],
    models: dict[str, Model],
) -> None:
    """Every model named in `models`, `merges` or a `quantize.from` is in a model set."""
    for mid in overrides:
        if mid not in models:
            raise _err(src, f"models.{mid}", "this model is in no model set")
    for name, spec in merges.items():
        if name not in models:
            raise _err(src, "merges", f"merged model {name!r} ({spec.source}) is in no model set")
        for parent in spec.parents:
            if parent not in models:
                raise _err(src, "merges", f"{spec.source}: parent {parent!r} is in no model set")
    for m in models.values():
        if m.quantize and m.quantize[0] not in models:
            raise _err(src, f"models.{m.id}.quantize.from", f"{m.quantize[0]!r} is in no model set")


def _groups(
    doc: dict[str, Any], src: str, models: dict[str, Model], merges: dict[str, MergeSpec]
) -> dict[str, Group]:
    """Groups of pairs; a group's merges add their `parent -> merge` pairs."""
    raw_groups = _mapping(doc.get("groups"), src, "groups", required=True)
    groups: dict[str, Group] = {}
    for gname, gdoc in raw_groups.items():
        key = f"groups.{gname}"
        gdoc = _mapping(gdoc, src, key, required=True)
        bad = sorted(set(gdoc) - {"title", "pairs", "merges"})
        if bad:
            raise _err(src, f"{key}.{bad[0]}", "unknown key")
        pairs: list[Pair] = []
        raw_pairs = gdoc.get("pairs") or []
        if not isinstance(raw_pairs, list):
            raise _err(src, f"{key}.pairs", "must be a list of 'before -> after'")
        for j, t in enumerate(raw_pairs):
            pr = parse_pair(t, src, f"{key}.pairs[{j}]")
            for side in pr:
                if side not in models:
                    raise _err(src, f"{key}.pairs[{j}]", f"model {side!r} is in no model set")
            pairs.append(pr)
        gmerges = _strs(gdoc["merges"], src, f"{key}.merges") if gdoc.get("merges") else ()
        for j, mname in enumerate(gmerges):
            if mname not in merges:
                raise _err(src, f"{key}.merges[{j}]", f"no merge named {mname!r} in `merges`")
            pairs += [Pair(parent, mname) for parent in merges[mname].parents]
        if not pairs:
            raise _err(src, key, "a group needs pairs or merges")
        dup = [str(pr) for pr in pairs if pairs.count(pr) > 1]
        if dup:
            raise _err(src, key, f"pair {dup[0]} is listed twice")
        groups[gname] = Group(gname, str(gdoc.get("title", gname)), tuple(pairs), gmerges)
    return groups
