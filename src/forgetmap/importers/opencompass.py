"""OpenCompass importer: `predictions/<model>/<dataset>.json` (+ `results/<model>/<dataset>.json`).

An OpenCompass run (`outputs/default/<timestamp>/`) writes per-sample predictions as one JSON
object per dataset keyed by the sample index: `{"0": {"origin_prompt", "prediction", "gold"}}`
(PPL/loglikelihood inferencers add one `"label: X"` entry per option and `prediction` is the
chosen label). Large datasets are split into `<dataset>_0.json`, `<dataset>_1.json`, ... The
evaluation step writes `results/<model>/<dataset>.json` with the score and, with eval details
on, per-sample `details` (`pred`, `correct` / `is_correct`).

A dataset run with `n` > 1 (several samples per item, e.g. for G-Pass@k) is the test set
repeated n times: predictions 0..N-1 are replica 0, N..2N-1 replica 1, ...; the evaluation
groups the details per item with one list entry per replica.

Mapping: model = the model abbr (folder), task = the dataset abbr (verbatim), item_id = the
sample index within the test set (verbatim), seed = the seed label (docs/importers.md) of the
sampling seed (OpenCompass records none: labelled 0, or --seed) and the replica, gold = `gold`,
response = `prediction`, pred/correct from the results `details` when present, else pred =
prediction and correct = (prediction == gold) — the AccEvaluator rule.
"""

from __future__ import annotations

import re
from collections import defaultdict
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
    read_json,
    resolve_seed,
    rule,
    seed_label,
    slug_run,
    text_hash,
    to_records,
)
from forgetmap.records import check_unique_keys

PART_RE = re.compile(r"^(?P<base>.+)_(?P<part>\d+)$")


