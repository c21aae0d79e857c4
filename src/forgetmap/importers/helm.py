"""HELM importer: run directories of `helm-run` (`benchmark_output/runs/<suite>/<run_name>/`).

Each run directory holds `run_spec.json` (name, adapter_spec with model and method),
`instances.json` (id, input, references with the `correct` tag) and
`display_predictions.json` (one entry per instance and trial: instance_id, train_trial_index,
predicted_text, mapped_output, stats with the per-instance metrics such as exact_match).

Mapping: model = adapter_spec.model; task = the run name without its model arguments
(`mmlu:subject=anatomy,method=multiple_choice_joint`), so runs of two models pair up;
item_id = instance id (verbatim); seed = the seed label (docs/importers.md) of the sampling seed
(HELM records none: labelled 0, or --seed) and the trial (`train_trial_index`: each trial draws
other in-context examples), so every trial is its own record; gold = letter of the reference
tagged `correct`; n_choices = number of references; pred = predicted_text (the letter for
multiple_choice_joint); correct = the `exact_match` stat (or `--metric`), which must be 0 or 1.
One run directory is one imported run.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    LETTERS,
    ImportBatch,
    ImportedRun,
    collect_runs,
    elicitation_for,
    file_digest,
    find_logs,
    read_json,
    resolve_seed,
    rule,
    seed_label,
    slug_run,
    text_hash,
    to_records,
)
from forgetmap.letters import option_letters
from forgetmap.records import check_unique_keys

MODEL_ARGS = ("model", "model_deployment")


def import_helm(
    path: str | Path,
    model: str | None = None,
    seed: int | None = None,
    metric: str | None = None,
    strict: bool = False,
) -> ImportBatch:
    """Import every HELM run directory (one holding run_spec.json) under `path`.

    A run directory that cannot be imported is refused (listed in the result's `refused`)
    without stopping the others, unless `strict`."""
    p = Path(path)
    if p.is_file():
        p = p.parent
    specs = find_logs(p, ["run_spec.json"], "HELM")
    return collect_runs(
        [s.parent for s in specs],
        lambda d: [_to_run(d, model, seed, metric)],
        str,
        strict=strict,
    )


def _to_run(run_dir: Path, model: str | None, seed: int | None, metric: str | None) -> ImportedRun:
    run_seed, seed_source, notes = resolve_seed(seed, None, "", str(run_dir))
    table, run_model, files, info = _import_run(run_dir, model, run_seed, metric)
    check_unique_keys(table, str(run_dir))
    return ImportedRun(
        model=run_model,
        run_id=slug_run(f"helm-{file_digest(files)}"),
        table=table,
        manifest={
            "tool": "helm",
            "source_files": [str(s) for s in files],
            "seed": run_seed,
            "seed_source": seed_source,
            "seeds_recorded": {},
            "scorers": {info["task"]: info["metric"]},
            "trials": info["trials"],
            "run_name": info["run_name"],
        },
        sources=[str(s) for s in files],
        notes=notes,
    )


def task_name(run_name: str) -> str:
    """`mmlu:subject=anatomy,method=multiple_choice_joint,model=openai_gpt2` ->
    `mmlu:subject=anatomy,method=multiple_choice_joint`."""
    head, sep, args = run_name.partition(":")
    if not sep:
        return run_name
    kept = [a for a in args.split(",") if a.split("=", 1)[0] not in MODEL_ARGS]
    return f"{head}:{','.join(kept)}" if kept else head


def _import_run(run_dir: Path, model: str | None, seed: int, metric: str | None):
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
    metrics_used: set[str] = set()
    trials: set[int] = set()
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
        value = float(stats[name])
        if value not in (0.0, 1.0):
            raise DataError(
                f"{where}: stat '{name}' = {value:g} is not 0 or 1, so it is no per-instance "
                "correctness; choose another with --metric"
            )
        trial = int(d.get("train_trial_index", 0) or 0)
        metrics_used.add(name)
        trials.add(trial)
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
        cols["seed"].append(seed_label(seed, trial, where))
        cols["gold"].append(LETTERS[gold_idx[0]])
        cols["pred"].append(pred)
        cols["extract_status"].append(status)
        cols["correct"].append(value == 1.0)
        cols["response"].append(None if text is None else str(text))
        cols["n_choices"].append(k or None)
        cols["choices"].append([str((r.get("output") or {}).get("text", "")) for r in refs])
        cols["question"].append(inp)
        cols["prompt_hash"].append(text_hash([inp, method]))
    n = len(cols["item_id"])
    if n == 0:
        raise DataError(f"{pred_path}: no predictions")
    task = task_name(str(spec["name"]))
    scorer = "/".join(sorted(metrics_used))
    cols.update(
        model=[run_model] * n,
        task=[task] * n,
        elicitation=[elicitation_for(loglik, None)] * n,
        extract_rule=[rule("helm", "logged", scorer)] * n,
    )
    info = {"task": task, "metric": scorer, "trials": sorted(trials), "run_name": spec["name"]}
    return (
        to_records(dict(cols), source=str(run_dir)),
        str(run_model),
        [spec_path, inst_path, pred_path],
        info,
    )
