"""HELM importer: run directories of `helm-run` (`benchmark_output/runs/<suite>/<run_name>/`).

Each run directory holds `run_spec.json` (name, adapter_spec with model and method),
`instances.json` (id, input, references with the `correct` tag) and
`display_predictions.json` (one entry per instance and trial: instance_id, train_trial_index,
predicted_text, mapped_output, stats with the per-instance metrics such as exact_match).

Mapping: model = adapter_spec.model; task = the run name without its model arguments
(`mmlu:subject=anatomy,method=multiple_choice_joint`), so runs of two models pair up;
item_id = instance id (verbatim); seed = train_trial_index; gold = letter of the reference
tagged `correct`; n_choices = number of references; pred = predicted_text (the letter for
multiple_choice_joint); correct = the `exact_match` stat (or `--metric`).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    LETTERS,
    ImportedRun,
    check_unique_keys,
    elicitation_for,
    file_digest,
    find_logs,
    read_json,
    slug_run,
    text_hash,
    to_records,
)
from forgetmap.letters import option_letters

MODEL_ARGS = ("model", "model_deployment")


def import_helm(
    path: str | Path, model: str | None = None, seed: int | None = None, metric: str | None = None
) -> list[ImportedRun]:
    """Import every HELM run directory (one holding run_spec.json) under `path`."""
    p = Path(path)
    if p.is_file():
        p = p.parent
    specs = find_logs(p, ["run_spec.json"], "HELM")
    by_model: dict[str, list[pa.Table]] = defaultdict(list)
    srcs: dict[str, list[Path]] = defaultdict(list)
    for spec_path in specs:
        run_dir = spec_path.parent
        table, run_model, files = _import_run(run_dir, model, seed, metric)
        by_model[run_model].append(table)
        srcs[run_model] += files
    runs = []
    for run_model, tables in sorted(by_model.items()):
        table = pa.concat_tables(tables)
        check_unique_keys(table, str(p))
        runs.append(
            ImportedRun(
                model=run_model,
                run_id=slug_run(f"helm-{file_digest(srcs[run_model])}"),
                table=table,
                manifest={"tool": "helm", "source_files": [str(s) for s in srcs[run_model]]},
                sources=[str(s) for s in srcs[run_model]],
            )
        )
    return runs


def task_name(run_name: str) -> str:
    """`mmlu:subject=anatomy,method=multiple_choice_joint,model=openai_gpt2` ->
    `mmlu:subject=anatomy,method=multiple_choice_joint`."""
    head, sep, args = run_name.partition(":")
    if not sep:
        return run_name
    kept = [a for a in args.split(",") if a.split("=", 1)[0] not in MODEL_ARGS]
    return f"{head}:{','.join(kept)}" if kept else head


def _import_run(run_dir: Path, model: str | None, seed: int | None, metric: str | None):
    spec_path = run_dir / "run_spec.json"
    inst_path = run_dir / "instances.json"
    pred_path = run_dir / "display_predictions.json"
    for f in (inst_path, pred_path):
        if not f.exists():
            raise ForgetmapError(f"{run_dir}: HELM run directory without {f.name}")
    spec = read_json(spec_path)
    if not isinstance(spec, dict) or "name" not in spec:
        raise DataError(f"{spec_path}: missing field 'name'")
    adapter = spec.get("adapter_spec") or {}
    run_model = model or adapter.get("model") or adapter.get("model_deployment")
    if not run_model:
        raise DataError(f"{spec_path}: missing field 'adapter_spec.model'; pass --model NAME")
    method = str(adapter.get("method", ""))
    loglik = method.startswith("multiple_choice_separate")
    instances = read_json(inst_path)
    preds = read_json(pred_path)
    if not isinstance(instances, list) or not isinstance(preds, list):
        raise DataError(
            f"{run_dir}: instances.json and display_predictions.json must be JSON lists"
        )
    by_id: dict[str, dict[str, Any]] = {}
    for i, inst in enumerate(instances):
        if not isinstance(inst, dict) or "id" not in inst:
            raise DataError(f"{inst_path}: instance {i}: missing field 'id'")
        if inst.get("perturbation"):
            continue  # perturbed copies share ids; keep the original instance
        by_id[str(inst["id"])] = inst

    cols: dict[str, list[Any]] = defaultdict(list)
    for i, d in enumerate(preds):
        where = f"{pred_path}: prediction {i}"
        if not isinstance(d, dict) or "instance_id" not in d:
            raise DataError(f"{where}: missing field 'instance_id'")
        if d.get("perturbation"):
            continue
        iid = str(d["instance_id"])
        inst = by_id.get(iid)
        if inst is None:
            raise DataError(f"{where}: instance {iid!r} not in {inst_path.name}")
        stats = d.get("stats") or {}
        name = metric or next((m for m in ("exact_match", "quasi_exact_match") if m in stats), None)
        if name is None or name not in stats:
            raise DataError(f"{where}: missing field 'stats.{metric or 'exact_match'}'")
        refs = inst.get("references") or []
        gold_idx = [j for j, r in enumerate(refs) if "correct" in (r.get("tags") or [])]
        if not gold_idx:
            raise DataError(f"{inst_path}: instance {iid!r}: no reference tagged 'correct'")
        text = d.get("predicted_text")
        pred = None if text is None or str(text).strip() == "" else str(text).strip()
        k = len(refs)
        status = (
            "no_answer"
            if pred is None
            else ("ok" if pred in option_letters(k) or loglik else "invalid")
        )
        inp = (inst.get("input") or {}).get("text")
        cols["item_id"].append(iid)
        cols["seed"].append(seed if seed is not None else int(d.get("train_trial_index", 0)))
        cols["gold"].append(LETTERS[gold_idx[0]])
        cols["pred"].append(pred)
        cols["extract_status"].append(status)
        cols["correct"].append(float(stats[name]) >= 0.5)
        cols["response"].append(None if text is None else str(text))
        cols["n_choices"].append(k or None)
        cols["choices"].append([str((r.get("output") or {}).get("text", "")) for r in refs])
        cols["question"].append(inp)
        cols["prompt_hash"].append(text_hash([inp, method]))
    n = len(cols["item_id"])
    if n == 0:
        raise DataError(f"{pred_path}: no predictions")
    cols.update(
        model=[run_model] * n,
        task=[task_name(str(spec["name"]))] * n,
        elicitation=[elicitation_for(loglik, None)] * n,
        extract_rule=[f"helm:{method}"] * n,
    )
    return (
        to_records(dict(cols), source=str(run_dir)),
        str(run_model),
        [spec_path, inst_path, pred_path],
    )
