"""lm-evaluation-harness importer: `samples_<task>_<date>.jsonl` (+ `results_<date>.json`).

`lm_eval --log_samples --output_path OUT` writes, per model, `OUT/<model>/results_<date>.json`
(config, model args, seeds, task configs) and one `samples_<task>_<date>.jsonl` per task with one
line per (doc, filter): `doc_id`, `doc`, `target`, `arguments`, `resps`, `filtered_resps`,
`filter`, `metrics` and each metric's value.

Mapping: task = the file's task name (verbatim); item_id = `doc_id` (verbatim); seed = the run's
`random_seed` (override with `seed=`); multiple-choice (loglikelihood) tasks: pred = the option
with the highest loglikelihood, gold = the target option, n_choices = number of options,
correct = the tool's `acc` (elicitation `loglik`); generation tasks: response = the raw
generation, pred = the filtered answer, correct = `exact_match` (or the first metric).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    ImportedRun,
    check_unique_keys,
    elicitation_for,
    file_digest,
    find_logs,
    iter_jsonl,
    letter,
    need,
    predicted_index,
    read_json,
    slug_run,
    to_records,
)

SAMPLES_RE = re.compile(r"^samples_(?P<task>.+)_(?P<ts>\d{4}-\d{2}-\d{2}T[\d.\-:]+)\.jsonl$")
RESULTS_RE = re.compile(r"^results_(?P<ts>\d{4}-\d{2}-\d{2}T[\d.\-:]+)\.json$")
INVALID_MARKERS = ("", "[invalid]")


def import_lm_eval(
    path: str | Path,
    model: str | None = None,
    seed: int | None = None,
    metric: str | None = None,
    filter_name: str | None = None,
) -> list[ImportedRun]:
    """Import every lm-eval samples file under `path` (or the one file `path`)."""
    files = find_logs(path, ["samples_*.jsonl"], "lm-evaluation-harness")
    groups: dict[tuple[Path, str], list[tuple[str, Path]]] = defaultdict(list)
    for f in files:
        m = SAMPLES_RE.match(f.name)
        if not m:
            raise ForgetmapError(
                f"{f}: not an lm-eval samples file (expected samples_<task>_<date>.jsonl)"
            )
        groups[(f.parent, m["ts"])].append((m["task"], f))

    runs: list[ImportedRun] = []
    for (folder, ts), tasks in sorted(groups.items()):
        results_path = _results_for(folder, ts)
        results = read_json(results_path) if results_path else {}
        run_model = model or _model_name(results, results_path, folder)
        run_seed = seed if seed is not None else _seed(results)
        chat = bool(results.get("chat_template")) if results else None
        tables = []
        used_filters: dict[str, str] = {}
        for task, f in sorted(tasks):
            cfg = (results.get("configs") or {}).get(task, {}) if results else {}
            category = _category(results, task)
            t, used = _import_samples(
                f, task, run_model, run_seed, cfg, category, chat, metric, filter_name
            )
            used_filters[task] = used
            tables.append(t)
        table = pa.concat_tables(tables)
        srcs = [f for _, f in tasks] + ([results_path] if results_path else [])
        check_unique_keys(table, str(folder))
        cfg_general = results.get("config", {}) if results else {}
        runs.append(
            ImportedRun(
                model=run_model,
                run_id=slug_run(f"lm-eval-{ts}-{file_digest(srcs)}"),
                table=table,
                manifest={
                    "tool": "lm-eval",
                    "tool_version": results.get("lm_eval_version") if results else None,
                    "source_files": [str(s) for s in srcs],
                    "seed": run_seed,
                    "filters": used_filters,
                    "model_args": cfg_general.get("model_args"),
                    "gen_kwargs": cfg_general.get("gen_kwargs"),
                    "chat_template_applied": chat,
                    "date": ts,
                },
                sources=[str(s) for s in srcs],
            )
        )
    return runs


def _results_for(folder: Path, ts: str) -> Path | None:
    exact = folder / f"results_{ts}.json"
    if exact.exists():
        return exact
    cands = sorted(p for p in folder.glob("results_*.json") if RESULTS_RE.match(p.name))
    return cands[-1] if len(cands) == 1 else None


def _model_name(results: dict[str, Any], results_path: Path | None, folder: Path) -> str:
    """`pretrained=` of the model args, else `model_name`; never guessed from a folder name."""
    cfg = results.get("config") or {}
    args = cfg.get("model_args")
    if isinstance(args, str):
        for part in args.split(","):
            k, _, v = part.partition("=")
            if k.strip() in ("pretrained", "model", "path") and v.strip():
                return v.strip()
    elif isinstance(args, dict):
        for k in ("pretrained", "model", "path"):
            if args.get(k):
                return str(args[k])
    if results.get("model_name"):
        return str(results["model_name"])
    where = results_path or folder
    raise ForgetmapError(
        f"{where}: cannot tell the model name (no results_*.json with model_args); pass --model NAME"
    )


def _seed(results: dict[str, Any]) -> int:
    cfg = results.get("config") or {}
    s = cfg.get("random_seed")
    return int(s) if isinstance(s, int) else 0


def _category(results: dict[str, Any], task: str) -> str | None:
    """Innermost lm-eval group containing the task (e.g. `mmlu_stem`), verbatim; else None."""
    subtasks = results.get("group_subtasks") if results else None
    if not isinstance(subtasks, dict):
        return None
    parents = [g for g, members in subtasks.items() if task in (members or [])]
    return parents[0] if parents else None


def _import_samples(
    f: Path,
    task: str,
    model: str,
    seed: int,
    cfg: dict[str, Any],
    category: str | None,
    chat: bool | None,
    metric: str | None,
    filter_name: str | None,
):
    rows = list(iter_jsonl(f))
    if not rows:
        raise DataError(f"{f}: no samples in the file")
    filters = list(dict.fromkeys(str(o.get("filter", "none")) for _, o in rows))
    use = filter_name if filter_name is not None else filters[0]
    if use not in filters:
        raise ForgetmapError(f"{f}: filter {use!r} not in this file (has: {', '.join(filters)})")
    rows = [(n, o) for n, o in rows if str(o.get("filter", "none")) == use]
    output_type = cfg.get("output_type")
    if (
        output_type is None
    ):  # infer from the first row: loglikelihood rows hold [ll, is_greedy] pairs
        fr = need(rows[0][1], "filtered_resps", f"{f}:{rows[0][0]}")
        output_type = "multiple_choice" if fr and isinstance(fr[0], list) else "generate_until"
    mc = output_type == "multiple_choice"
    if output_type not in ("multiple_choice", "generate_until"):
        raise ForgetmapError(
            f"{f}: lm-eval output_type {output_type!r} is not per-item scoreable "
            "(supported: multiple_choice, generate_until)"
        )

    cols: dict[str, list[Any]] = defaultdict(list)
    score_rows: list[list[float]] = []
    for lineno, o in rows:
        where = f"{f}:{lineno}"
        doc_id = need(o, "doc_id", where)
        metrics = o.get("metrics") or []
        name = metric or ("acc" if mc else ("exact_match" if "exact_match" in metrics else None))
        if name is None:
            if not metrics:
                raise DataError(f"{where}: missing field 'metrics'")
            name = metrics[0]
        value = need(o, name, where)
        cols["item_id"].append(str(doc_id))
        cols["correct"].append(bool(float(value) >= 0.5) if value is not None else None)
        cols["prompt_hash"].append(o.get("prompt_hash"))
        doc = o.get("doc") if isinstance(o.get("doc"), dict) else {}
        q = doc.get("question")
        cols["question"].append(q if isinstance(q, str) else None)
        target = need(o, "target", where)
        if mc:
            args = need(o, "arguments", where)
            choices = (
                [str(a.get("arg_1", "")).strip() for a in args.values()]
                if isinstance(args, dict)
                else []
            )
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
            cols["gold"].append(_gold_mc(target, choices, where))
            cols["extract_status"].append("ok")
        else:
            resps = need(o, "resps", where)
            raw = _first_text(resps)
            pred = _first_text(o.get("filtered_resps"))
            cols["response"].append(raw)
            bad = pred is None or pred.strip() in INVALID_MARKERS
            cols["pred"].append(None if bad else pred.strip())
            cols["extract_status"].append("no_answer" if bad else "ok")
            cols["gold"].append(str(target) if not isinstance(target, list) else str(target[0]))
            doc_choices = _doc_choices(doc)
            cols["n_choices"].append(len(doc_choices) if doc_choices else None)
            cols["choices"].append(doc_choices)
    n = len(rows)
    if mc:
        idx = predicted_index(score_rows)
        cols["pred"] = [None if i is None else letter(i, str(f)) for i in idx]
        cols["response"] = [
            None if i is None else ch[i] for i, ch in zip(idx, cols["choices"], strict=True)
        ]
        cols["extract_rule"] = ["argmax_loglik"] * n
    else:
        cols["extract_rule"] = [f"lm-eval-filter:{use}"] * n
    cols.update(
        model=[model] * n,
        task=[task] * n,
        seed=[seed] * n,
        category=[category] * n,
        elicitation=[elicitation_for(mc, chat)] * n,
    )
    return to_records(dict(cols), source=str(f)), use


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


def _first_text(resps: Any) -> str | None:
    """resps [["text"]] / filtered_resps ["text"] -> "text"."""
    while isinstance(resps, list):
        if not resps:
            return None
        resps = resps[0]
    return None if resps is None else str(resps)
