"""lighteval importer: `details_<task>_<timestamp>.parquet` (+ `results_<timestamp>.json`).

`lighteval ... --save-details --output-dir OUT` writes
`OUT/details/<model>/<timestamp>/details_<task>_<timestamp>.parquet` (one row per sample) and
`OUT/results/<model>/results_<timestamp>.json` (config: model name, generation parameters with
the sampling `seed`, chat template use). The seed comes from the results file of the same
timestamp, exactly as the study's own scripts map it (arXiv 2510.17776 used lighteval 0.10).

Two detail layouts exist and both are read:
- lighteval >= 0.11: columns `doc` (query, choices, gold_index, id, ...), `model_response`
  (text, logprobs, ...), `metric` (metric -> value);
- lighteval <= 0.10: flat columns `example`, `full_prompt`, `predictions`, `choices`,
  `gold_index`, `metrics`, `specifics`, ...

Mapping: task = the task name in the file name, verbatim (e.g. `community|mmlu:anatomy|0`);
item_id = the doc id when the task set one, else a hash of the question and options (lighteval
stores no native id otherwise); seed = the seed label (docs/importers.md) of the sampling seed
and the sample index; gold = letter of `gold_index`; n_choices = number of choices; response =
the generation; correct = the metric (`extractive_match` by default, else the first per-sample
0/1 metric); pred = argmax of the option logprobs for loglikelihood tasks, lighteval's own
extracted answer where it logged one, else null (`--reextract`).

Several samples per item (a task with a sampling metric such as `avg@n`, n > 1): every sample
becomes its own record (sample i -> repeat i). lighteval logs no per-sample verdict then (its
metrics are means or maxima over the samples), so each sample's pred and correct come from
forgetmap's extractor, and `extract_rule` says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    LETTERS,
    ImportBatch,
    ImportedRun,
    collect_runs,
    elicitation_for,
    file_digest,
    find_logs,
    forgetmap_origin,
    hash_rows,
    predicted_index,
    read_json,
    resolve_seed,
    rule,
    seed_label,
    slug_run,
    to_records,
)
from forgetmap.letters import option_letters
from forgetmap.records import check_unique_keys, conform

DETAILS_RE = re.compile(r"^details_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T[\d\-:.]+)\.parquet$")
RESULTS_RE = re.compile(r"^results_(?P<ts>\d{4}-\d{2}-\d{2}T[\d\-:.]+)\.json$")
PREFERRED_METRICS = (
    "extractive_match",
    "acc",
    "loglikelihood_acc",
    "em",
    "exact_match",
    "quasi_em",
    "prompt_level_strict_acc",  # IFEval: the prompt passes every instruction, strictly
)


def import_lighteval(
    path: str | Path,
    model: str | None = None,
    seed: int | None = None,
    metric: str | None = None,
    task_map: Any = None,
    strict: bool = False,
) -> ImportBatch:
    """Import every lighteval details file under `path` (or the one file `path`).

    `task_map(name) -> name` optionally rewrites task names (used by the post-forget importer).
    A run (model, timestamp) that cannot be imported is refused (listed in the result's
    `refused`) without stopping the others, unless `strict`."""
    files = find_logs(path, ["details_*.parquet"], "lighteval")
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    results_index = _index_results(root, files)
    groups: dict[tuple[str, str], list[tuple[str, Path]]] = defaultdict(list)
    for f in files:
        m = DETAILS_RE.match(f.name)
        if not m:
            raise ForgetmapError(
                f"{f}: not a lighteval details file (expected details_<task>_<timestamp>.parquet)"
            )
        groups[(str(f.parent), m["ts"])].append((m["task"], f))

    def convert(key: tuple[str, str]) -> list[ImportedRun]:
        return [
            _import_run(key[1], sorted(groups[key]), results_index, model, seed, metric, task_map)
        ]

    return collect_runs(sorted(groups), convert, lambda k: f"{k[0]} (run {k[1]})", strict=strict)


def _import_run(
    ts: str,
    tasks: list[tuple[str, Path]],
    results_index: dict[str, Path],
    model: str | None,
    seed: int | None,
    metric: str | None,
    task_map: Any,
) -> ImportedRun:
    res_path = results_index.get(ts)
    results = read_json(res_path) if res_path else {}
    run_model = model or _model_name(results, res_path, tasks[0][1])
    general = results.get("config_general") or {}
    gen = _generation_parameters(general)
    where = str(res_path or tasks[0][1])
    if res_path is None and seed is None:
        raise ForgetmapError(
            f"{tasks[0][1]}: no results_{ts}.json of the same run, so the sampling seed "
            f"(config_general.generation_parameters.seed) is unknown; pass --seed N"
        )
    run_seed, seed_source, notes = resolve_seed(
        seed, gen.get("seed"), "generation_parameters.seed", where
    )
    chat = _chat_template(general)
    tables, infos = [], {}
    for task, f in tasks:
        name = task_map(task) if task_map else task
        t, info = _import_details(f, name, run_model, run_seed, chat, metric)
        notes += info.pop("notes")
        infos[name] = info
        tables.append(t)
    table = pa.concat_tables(tables)
    srcs = [f for _, f in tasks] + ([res_path] if res_path else [])
    check_unique_keys(table, f"lighteval run {ts}")
    return ImportedRun(
        model=run_model,
        run_id=slug_run(f"lighteval-{ts}-{file_digest(srcs)}"),
        table=table,
        manifest={
            "tool": "lighteval",
            "tool_version": general.get("lighteval_sha") or general.get("lighteval_version"),
            "source_files": [str(s) for s in srcs],
            "seed": run_seed,
            "seed_source": seed_source,
            "seeds_recorded": {"generation_parameters.seed": gen.get("seed")},
            "generation_parameters": gen,
            "scorers": {t: i["metric"] for t, i in infos.items()},
            "tasks": infos,
            "chat_template_applied": chat,
            "timestamp": ts,
        },
        sources=[str(s) for s in srcs],
        notes=notes,
    )


def _index_results(root: Path, files: list[Path]) -> dict[str, Path]:
    """timestamp -> results_<timestamp>.json, searched under the import root and near the files."""
    cands: set[Path] = set(root.rglob("results_*.json")) if root.is_dir() else set()
    for f in files:  # OUT/details/<model>/<ts>/details_*.parquet -> OUT/results/<model>/
        for up in f.parents[:6]:
            cands.update(up.glob("results_*.json"))
            if (up / "results").is_dir():
                cands.update((up / "results").rglob("results_*.json"))
    out: dict[str, Path] = {}
    for p in sorted(cands):
        m = RESULTS_RE.match(p.name)
        if m:
            out.setdefault(m["ts"], p)
    return out


def _model_name(results: dict[str, Any], res_path: Path | None, f: Path) -> str:
    general = results.get("config_general") or {}
    name = general.get("model_name")
    if not name:
        cfg = general.get("model_config") or {}
        name = cfg.get("model_name") if isinstance(cfg, dict) else None
    if name:
        return str(name)
    where = res_path or f
    raise ForgetmapError(
        f"{where}: cannot tell the model name (no results_<timestamp>.json with "
        "config_general.model_name next to the details); pass --model NAME"
    )


def _generation_parameters(general: dict[str, Any]) -> dict[str, Any]:
    gp = general.get("generation_parameters")
    if not isinstance(gp, dict):
        cfg = general.get("model_config") or {}
        gp = cfg.get("generation_parameters") if isinstance(cfg, dict) else None
    return gp if isinstance(gp, dict) else {}


def _chat_template(general: dict[str, Any]) -> bool | None:
    """Whether prompts went through the chat template (None when the results do not say)."""
    cfg = general.get("model_config") or {}
    for src, key in (
        (general, "use_chat_template"),
        (cfg, "use_chat_template"),
        (cfg, "override_chat_template"),
    ):
        if isinstance(src, dict) and src.get(key) is not None:
            return bool(src[key])
    return None


def _chat_from_prompts(t: pa.Table) -> bool | None:
    """lighteval <= 0.10 does not record chat-template use: the prompt then ends with the
    question itself (zero/few-shot) or wraps it in the template (ends with the assistant turn)."""
    if "full_prompt" not in t.column_names or "example" not in t.column_names:
        return None
    full = pc.utf8_rtrim_whitespace(pc.cast(t.column("full_prompt"), pa.string())).to_pylist()
    ex = pc.utf8_rtrim_whitespace(pc.cast(t.column("example"), pa.string())).to_pylist()
    wrapped = sum(1 for a, b in zip(full, ex, strict=True) if a and b and not a.endswith(b))
    return wrapped * 2 > len(full)


# Only what the import needs: details files also hold token id lists that dominate read time.
_OLD_COLUMNS = (
    "example",
    "full_prompt",
    "choices",
    "gold",
    "gold_index",
    "predictions",
    "metrics",
    "specifics",
)
_NEW_RESPONSE_FIELDS = ("text", "logprobs", "input")


def _read(f: Path) -> pa.Table:
    try:
        pf = pq.ParquetFile(f)
        names = pf.schema_arrow.names
        if "doc" in names and "model_response" in names:
            resp = pf.schema_arrow.field("model_response").type
            subs = [n for n in _NEW_RESPONSE_FIELDS if resp.get_field_index(n) >= 0]
            cols = [c for c in ("doc", "metric") if c in names]
            t = pf.read(columns=cols + [f"model_response.{n}" for n in subs])
            if "model_response" not in t.column_names:  # leaves returned unnested: re-nest
                leaves = t.select(range(len(cols), t.num_columns))
                t = t.select(range(len(cols))).append_column(
                    "model_response",
                    pa.StructArray.from_arrays(
                        [c.combine_chunks() for c in leaves.columns], names=subs
                    ),
                )
            return t
        return pf.read(columns=[c for c in _OLD_COLUMNS if c in names] or None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"{f}: not a readable Parquet details file ({str(exc).splitlines()[0]})"
        ) from None


def _col(t: pa.Table, *names: str) -> pa.ChunkedArray | None:
    for n in names:
        if n in t.column_names:
            return t.column(n)
    return None


def _zero_one(value: pa.ChunkedArray) -> bool:
    """Whether a metric column holds per-sample verdicts (every value 0 or 1)."""
    ok = pc.or_(pc.equal(value, 0.0), pc.equal(value, 1.0))
    return bool(pc.all(pc.fill_null(ok, True)).as_py())


def _pick_metric(t: pa.Table, prefix: str, metric: str | None, f: Path) -> str:
    names = [c[len(prefix) :] for c in t.column_names if c.startswith(prefix)]
    if not names:
        raise DataError(f"{f}: missing field '{prefix.rstrip('.')}' (no per-sample metric)")
    if metric is not None:
        if metric not in names:
            raise ForgetmapError(f"{f}: no metric {metric!r} (has: {', '.join(names)})")
        return metric
    # per-sample scalars only: IFEval also logs per-instruction lists (inst_level_*)
    scalar = [
        m
        for m in names
        if pa.types.is_integer(t.schema.field(prefix + m).type)
        or pa.types.is_floating(t.schema.field(prefix + m).type)
        or pa.types.is_boolean(t.schema.field(prefix + m).type)
    ]
    if not scalar:
        raise DataError(f"{f}: no per-sample scalar metric (has: {', '.join(names)})")
    values = {m: pc.cast(t.column(prefix + m), pa.float64()) for m in scalar}
    ordered = [m for m in PREFERRED_METRICS if m in scalar] + [
        m for m in scalar if m not in PREFERRED_METRICS
    ]
    return next((m for m in ordered if _zero_one(values[m])), ordered[0])


def _prompt_hash(t: pa.Table, query: pa.ChunkedArray, choices: pa.Array, loglik: bool) -> pa.Array:
    """Hash of the prompt the model saw, per row: lighteval <= 0.10's `full_prompt`, else the
    logged model input where there is one, else the doc's query (lighteval 0.13 leaves the input
    empty, e.g. for every loglikelihood row); loglikelihood rows add the option continuations."""
    parts = [_col(t, "full_prompt"), _col(t, "model_response.input"), query]
    texts = [_as_text(c) for c in parts if c is not None]
    prompt = pc.coalesce(*texts) if len(texts) > 1 else texts[0]
    cols = [prompt, choices] if loglik else [prompt]
    return hash_rows(cols)


def _as_text(col: pa.ChunkedArray) -> pa.Array:
    """A prompt column as strings (chat-message lists become their JSON)."""
    arr = col.combine_chunks()
    if (
        pa.types.is_string(arr.type)
        or pa.types.is_large_string(arr.type)
        or pa.types.is_null(arr.type)
    ):
        return pc.cast(arr, pa.string())
    import json

    return pa.array(
        [None if v is None else json.dumps(v, sort_keys=True) for v in arr.to_pylist()],
        pa.string(),
    )


def _import_details(
    f: Path, task: str, model: str, seed: int, chat: bool | None, metric: str | None
) -> tuple[pa.Table, dict[str, Any]]:
    raw = _read(f)
    if raw.num_rows == 0:
        raise DataError(f"{f}: the details file has no rows")
    t = raw.flatten()
    prefix = "metric." if "doc" in raw.column_names else "metrics."
    name = _pick_metric(t, prefix, metric, f)
    value = pc.cast(t.column(prefix + name), pa.float64())
    if value.null_count:
        i = pc.index(pc.is_null(value), True).as_py()
        raise DataError(f"{f}: row {i}: metric '{name}' is empty")

    choices = _col(t, "doc.choices", "choices")
    gold_index = _col(t, "doc.gold_index", "gold_index")
    query = _col(t, "doc.query", "example")
    if choices is None or query is None:
        raise DataError(f"{f}: missing field 'choices'/'query' in the details")
    choices = _as_string_lists(choices)
    gold, n_choices = _gold_and_k(t, f, choices, gold_index, query)
    ids = _col(t, "doc.id")
    hashed = hash_rows([pc.cast(query, pa.string()), choices])
    if ids is not None:
        ids = pc.cast(ids, pa.string())
        item_id = pc.if_else(pc.fill_null(pc.not_equal(ids, ""), False), ids, pa.array(hashed))
    else:
        item_id = pa.array(hashed)
    loglik = _is_loglik(t)
    n = t.num_rows
    if chat is None:
        chat = _chat_from_prompts(t)
    base = {
        "model": pa.array([model] * n, pa.string()),
        "task": pa.array([task] * n, pa.string()),
        "item_id": item_id,
        "n_choices": n_choices,
        "gold": gold,
        "prompt_hash": _prompt_hash(t, query, choices, loglik),
        "elicitation": pa.array([elicitation_for(loglik, chat)] * n, pa.string()),
        "question": pc.cast(query, pa.string()),
        "choices": choices,
    }
    texts = _col(t, "model_response.text", "predictions")
    n_samples = (
        pc.fill_null(pc.list_value_length(texts), 0).combine_chunks()
        if texts is not None and _is_list(texts)
        else None
    )
    most = int(pc.max(n_samples).as_py() or 0) if n_samples is not None else 0
    info: dict[str, Any] = {"metric": name, "samples_per_item": max(most, 1), "notes": []}
    if not loglik and most > 1:
        # lighteval's mean over the samples (avg@n), if logged, is what their verdicts should
        # reproduce; else the chosen metric
        mean = next((c for c in t.column_names if c.startswith(prefix + "avg@")), prefix + name)
        agree_with = (mean[len(prefix) :], pc.cast(t.column(mean), pa.float64()))
        return _several_samples(f, base, texts, agree_with, name, seed, info), info
    if not _zero_one(value):
        i = pc.index(pc.invert(pc.or_(pc.equal(value, 0.0), pc.equal(value, 1.0))), True).as_py()
        raise DataError(
            f"{f}: row {i}: metric '{name}' = {value[i].as_py():g} is not 0 or 1, so it is no "
            "per-sample correctness; choose another with --metric"
        )
    response = _first_str(texts) if texts is not None else pa.nulls(n, pa.string())
    if loglik:
        lp = _col(t, "model_response.logprobs")
        idx = predicted_index(lp.to_pylist())
        pred = pa.array([None if i is None else LETTERS[i] for i in idx], pa.string())
        status = pc.if_else(pc.is_valid(pred), "ok", "no_answer")
        origin = "argmax"
    else:
        # lighteval's own extraction: specifics.extracted_predictions (<= 0.10) or
        # doc.specific.extracted_predictions (0.13), for its extractive_match metric
        extracted = _col(t, "specifics.extracted_predictions", "doc.specific.extracted_predictions")
        if extracted is not None and name == "extractive_match":
            first = _first_str(extracted)
            ok = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(first), ""), False)
            pred = pc.if_else(ok, pc.utf8_trim_whitespace(first), pa.scalar(None, pa.string()))
            status = pc.if_else(ok, "ok", "no_answer")
            origin = "logged"
        else:
            pred, status, origin = pa.nulls(n, pa.string()), pa.nulls(n, pa.string()), "none"
    info["pred_from"] = [origin]
    table = to_records(
        {
            **base,
            "seed": pa.array([seed_label(seed, 0, str(f))] * n, pa.int64()),
            "pred": pred,
            "extract_status": status,
            "extract_rule": pa.array([rule("lighteval", origin, name)] * n, pa.string()),
            "correct": pc.equal(value, 1.0),
            "response": response,
        },
        source=str(f),
    )
    return table, info


def _several_samples(
    f: Path,
    base: dict[str, pa.Array],
    texts: pa.ChunkedArray,
    logged: tuple[str, pa.ChunkedArray],
    name: str,
    seed: int,
    info: dict[str, Any],
) -> pa.Table:
    """One record per generated sample (sample i -> repeat i), scored by forgetmap's extractor:
    lighteval logs no per-sample verdict when it draws several samples (its metrics aggregate
    them), so neither its `correct` nor its extracted answer belongs to any one sample."""
    from forgetmap.suite.extract import reextract

    arr = texts.combine_chunks()
    parent = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    offsets = arr.offsets.to_numpy()
    repeat = np.arange(len(parent)) - offsets[parent]
    take = pa.array(parent)
    cols = {k: v.take(take) for k, v in base.items()}
    labels = [seed_label(seed, int(r), str(f)) for r in range(int(repeat.max()) + 1)]
    m = len(parent)
    # not conformed yet: pred/correct are filled by the extractor next
    table = pa.table(
        {
            **cols,
            "seed": pa.array(np.asarray(labels, dtype=np.int64)[repeat]),
            "response": pc.cast(pc.list_flatten(arr), pa.string()),
            "pred": pa.nulls(m, pa.string()),
            "extract_status": pa.nulls(m, pa.string()),
            "extract_rule": pa.nulls(m, pa.string()),
            "correct": pa.nulls(m, pa.bool_()),
        }
    )
    table = reextract(table)
    rules = pa.array(
        [
            rule("lighteval", forgetmap_origin(r), name)
            for r in table.column("extract_rule").to_pylist()
        ],
        pa.string(),
    )
    table = table.set_column(table.schema.get_field_index("extract_rule"), "extract_rule", rules)
    # how often forgetmap's per-sample verdicts reproduce lighteval's per-item metric (a mean
    # over the samples, e.g. avg@n); kept in the manifest, not used for `correct`
    per_item = (
        pa.table({"i": pa.array(parent), "c": pc.cast(table.column("correct"), pa.float64())})
        .group_by("i")
        .aggregate([("c", "mean")])
        .sort_by("i")
        .column("c_mean")
    )
    mname, value = logged
    agree = pc.sum(pc.less(pc.abs(pc.subtract(per_item, value)), 1e-9)).as_py() or 0
    info["pred_from"] = ["forgetmap"]
    info["forgetmap_vs_logged"] = {"metric": mname, "items_agreeing": agree, "items": len(value)}
    info["notes"].append(
        f"{f}: {int(repeat.max()) + 1} samples per item, one record each; lighteval logs no "
        f"per-sample verdict, so pred/correct come from forgetmap's extractor (its per-item "
        f"mean matches lighteval's '{mname}' on {agree} of {len(value)} items)"
    )
    return conform(table, source=str(f))


_OPTION_LINE = r"(?m)^\(?[A-Z]\) "


def _as_string_lists(col: pa.ChunkedArray) -> pa.Array:
    """choices as list<string> (lighteval <= 0.10 stores an all-empty list<null> for generation)."""
    arr = col.combine_chunks()
    if pa.types.is_list(arr.type) and pa.types.is_null(arr.type.value_type):
        return pc.cast(arr, pa.list_(pa.string()))
    return pc.cast(arr, pa.list_(pa.string()))


def _gold_and_k(
    t: pa.Table, f: Path, choices: pa.Array, gold_index, query
) -> tuple[pa.Array, pa.Array]:
    """Gold letter and k per row.

    gold: the letter of `gold_index`, or (lighteval <= 0.10 generation, where gold_index and
    choices are left empty) the stored `gold` string. k: number of choices, else the number of
    `A) ...` option lines in the query (the study's prompt format), else null (unknown).
    """
    n_listed = pc.cast(pc.fill_null(pc.list_value_length(choices), 0), pa.int64())
    n_lines = pc.cast(
        pc.count_substring_regex(pc.cast(query, pa.string()), _OPTION_LINE), pa.int64()
    )
    k = pc.if_else(
        pc.greater(n_listed, 0),
        n_listed,
        pc.if_else(pc.greater_equal(n_lines, 2), n_lines, pa.scalar(None, pa.int64())),
    )
    gold_str = _col(t, "gold")
    from_text = pc.utf8_trim_whitespace(_first_str(gold_str)) if gold_str is not None else None
    has_index = gold_index is not None and (
        not _is_list(gold_index)
        or pc.any(pc.greater(pc.fill_null(pc.list_value_length(gold_index), 0), 0)).as_py()
    )
    if has_index:
        gi = _first_int(gold_index)
        bad = pc.fill_null(pc.greater_equal(gi, pc.fill_null(k, 26)), False)
        if pc.any(bad).as_py():
            i = pc.index(bad, True).as_py()
            raise DataError(
                f"{f}: row {i}: gold_index {gi[i].as_py()} outside the {k[i].as_py()} choices"
            )
        safe = pc.if_else(pc.is_valid(gi), gi, 0)
        letters = pc.if_else(
            pc.is_valid(gi),
            pc.take(pa.array(option_letters(len(LETTERS))), safe),
            pa.scalar(None, pa.string()),
        )
        gold = pc.coalesce(letters, from_text) if from_text is not None else letters
    elif from_text is not None:
        gold = from_text
    else:
        raise DataError(f"{f}: missing field 'gold_index'/'gold' in the details")
    if gold.null_count:
        i = pc.index(pc.is_null(gold), True).as_py()
        raise DataError(f"{f}: row {i}: no gold answer (empty gold_index and gold)")
    return gold, pc.cast(k, pa.int32())


def _is_list(col) -> bool:
    return pa.types.is_list(col.type) or pa.types.is_large_list(col.type)


def _first_int(col: pa.ChunkedArray) -> pa.Array:
    """gold_index is an int or a list of ints (first = the gold); empty list -> null."""
    arr = col.combine_chunks()
    if _is_list(arr):
        arr = _first_element(arr)
    return pc.cast(arr, pa.int64())


def _first_element(arr: pa.Array) -> pa.Array:
    empty = pc.fill_null(pc.equal(pc.list_value_length(arr), 0), True)
    return pc.list_element(pc.if_else(empty, pa.scalar(None, arr.type), arr), 0)


def _first_str(col: pa.ChunkedArray) -> pa.Array:
    arr = col.combine_chunks()
    if _is_list(arr):
        arr = _first_element(arr)
    return pc.cast(arr, pa.string())


def _is_loglik(t: pa.Table) -> bool:
    """Loglikelihood tasks: one logprob per option and no generated text."""
    lp = _col(t, "model_response.logprobs")
    text = _col(t, "model_response.text")
    if lp is None:
        return False
    lp_len = pc.list_value_length(lp)
    n_ch = pc.list_value_length(_col(t, "doc.choices"))
    has_lp = pc.all(pc.equal(pc.fill_null(lp_len, 0), n_ch)).as_py()
    no_text = (
        text is None or pc.all(pc.equal(pc.fill_null(pc.list_value_length(text), 0), 0)).as_py()
    )
    return bool(has_lp and no_text)
