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
stores no native id otherwise); gold = letter of `gold_index`; n_choices = number of choices;
response = the first generation; correct = the metric (`extractive_match` by default, else the
only/first metric); pred = argmax of the option logprobs for loglikelihood tasks, else left to
`--reextract` (lighteval does not store the extracted answer).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    LETTERS,
    ImportedRun,
    check_unique_keys,
    elicitation_for,
    file_digest,
    find_logs,
    hash_rows,
    predicted_index,
    read_json,
    slug_run,
    to_records,
)
from forgetmap.letters import option_letters

DETAILS_RE = re.compile(r"^details_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T[\d\-:.]+)\.parquet$")
RESULTS_RE = re.compile(r"^results_(?P<ts>\d{4}-\d{2}-\d{2}T[\d\-:.]+)\.json$")
PREFERRED_METRICS = (
    "extractive_match",
    "acc",
    "loglikelihood_acc",
    "em",
    "exact_match",
    "quasi_em",
)


def import_lighteval(
    path: str | Path,
    model: str | None = None,
    seed: int | None = None,
    metric: str | None = None,
    task_map: Any = None,
) -> list[ImportedRun]:
    """Import every lighteval details file under `path` (or the one file `path`).

    `task_map(name) -> name` optionally rewrites task names (used by the post-forget importer).
    """
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
        res_path = results_index.get(m["ts"])
        results = read_json(res_path) if res_path else {}
        run_model = model or _model_name(results, res_path, f)
        groups[(run_model, m["ts"])].append((m["task"], f))

    runs = []
    for (run_model, ts), tasks in sorted(groups.items()):
        res_path = results_index.get(ts)
        results = read_json(res_path) if res_path else {}
        general = results.get("config_general") or {}
        gen = _generation_parameters(general)
        run_seed = seed if seed is not None else gen.get("seed")
        if run_seed is None:
            where = res_path or tasks[0][1]
            raise ForgetmapError(
                f"{where}: no sampling seed (config_general.generation_parameters.seed) for run "
                f"{ts}; pass --seed N"
            )
        chat = _chat_template(general)
        tables = [
            _import_details(
                f, task_map(task) if task_map else task, run_model, int(run_seed), chat, metric
            )
            for task, f in sorted(tasks)
        ]
        table = pa.concat_tables(tables)
        srcs = [f for _, f in tasks] + ([res_path] if res_path else [])
        check_unique_keys(table, f"lighteval run {ts}")
        runs.append(
            ImportedRun(
                model=run_model,
                run_id=slug_run(f"lighteval-{ts}-{file_digest(srcs)}"),
                table=table,
                manifest={
                    "tool": "lighteval",
                    "tool_version": general.get("lighteval_sha")
                    or general.get("lighteval_version"),
                    "source_files": [str(s) for s in srcs],
                    "seed": int(run_seed),
                    "generation_parameters": gen,
                    "chat_template_applied": chat,
                    "timestamp": ts,
                },
                sources=[str(s) for s in srcs],
            )
        )
    return runs


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


def _import_details(
    f: Path, task: str, model: str, seed: int, chat: bool | None, metric: str | None
) -> pa.Table:
    raw = _read(f)
    if raw.num_rows == 0:
        raise DataError(f"{f}: the details file has no rows")
    t = raw.flatten()
    new_layout = "doc" in raw.column_names
    metric_prefix = "metric." if new_layout else "metrics."
    metric_cols = [c[len(metric_prefix) :] for c in t.column_names if c.startswith(metric_prefix)]
    if not metric_cols:
        raise DataError(f"{f}: missing field '{metric_prefix.rstrip('.')}' (no per-sample metric)")
    name = metric or next((m for m in PREFERRED_METRICS if m in metric_cols), metric_cols[0])
    if name not in metric_cols:
        raise ForgetmapError(f"{f}: no metric {name!r} (has: {', '.join(metric_cols)})")
    value = pc.cast(t.column(metric_prefix + name), pa.float64())
    if value.null_count:
        i = pc.index(pc.is_null(value), True).as_py()
        raise DataError(f"{f}: row {i}: metric '{name}' is empty")
    correct = pc.greater_equal(value, 0.5)

    choices = _col(t, "doc.choices", "choices")
    gold_index = _col(t, "doc.gold_index", "gold_index")
    query = _col(t, "doc.query", "example")
    if choices is None or query is None:
        raise DataError(f"{f}: missing field 'choices'/'query' in the details")
    choices = _as_string_lists(choices)
    gold, n_choices = _gold_and_k(t, f, choices, gold_index, query)
    texts = _col(t, "model_response.text", "predictions")
    response = _first_str(texts) if texts is not None else pa.nulls(t.num_rows, pa.string())
    ids = _col(t, "doc.id")
    hashed = hash_rows([pc.cast(query, pa.string()), choices])
    if ids is not None:
        ids = pc.cast(ids, pa.string())
        item_id = pc.if_else(pc.fill_null(pc.not_equal(ids, ""), False), ids, pa.array(hashed))
    else:
        item_id = pa.array(hashed)
    prompt = _col(t, "full_prompt", "model_response.input", "doc.query", "example")
    prompt_hash = hash_rows([pc.cast(prompt, pa.string())])

    loglik = _is_loglik(t)
    n = t.num_rows
    if chat is None:
        chat = _chat_from_prompts(t)
    if loglik:
        lp = _col(t, "model_response.logprobs")
        idx = predicted_index(lp.to_pylist())
        pred = [None if i is None else LETTERS[i] for i in idx]
        status = ["ok" if p is not None else "no_answer" for p in pred]
        rule = ["argmax_loglik"] * n
    else:
        # lighteval <= 0.10 keeps its own extraction in specifics.extracted_predictions
        extracted = _col(t, "specifics.extracted_predictions", "doc.specific.extracted_predictions")
        if extracted is not None and name == "extractive_match":
            first = _first_str(extracted)
            ok = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(first), ""), False)
            pred = pc.if_else(ok, pc.utf8_trim_whitespace(first), pa.scalar(None, pa.string()))
            status = pc.if_else(ok, "ok", "no_answer")
            rule = ["lighteval:extractive_match"] * n
        else:
            pred, status, rule = [None] * n, [None] * n, [None] * n
    return to_records(
        {
            "model": [model] * n,
            "task": [task] * n,
            "item_id": item_id,
            "seed": [seed] * n,
            "n_choices": n_choices,
            "gold": gold,
            "pred": pred if isinstance(pred, pa.Array) else pa.array(pred, pa.string()),
            "extract_status": status
            if isinstance(status, pa.Array)
            else pa.array(status, pa.string()),
            "extract_rule": pa.array(rule, pa.string()),
            "correct": correct,
            "response": response,
            "prompt_hash": prompt_hash,
            "elicitation": [elicitation_for(loglik, chat)] * n,
            "question": pc.cast(query, pa.string()),
            "choices": choices,
        },
        source=str(f),
    )


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
