"""lm-evaluation-harness importer: `samples_<task>_<date>.jsonl` (+ `results_<date>.json`).

`lm_eval --log_samples --output_path OUT` (0.4.3 and later) writes, per model,
`OUT/<model>/results_<date>.json` (config, model args, seeds, task configs) and one
`samples_<task>_<date>.jsonl` per task with one line per (doc, filter): `doc_id`, `doc`,
`target`, `arguments`, `resps` (every repeat's generation), `filtered_resps`, `filter`,
`metrics` and each metric's value. lm-eval 0.4.0-0.4.2 wrote `OUT/results.json` and one JSON
array `<model_args>_<task>.jsonl` per task instead (no filter names, no seeds): read too.

Mapping: task = the file's task name (verbatim); item_id = `doc_id` (verbatim); seed = the seed
label (docs/importers.md) of the sampling seed and the repeat; multiple-choice (loglikelihood)
tasks: pred = the option with the highest loglikelihood, gold = the target option, n_choices =
number of options, correct = the tool's `acc` (elicitation `loglik`); generation tasks: one
record per repeat, response = that repeat's raw generation, pred = the filtered answer of that
repeat, correct = `exact_match` of that repeat.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    ImportBatch,
    ImportedRun,
    collect_runs,
    elicitation_for,
    file_digest,
    find_logs,
    forgetmap_origin,
    iter_jsonl,
    letter,
    need,
    predicted_index,
    read_json,
    resolve_seed,
    rule,
    seed_label,
    slug_run,
    text_hash,
    to_records,
)
from forgetmap.records import check_unique_keys

SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T[\d.\-:]+)\.jsonl$")
RESULTS_RE = re.compile(r"^results_(?P<ts>\d{4}-\d{2}-\d{2}T[\d.\-:]+)\.json$")
INVALID_MARKERS = ("", "[invalid]")
# Filter steps forgetmap can re-apply to a repeat lm-eval did not log, and steps that only pick
# among repeats (take_first keeps repeat 0's answer; majority_vote keeps no repeat's own answer).
PER_SAMPLE_STEPS = ("regex", "lowercase", "uppercase", "remove_whitespace")
KEEP_FIRST = ("take_first", "take_first_k")


@dataclass
class FilterChoice:
    """`--filter` values: NAME (for every task that has it) and TASK=NAME (for one task)."""

    default: str | None = None
    per_task: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    @classmethod
    def parse(cls, specs: str | Sequence[str] | None) -> FilterChoice:
        if specs is None:
            return cls()
        out = cls()
        for spec in [specs] if isinstance(specs, str) else list(specs):
            task, sep, name = spec.partition("=")
            if sep:
                if not task or not name:
                    raise ForgetmapError(f"--filter {spec!r}: expected NAME or TASK=NAME")
                out.per_task[task] = name
            elif out.default is not None and out.default != spec:
                raise ForgetmapError(
                    f"--filter given twice without a task ({out.default!r}, {spec!r}); "
                    "use TASK=NAME for per-task filters"
                )
            else:
                out.default = spec
        return out

    def pick(self, task: str, filters: list[str], where: Path) -> str:
        """The filter to import for `task`, whose file holds `filters` (first = lm-eval's first)."""
        if task in self.per_task:
            name = self.per_task[task]
            if name not in filters:
                raise ForgetmapError(
                    f"{where}: --filter {task}={name}: task {task!r} has no filter {name!r} "
                    f"(has: {', '.join(filters)})"
                )
            self.used.add(f"{task}={name}")
            return name
        if self.default is not None and self.default in filters:
            self.used.add(self.default)
            return self.default
        return filters[0]


def import_lm_eval(
    path: str | Path,
    model: str | None = None,
    seed: int | None = None,
    metric: str | None = None,
    filter_name: str | Sequence[str] | None = None,
    strict: bool = False,
) -> ImportBatch:
    """Import every lm-eval run under `path` (or the one samples file `path`).

    `filter_name`: a filter name (used for every task that has it; the others keep their first
    filter) and/or `TASK=NAME` entries. A run folder that cannot be imported is refused (listed
    in the result's `refused`) without stopping the others, unless `strict`."""
    choice = FilterChoice.parse(filter_name)
    units = _find_runs(path)
    batch = collect_runs(
        units,
        lambda u: [_import_run(u, model, seed, metric, choice)],
        lambda u: str(u.folder / u.label),
        strict=strict,
    )
    _check_filters_used(choice, units)
    return batch


@dataclass
class _Unit:
    """One lm-eval run: the samples files of one (folder, timestamp), or one 0.4.2 results.json."""

    folder: Path
    ts: str
    tasks: list[tuple[str, Path]]
    results: Path | None
    old_layout: bool = False

    @property
    def label(self) -> str:
        return "results.json" if self.old_layout else f"samples_*_{self.ts}.jsonl"


def _find_runs(path: str | Path) -> list[_Unit]:
    p = Path(path)
    if p.is_file() and p.name == "results.json":
        return [_old_unit(p)]
    found = sorted(p.rglob("results.json")) if p.is_dir() else []
    olds = [r for r in found if _is_old_results(r)]
    try:
        files = find_logs(path, ["samples_*.jsonl"], "lm-evaluation-harness")
    except ForgetmapError:
        if not olds:
            raise
        files = []
    groups: dict[tuple[Path, str], list[tuple[str, Path]]] = defaultdict(list)
    for f in files:
        m = SAMPLES_RE.match(f.name)
        if not m:
            raise ForgetmapError(
                f"{f}: not an lm-eval samples file (expected samples_<task>_<date>.jsonl)"
            )
        groups[(f.parent, m["ts"])].append((m["task"], f))
    units = [
        _Unit(folder, ts, sorted(tasks), _results_for(folder, ts))
        for (folder, ts), tasks in sorted(groups.items())
    ]
    return units + [_old_unit(r) for r in olds]


def _is_old_results(p: Path) -> bool:
    """A 0.4.0-0.4.2 `results.json` (samples beside it as `<model_args>_<task>.jsonl`)."""
    try:
        body = read_json(p)
    except DataError:
        return False
    return isinstance(body, dict) and "configs" in body and "results" in body


def _old_unit(results: Path) -> _Unit:
    body = read_json(results)
    args = (body.get("config") or {}).get("model_args")
    prefix = re.sub("/|=", "__", args) if isinstance(args, str) else None
    tasks = []
    for task in body.get("configs") or {}:
        f = results.parent / f"{prefix}_{task}.jsonl"
        if prefix is None or not f.exists():
            raise DataError(
                f"{results}: lm-eval <= 0.4.2 layout, but the samples file for task {task!r} "
                f"({f.name if prefix else '<model_args>_<task>.jsonl'}) is not beside it "
                "(run with --log_samples)"
            )
        tasks.append((task, f))
    if not tasks:
        raise DataError(f"{results}: no task configs in this results.json")
    return _Unit(results.parent, "", tasks, results, old_layout=True)


def _results_for(folder: Path, ts: str) -> Path | None:
    """The results file of the same run: same folder, same timestamp - never another run's."""
    exact = folder / f"results_{ts}.json"
    return exact if exact.exists() else None


def _check_filters_used(choice: FilterChoice, units: list[_Unit]) -> None:
    if choice.default is not None and choice.default not in choice.used:
        raise ForgetmapError(
            f"--filter {choice.default}: no imported task has a filter of that name"
        )
    seen = {t for u in units for t, _ in u.tasks}
    for task, name in choice.per_task.items():
        if task not in seen:
            raise ForgetmapError(
                f"--filter {task}={name}: no task {task!r} among the imported samples files "
                f"(tasks: {', '.join(sorted(seen))})"
            )


def _import_run(
    u: _Unit, model: str | None, seed: int | None, metric: str | None, choice: FilterChoice
) -> ImportedRun:
    notes: list[str] = []
    sample_file = u.tasks[0][1]
    if u.results is None:
        others = sorted(p.name for p in u.folder.glob("results_*.json"))
        if seed is None:
            hint = (
                f" ({', '.join(others)} beside it belongs to another run and is not used)"
                if others
                else ""
            )
            raise DataError(
                f"{sample_file}: no results_{u.ts}.json of the same run{hint}, so the sampling "
                "seed is unknown; pass --seed N (and --model NAME)"
            )
        notes.append(
            f"{sample_file}: no results_{u.ts}.json of the same run; seed from --seed, "
            "task configs (generation settings, filter regexes) unknown"
        )
    results = read_json(u.results) if u.results else {}
    run_model = model or _model_name(results, u.results, u.folder)
    cfg_general = results.get("config") or {}
    sampling, source, seed_notes = _sampling_seed(cfg_general, seed, str(u.results or sample_file))
    notes += seed_notes
    chat = bool(results.get("chat_template")) if u.results and not u.old_layout else None
    tables, tasks_info = [], {}
    for task, f in u.tasks:
        cfg = (results.get("configs") or {}).get(task, {})
        t, info = _import_task(
            f, task, run_model, sampling, cfg, _category(results, task), chat, metric, choice, u
        )
        notes += info.pop("notes")
        tasks_info[task] = info
        tables.append(t)
    table = pa.concat_tables(tables)
    srcs = [f for _, f in u.tasks] + ([u.results] if u.results else [])
    check_unique_keys(table, str(u.folder))
    return ImportedRun(
        model=run_model,
        run_id=slug_run(f"lm-eval-{u.ts or 'v042'}-{file_digest(srcs)}"),
        table=table,
        manifest={
            "tool": "lm-eval",
            "tool_version": results.get("lm_eval_version") or ("<=0.4.2" if u.old_layout else None),
            "source_files": [str(s) for s in srcs],
            "seed": sampling,
            "seed_source": source,
            "seeds_recorded": _recorded_seeds(cfg_general),
            "filters": {t: i["filter"] for t, i in tasks_info.items()},
            "scorers": {t: i["scorer"] for t, i in tasks_info.items()},
            "tasks": tasks_info,
            "model_args": cfg_general.get("model_args"),
            "gen_kwargs_cli": cfg_general.get("gen_kwargs"),
            "chat_template_applied": chat,
            "date": u.ts or results.get("date"),
        },
        sources=[str(s) for s in srcs],
        notes=notes,
    )


SEED_KEYS = ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")


def _model_args(cfg: dict[str, Any]) -> dict[str, str]:
    args = cfg.get("model_args")
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    if isinstance(args, str):
        out = {}
        for part in args.split(","):
            k, sep, v = part.partition("=")
            if sep:
                out[k.strip()] = v.strip()
        return out
    return {}


def _recorded_seeds(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: cfg[k] for k in SEED_KEYS if k in cfg}
    margs = _model_args(cfg)
    if "seed" in margs:
        out["model_args.seed"] = margs["seed"]
    return out


def _sampling_seed(
    cfg: dict[str, Any], override: int | None, where: str
) -> tuple[int, str, list[str]]:
    """The seed that drove sampling: a backend's own `seed=` model argument (vLLM, SGLang, API
    models) when given, else lm-eval's `torch_seed` (HF models sample with torch's global RNG).
    `random_seed` (python's `random`, e.g. few-shot order) does not drive sampling."""
    margs = _model_args(cfg)
    if "seed" in margs and margs["seed"] not in ("", "None"):
        return resolve_seed(override, margs["seed"], "model_args seed", where)
    torch_seed = cfg.get("torch_seed")
    return resolve_seed(override, torch_seed, "torch_seed", where)


def _model_name(results: dict[str, Any], results_path: Path | None, folder: Path) -> str:
    """`pretrained=` of the model args, else `model_name`; never guessed from a folder name."""
    margs = _model_args(results.get("config") or {})
    for k in ("pretrained", "model", "path"):
        if margs.get(k):
            return margs[k]
    if results.get("model_name"):
        return str(results["model_name"])
    where = results_path or folder
    raise ForgetmapError(
        f"{where}: cannot tell the model name (no results_*.json with model_args); pass --model NAME"
    )


def _category(results: dict[str, Any], task: str) -> str | None:
    """Innermost lm-eval group containing the task (e.g. `mmlu_stem`), verbatim; else None."""
    subtasks = results.get("group_subtasks") if results else None
    if not isinstance(subtasks, dict):
        return None
    parents = [g for g, members in subtasks.items() if task in (members or [])]
    return parents[0] if parents else None


def _read_samples(f: Path, old_layout: bool) -> list[tuple[int, dict[str, Any]]]:
    if not old_layout:
        return list(iter_jsonl(f))
    body = read_json(f)
    if not isinstance(body, list):
        raise DataError(f"{f}: expected a JSON array of samples (lm-eval <= 0.4.2 layout)")
    for i, o in enumerate(body):
        if not isinstance(o, dict):
            raise DataError(f"{f}: sample {i}: expected a JSON object")
    return [(i, o) for i, o in enumerate(body)]


def _old_filters(rows: list[tuple[int, dict[str, Any]]], cfg: dict[str, Any], f: Path) -> None:
    """lm-eval <= 0.4.2 logs no filter name: the samples come in one block per filter of the
    task's filter_list, in that order. Label each row with its block's filter."""
    names = [str(x.get("name")) for x in cfg.get("filter_list") or [] if isinstance(x, dict)]
    names = names or ["none"]
    if len(rows) % len(names):
        raise DataError(
            f"{f}: {len(rows)} samples do not split into one block per filter ({', '.join(names)})"
        )
    block = len(rows) // len(names)
    for i, (_, o) in enumerate(rows):
        o.setdefault("filter", names[i // block])


def _import_task(
    f: Path,
    task: str,
    model: str,
    seed: int,
    cfg: dict[str, Any],
    category: str | None,
    chat: bool | None,
    metric: str | None,
    choice: FilterChoice,
    u: _Unit,
) -> tuple[pa.Table, dict[str, Any]]:
    rows = _read_samples(f, u.old_layout)
    if not rows:
        raise DataError(f"{f}: no samples in the file")
    if u.old_layout:
        _old_filters(rows, cfg, f)
    filters = list(dict.fromkeys(str(o.get("filter", "none")) for _, o in rows))
    use = choice.pick(task, filters, f)
    rows = [(n, o) for n, o in rows if str(o.get("filter", "none")) == use]
    output_type = cfg.get("output_type")
    if output_type is None:  # infer from the first row: loglikelihood rows hold [ll, greedy]
        fr = need(rows[0][1], "filtered_resps", f"{f}:{rows[0][0]}")
        output_type = "multiple_choice" if fr and isinstance(fr[0], list) else "generate_until"
    if output_type not in ("multiple_choice", "generate_until"):
        raise ForgetmapError(
            f"{f}: lm-eval output_type {output_type!r} is not per-item scoreable "
            "(supported: multiple_choice, generate_until)"
        )
    where = f"{f}:{rows[0][0]}"
    if output_type == "multiple_choice":
        cols, name, notes = _mc_columns(f, rows, metric)
        origins = ["argmax"]
        repeats = 1
    else:
        chain = _filter_chain(cfg, use)
        cols, name, origins, repeats, notes = _gen_columns(f, rows, metric, chain, cfg)
    n = len(cols["item_id"])
    scorer = f"{use}/{name}"
    cols["extract_rule"] = [rule("lm-eval", o, scorer) for o in cols.pop("origin")]
    cols["seed"] = [seed_label(seed, r, where) for r in cols.pop("repeat")]
    cols.update(
        model=[model] * n,
        task=[task] * n,
        category=[category] * n,
        elicitation=[elicitation_for(output_type == "multiple_choice", chat)] * n,
    )
    info = {
        "filter": use,
        "filters_in_file": filters,
        "metric": name,
        "scorer": scorer,
        "output_type": output_type,
        "repeats": repeats,
        "pred_from": sorted(set(origins)),
        "generation_kwargs": cfg.get("generation_kwargs"),
        "notes": notes,
    }
    return to_records(dict(cols), source=str(f)), info


def _zero_one(value: Any, name: str, where: str) -> bool | None:
    """A logged per-sample metric as correct/incorrect; a fractional value is an error, never
    rounded (it means the metric averages something, e.g. several repeats)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: metric '{name}' is not a number ({value!r})") from None
    if v not in (0.0, 1.0):
        raise DataError(
            f"{where}: metric '{name}' = {v:g} is not 0 or 1, so it is no per-sample "
            "correctness; choose another with --metric"
        )
    return v == 1.0


def _mc_columns(
    f: Path, rows: list[tuple[int, dict[str, Any]]], metric: str | None
) -> tuple[dict[str, list[Any]], str, list[str]]:
    cols: dict[str, list[Any]] = defaultdict(list)
    score_rows: list[list[float]] = []
    name = metric or "acc"
    for lineno, o in rows:
        where = f"{f}:{lineno}"
        _common_fields(cols, o, where)
        cols["correct"].append(_zero_one(need(o, name, where), name, where))
        args = need(o, "arguments", where)
        if isinstance(args, dict):
            choices = [str(a.get("arg_1", "")).strip() for a in args.values()]
        elif isinstance(args, list):  # lm-eval <= 0.4.2: [[context, continuation], ...]
            choices = [
                str(a[1]).strip() if isinstance(a, list) and len(a) > 1 else "" for a in args
            ]
        else:
            choices = []
        fr = need(o, "filtered_resps", where)
        try:
            scores = [float(r[0]) for r in fr]
        except (TypeError, ValueError, IndexError):
            raise DataError(
                f"{where}: 'filtered_resps' is not a list of [loglik, greedy] pairs"
            ) from None
        score_rows.append(scores)
        cols["choices"].append(choices)
        cols["n_choices"].append(len(scores))
        cols["gold"].append(_gold_mc(need(o, "target", where), choices, where))
        cols["extract_status"].append("ok")
        cols["repeat"].append(0)
        cols["origin"].append("argmax")
    idx = predicted_index(score_rows)
    cols["pred"] = [None if i is None else letter(i, str(f)) for i in idx]
    cols["response"] = [
        None if i is None else ch[i] if i < len(ch) else None
        for i, ch in zip(idx, cols["choices"], strict=True)
    ]
    return cols, name, []


def _common_fields(cols: dict[str, list[Any]], o: dict[str, Any], where: str) -> None:
    cols["item_id"].append(str(need(o, "doc_id", where)))
    cols["prompt_hash"].append(o.get("prompt_hash") or _context_hash(o.get("arguments")))
    doc = o.get("doc") if isinstance(o.get("doc"), dict) else {}
    q = doc.get("question")
    cols["question"].append(q if isinstance(q, str) else None)


def _context_hash(args: Any) -> str | None:
    """lm-eval <= 0.4.2 logs no prompt_hash: hash the context of the first request instead."""
    if isinstance(args, dict):  # 0.4.3+: {"gen_args_0": {"arg_0": context, ...}}
        first = next(iter(args.values()), None)
        ctx = first.get("arg_0") if isinstance(first, dict) else None
    elif isinstance(args, list) and args and isinstance(args[0], list) and args[0]:
        ctx = args[0][0]  # <= 0.4.2: [[context, continuation or gen_kwargs], ...]
    else:
        ctx = None
    return text_hash([ctx]) if isinstance(ctx, str) else None


def _filter_chain(cfg: dict[str, Any], name: str) -> list[dict[str, Any]] | None:
    """The steps of filter `name` from the task config in the results file (None: unknown).
    lm-eval's implicit filter for generation without a filter_list is `none` = take_first."""
    for entry in cfg.get("filter_list") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            steps = entry.get("filter")
            return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else None
    if name == "none" and cfg:
        return [{"function": "take_first"}]
    return None


def _reproducible(chain: list[dict[str, Any]] | None) -> bool:
    """Whether forgetmap can re-apply the chain's per-sample steps (a plain regex filter)."""
    if not chain:
        return False
    fns = [str(s.get("function")) for s in chain]
    per = [fn for fn in fns if fn not in KEEP_FIRST + ("majority_vote",)]
    return all(fn in PER_SAMPLE_STEPS for fn in per)


def _keeps_repeat0(chain: list[dict[str, Any]] | None) -> bool:
    """A single logged answer is repeat 0's own answer (take_first, no majority vote)."""
    if chain is None:
        return False
    fns = [str(s.get("function")) for s in chain]
    return "majority_vote" not in fns


def apply_filter(chain: list[dict[str, Any]], text: str) -> str:
    """lm-eval's per-sample filter steps on one generation (RegexFilter: first match, the
    `group_select`-th of them, first non-empty group of a tuple, stripped; no match ->
    `fallback`, "[invalid]")."""
    out = text
    for step in chain:
        fn = step.get("function")
        if fn == "regex":
            pattern = re.compile(step.get("regex_pattern", r"#### (\-?[0-9\.\,]+)"))
            fallback = step.get("fallback", "[invalid]")
            found = pattern.findall(out)
            if not found:
                out = fallback
                continue
            try:
                m = found[int(step.get("group_select", 0))]
            except IndexError:
                out = fallback
                continue
            if isinstance(m, tuple):
                m = next((x for x in m if x), fallback)
            out = m.strip()
        elif fn == "lowercase":
            out = out.lower()
        elif fn == "uppercase":
            out = out.upper()
        elif fn == "remove_whitespace":
            out = out.strip()
    return out


def exact_match(pred: str, gold: str, kwargs: dict[str, Any]) -> bool:
    """lm-eval's `exact_match` for one (prediction, reference) with the task's metric options
    (regexes_to_ignore, ignore_case, ignore_punctuation, ignore_numbers)."""
    for rx in kwargs.get("regexes_to_ignore") or []:
        pred, gold = re.sub(rx, "", pred), re.sub(rx, "", gold)
    if kwargs.get("ignore_case"):
        pred, gold = pred.lower(), gold.lower()
    if kwargs.get("ignore_punctuation"):
        table = str.maketrans("", "", string.punctuation)
        pred, gold = pred.translate(table), gold.translate(table)
    if kwargs.get("ignore_numbers"):
        table = str.maketrans("", "", string.digits)
        pred, gold = pred.translate(table), gold.translate(table)
    return pred == gold


def _metric_kwargs(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    for m in cfg.get("metric_list") or []:
        if isinstance(m, dict) and m.get("metric") == name:
            return {k: v for k, v in m.items() if k not in ("metric", "aggregation")}
    return {}


def _gen_columns(
    f: Path,
    rows: list[tuple[int, dict[str, Any]]],
    metric: str | None,
    chain: list[dict[str, Any]] | None,
    cfg: dict[str, Any],
) -> tuple[dict[str, list[Any]], str, list[str], int, list[str]]:
    """One record per (doc, repeat). pred: lm-eval's logged filtered answer where it is that
    repeat's own; else the run's own plain regex filter re-applied; else forgetmap's extractor."""
    cols: dict[str, list[Any]] = defaultdict(list)
    repeats_cfg = cfg.get("repeats")
    first = rows[0][1]
    metrics = first.get("metrics") or []
    name = metric or ("exact_match" if "exact_match" in metrics or "exact_match" in first else None)
    if name is None:
        if not metrics:
            raise DataError(f"{f}:{rows[0][0]}: missing field 'metrics'")
        name = metrics[0]
    kwargs = _metric_kwargs(cfg, name)
    mismatched = 0
    n_repeats = 1
    for lineno, o in rows:
        where = f"{f}:{lineno}"
        gens = _generations(need(o, "resps", where), where)
        n_repeats = max(n_repeats, len(gens))
        if isinstance(repeats_cfg, int) and repeats_cfg != len(gens):
            raise DataError(
                f"{where}: {len(gens)} generations but the task config says repeats: {repeats_cfg}"
            )
        logged = _logged_answers(o.get("filtered_resps"), len(gens), chain)
        target = need(o, "target", where)
        gold = str(target[0]) if isinstance(target, list) and target else str(target)
        value = need(o, name, where)
        doc = o.get("doc") if isinstance(o.get("doc"), dict) else {}
        doc_choices = _doc_choices(doc)
        verdicts = []
        for r, gen in enumerate(gens):
            _common_fields(cols, o, where)
            if logged[r] is not None:
                answer, origin = logged[r], "logged"
            elif _reproducible(chain):
                answer, origin = apply_filter(chain or [], gen), "regex"
            else:
                answer, origin = None, None
            if origin is None:
                ex = _forgetmap_extract(gen, doc_choices)
                pred, status, origin = ex.pred, str(ex.status), forgetmap_origin(ex.rule)
                ok = pred is not None and _is_correct(pred, gold, doc_choices)
            else:
                bad = answer is None or answer.strip() in INVALID_MARKERS
                pred = None if bad else answer.strip()
                status = "no_answer" if bad else "ok"
                if len(gens) == 1:
                    ok = _zero_one(value, name, where)
                elif name != "exact_match":
                    raise DataError(
                        f"{where}: {len(gens)} repeats, but their per-repeat correctness can "
                        f"only be re-derived for metric 'exact_match' (not {name!r}); pass "
                        "--metric exact_match or --reextract"
                    )
                else:
                    ok = exact_match(answer, gold, kwargs)
            verdicts.append((origin, ok))
            cols["response"].append(gen)
            cols["pred"].append(pred)
            cols["extract_status"].append(status)
            cols["correct"].append(ok)
            cols["gold"].append(gold)
            cols["n_choices"].append(len(doc_choices) if doc_choices else None)
            cols["choices"].append(doc_choices)
            cols["repeat"].append(r)
            cols["origin"].append(origin)
        mismatched += _disagrees(value, verdicts)
    notes = []
    if mismatched:
        notes.append(
            f"{f}: for {mismatched} doc(s) the per-repeat answers re-scored here do not average "
            f"to lm-eval's logged '{name}'; per-repeat values are kept (see docs/importers.md)"
        )
    return cols, name, cols["origin"], n_repeats, notes


def _disagrees(value: Any, verdicts: list[tuple[str, bool | None]]) -> bool:
    """lm-eval's logged metric over the answers it logged: the mean over repeats (no take_first)
    or repeat 0 (take_first). True when forgetmap's per-repeat verdicts do not reproduce it."""
    if len(verdicts) < 2 or value is None:
        return False
    logged = [ok for origin, ok in verdicts if origin == "logged"]
    if not logged:
        return False
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    mean = sum(bool(x) for x in logged) / len(logged)
    return abs(mean - v) > 1e-9


def _logged_answers(filtered: Any, n: int, chain: list[dict[str, Any]] | None) -> list[str | None]:
    """Each repeat's own filtered answer as lm-eval logged it, None where it logged none:
    `[[a0, a1, ...]]` (a filter without take_first keeps every repeat's answer), or `["a0"]`
    (take_first: repeat 0's answer; a majority vote's answer is no repeat's own)."""
    out: list[str | None] = [None] * n
    if not isinstance(filtered, list) or not filtered:
        return out
    inner = filtered[0]
    if isinstance(inner, list):  # no take_first: every repeat's answer; take_first_k: the first k
        if len(inner) == n and chain is None or (len(inner) <= n and _keeps_repeat0(chain)):
            out[: len(inner)] = [None if x is None else str(x) for x in inner]
        return out
    if n == 1 or _keeps_repeat0(chain):
        out[0] = None if inner is None else str(inner)
    return out


def _generations(resps: Any, where: str) -> list[str]:
    """resps [["g0", "g1", ...]] -> every repeat's generation."""
    if isinstance(resps, list) and resps and isinstance(resps[0], list):
        gens = resps[0]
    elif isinstance(resps, list):
        gens = resps
    else:
        raise DataError(f"{where}: 'resps' is not a list of generations")
    if not gens:
        raise DataError(f"{where}: 'resps' holds no generation")
    return ["" if g is None else str(g) for g in gens]


def _forgetmap_extract(text: str, choices: list[str] | None):
    from forgetmap.suite.extract import extract

    return extract(text, choices or [], len(choices) if choices else None)


def _is_correct(pred: str, gold: str, choices: list[str] | None) -> bool:
    from forgetmap.suite.extract import is_correct

    return bool(is_correct(pred, gold, free_form=not choices))


def _gold_mc(target: Any, choices: list[str], where: str) -> str:
    if isinstance(target, list):
        target = target[0] if target else None
    if isinstance(target, int) and not isinstance(target, bool):
        return letter(target, where)
    if isinstance(target, str):
        t = target.strip()
        if t.isdigit():
            return letter(int(t), where)
        if t in choices:
            return letter(choices.index(t), where)
        return t
    raise DataError(f"{where}: cannot read the gold option from target {target!r}")


def _doc_choices(doc: dict[str, Any]) -> list[str] | None:
    """Options of a generation task's doc when it lists them (`choices` as a list, or as
    {"text": [...]} as in ARC); None otherwise (k unknown -> treated as free-form)."""
    ch = doc.get("choices")
    if isinstance(ch, dict):
        ch = ch.get("text")
    if isinstance(ch, list) and ch and all(isinstance(c, str) for c in ch):
        return ch
    return None