def import_opencompass(
    path: str | Path, model: str | None = None, seed: int | None = None, strict: bool = False
) -> ImportBatch:
    """Import every `predictions/<model>/<dataset>.json` under `path` (or the one file).

    A model's run that cannot be imported is refused (listed in the result's `refused`)
    without stopping the others, unless `strict`."""
    files = find_logs(path, ["*.json"], "OpenCompass")
    files = [f for f in files if f.parent.parent.name == "predictions"]
    if not files:
        raise ForgetmapError(
            f"no OpenCompass predictions found under {path} (looked for predictions/<model>/<dataset>.json)"
        )
    by_model: dict[tuple[Path, str], dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for f in files:
        stem = f.stem
        m = PART_RE.match(stem)
        dataset = m["base"] if m and _is_split(f, m["base"]) else stem
        by_model[(f.parent.parent.parent, f.parent.name)][dataset].append(f)
    return collect_runs(
        sorted(by_model),
        lambda key: [_import_model(key[0], key[1], by_model[key], model, seed)],
        lambda key: str(key[0] / "predictions" / key[1]),
        strict=strict,
    )


def _import_model(
    run_root: Path,
    abbr: str,
    datasets: dict[str, list[Path]],
    model: str | None,
    seed: int | None,
) -> ImportedRun:
    run_model = model or abbr
    run_seed, seed_source, notes = resolve_seed(
        seed, None, "", str(run_root / "predictions" / abbr)
    )
    tables, srcs, infos = [], [], {}
    for dataset, parts in sorted(datasets.items()):
        res_path = run_root / "results" / abbr / f"{dataset}.json"
        details = _details(res_path) if res_path.exists() else None
        t, info = _import_dataset(
            sorted(parts, key=_part_no), dataset, run_model, run_seed, details
        )
        tables.append(t)
        infos[dataset] = info
        srcs += parts + ([res_path] if res_path.exists() else [])
    table = pa.concat_tables(tables)
    check_unique_keys(table, str(run_root))
    return ImportedRun(
        model=run_model,
        run_id=slug_run(f"opencompass-{run_root.name}-{file_digest(srcs)}"),
        table=table,
        manifest={
            "tool": "opencompass",
            "source_files": [str(s) for s in srcs],
            "seed": run_seed,
            "seed_source": seed_source,
            "seeds_recorded": {},
            "scorers": {d: i["scorer"] for d, i in infos.items()},
            "datasets": infos,
            "model_abbr": abbr,
        },
        sources=[str(s) for s in srcs],
        notes=notes,
    )


def _is_split(f: Path, base: str) -> bool:
    """`<base>_N.json` is a part of a split dataset when `<base>_0.json` exists beside it."""
    return (f.parent / f"{base}_0.json").exists()


def _part_no(p: Path) -> int:
    m = PART_RE.match(p.stem)
    return int(m["part"]) if m else 0


def _details(res_path: Path) -> list[dict[str, Any]] | None:
    body = read_json(res_path)
    det = body.get("details") if isinstance(body, dict) else None
    if det is None:
        return None
    if isinstance(det, dict):  # {"type": "PPL", "0": {...}, "1": {...}} in OpenCompass 0.5
        det = [det[k] for k in sorted((k for k in det if str(k).isdigit()), key=int)]
    if not isinstance(det, list):
        raise DataError(f"{res_path}: 'details' is neither a list nor an object")
    return det


def _as_bool(c: Any, where: str) -> bool:
    """The details' verdict: a bool, a list of them (first), or "True"/"False" strings (0.5.x)."""
    if isinstance(c, list):
        c = c[0] if c else False
    if isinstance(c, bool):
        return c
    if isinstance(c, int | float):
        return float(c) >= 1.0
    if isinstance(c, str) and c.strip().lower() in ("true", "false"):
        return c.strip().lower() == "true"
    raise DataError(f"{where}: result details have no readable 'correct'/'is_correct' (got {c!r})")


def _replicas(prompts: list[Any], details: list[dict[str, Any]] | None) -> int:
    """How many times the test set was repeated (OpenCompass `n`): from grouped details (one
    list entry per replica), else from the predictions themselves (n identical copies)."""
    m = len(prompts)
    if details and len(details) < m:  # grouped per item: one list entry per replica
        return m // len(details) if m % len(details) == 0 else 1
    for n in range(m, 1, -1):  # largest n whose n blocks of prompts are identical
        if m % n == 0:
            size = m // n
            if all(prompts[i] == prompts[i % size] for i in range(size, m)):
                return n
    return 1


def _detail_for(d: dict[str, Any], replica: int, n: int, where: str) -> dict[str, Any]:
    """One replica's entries of a grouped detail (each field a list of n values)."""
    if n == 1:
        return d
    out = {}
    for k, v in d.items():
        if isinstance(v, list) and len(v) == n:
            out[k] = v[replica]
        elif k in ("correct", "is_correct", "pred", "predictions"):
            raise DataError(
                f"{where}: details field {k!r} does not hold one value per replica ({n})"
            )
        else:
            out[k] = v
    return out


def _first(v: Any) -> Any:
    return (v[0] if v else None) if isinstance(v, list) else v


def _import_dataset(parts: list[Path], dataset: str, model: str, seed: int, details):
    rows: list[tuple[int, dict[str, Any], Path]] = []
    offset = 0
    for p in parts:
        body = read_json(p)
        if not isinstance(body, dict):
            raise DataError(f"{p}: expected a JSON object keyed by sample index")
        keys = sorted(body, key=lambda k: int(k) if str(k).isdigit() else k)
        for k in keys:
            v = body[k]
            if not isinstance(v, dict):
                raise DataError(f"{p}: sample {k!r} is not an object")
            if not str(k).isdigit():
                raise DataError(f"{p}: sample key {k!r} is not an index")
            rows.append((int(k) + offset, v, p))
        offset += len(keys)
    n = _replicas([v.get("origin_prompt") for _, v, _ in rows], details)
    size = len(rows) // n
    if details is not None and len(details) not in (len(rows), size):
        raise DataError(
            f"{parts[0].parent}: {dataset}: {len(rows)} predictions but {len(details)} result details"
        )
    scorer = "eval-details" if details is not None else "prediction==gold"
    cols: dict[str, list[Any]] = defaultdict(list)
    for i, (idx, v, p) in enumerate(rows):
        where = f"{p}: sample {idx}"
        if "prediction" not in v:
            raise DataError(f"{where}: missing field 'prediction'")
        if "gold" not in v:
            raise DataError(f"{where}: missing field 'gold'")
        replica, item = divmod(idx, size) if n > 1 else (0, idx)
        pred_raw, gold = v["prediction"], v["gold"]
        labels = [k[len("label: ") :] for k in v if k.startswith("label: ")]
        response = (
            pred_raw if isinstance(pred_raw, str) else (None if pred_raw is None else str(pred_raw))
        )
        if details is not None:
            d = details[i] if len(details) == len(rows) else details[item]
            d = _detail_for(d, replica, n if len(details) == size else 1, where)
            pred = d.get("pred", d.get("predictions", response))
            verdict = d.get("correct", d.get("is_correct"))
            if verdict is None and "references" in d:  # AccEvaluator (0.5.4): no verdict logged
                verdict = str(_first(pred)).strip() == str(_first(d["references"])).strip()
            c = _as_bool(verdict, where)
            if isinstance(pred, list):
                pred = pred[0] if pred else None
        else:
            c = response is not None and str(response).strip() == str(gold).strip()
            pred = response
        pred = None if pred is None or str(pred).strip() == "" else str(pred).strip()
        cols["item_id"].append(str(item))
        cols["seed"].append(seed_label(seed, replica, where))
        cols["gold"].append(str(gold))
        cols["pred"].append(pred)
        cols["extract_status"].append("ok" if pred is not None else "no_answer")
        cols["correct"].append(bool(c))
        cols["response"].append(response)
        cols["n_choices"].append(len(labels) if labels else None)
        cols["prompt_hash"].append(text_hash([v.get("origin_prompt")]))
        cols["elicitation"].append(elicitation_for(bool(labels), None))
    m = len(rows)
    cols.update(
        model=[model] * m,
        task=[dataset] * m,
        extract_rule=[rule("opencompass", "logged", scorer)] * m,
    )
    info = {"scorer": scorer, "replicas": n, "items": size}
    return to_records(dict(cols), source=str(parts[0])), info
