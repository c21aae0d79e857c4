"""OpenCompass importer: `predictions/<model>/<dataset>.json` (+ `results/<model>/<dataset>.json`).

An OpenCompass run (`outputs/default/<timestamp>/`) writes per-sample predictions as one JSON
object per dataset keyed by the sample index: `{"0": {"origin_prompt", "prediction", "gold"}}`
(PPL/loglikelihood inferencers add one `"label: X"` entry per option and `prediction` is the
chosen label). Large datasets are split into `<dataset>_0.json`, `<dataset>_1.json`, ... The
evaluation step writes `results/<model>/<dataset>.json` with the score and, with eval details
on, per-sample `details` (`pred`, `correct` / `is_correct`).

Mapping: model = the model abbr (folder), task = the dataset abbr (verbatim), item_id = the
sample index (verbatim), seed = 0 (OpenCompass records no per-run sampling seed; use --seed),
gold = `gold`, response = `prediction`, pred/correct from the results `details` when present,
else pred = prediction and correct = (prediction == gold) — the AccEvaluator rule.
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
    read_json,
    slug_run,
    text_hash,
    to_records,
)

PART_RE = re.compile(r"^(?P<base>.+)_(?P<part>\d+)$")


def import_opencompass(
    path: str | Path, model: str | None = None, seed: int | None = None
) -> list[ImportedRun]:
    """Import every `predictions/<model>/<dataset>.json` under `path` (or the one file)."""
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

    runs = []
    for (run_root, abbr), datasets in sorted(by_model.items()):
        run_model = model or abbr
        tables, srcs = [], []
        for dataset, parts in sorted(datasets.items()):
            res_path = run_root / "results" / abbr / f"{dataset}.json"
            details = _details(res_path) if res_path.exists() else None
            tables.append(
                _import_dataset(sorted(parts, key=_part_no), dataset, run_model, seed or 0, details)
            )
            srcs += parts + ([res_path] if res_path.exists() else [])
        table = pa.concat_tables(tables)
        check_unique_keys(table, str(run_root))
        runs.append(
            ImportedRun(
                model=run_model,
                run_id=slug_run(f"opencompass-{run_root.name}-{file_digest(srcs)}"),
                table=table,
                manifest={
                    "tool": "opencompass",
                    "source_files": [str(s) for s in srcs],
                    "seed": seed or 0,
                    "model_abbr": abbr,
                },
                sources=[str(s) for s in srcs],
            )
        )
    return runs


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


def _import_dataset(parts: list[Path], dataset: str, model: str, seed: int, details):
    rows: list[tuple[str, dict[str, Any], Path]] = []
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
            idx = str(int(k) + offset) if str(k).isdigit() and len(parts) > 1 else str(k)
            rows.append((idx, v, p))
        offset += len(keys)
    if details is not None and len(details) != len(rows):
        raise DataError(
            f"{parts[0].parent}: {dataset}: {len(rows)} predictions but {len(details)} result details"
        )
    cols: dict[str, list[Any]] = defaultdict(list)
    for i, (idx, v, p) in enumerate(rows):
        where = f"{p}: sample {idx}"
        if "prediction" not in v:
            raise DataError(f"{where}: missing field 'prediction'")
        if "gold" not in v:
            raise DataError(f"{where}: missing field 'gold'")
        pred_raw, gold = v["prediction"], v["gold"]
        labels = [k[len("label: ") :] for k in v if k.startswith("label: ")]
        response = (
            pred_raw if isinstance(pred_raw, str) else (None if pred_raw is None else str(pred_raw))
        )
        if details is not None:
            d = details[i]
            c = _as_bool(d.get("correct", d.get("is_correct")), where)
            pred = d.get("pred", d.get("predictions", response))
            if isinstance(pred, list):
                pred = pred[0] if pred else None
        else:
            c = response is not None and str(response).strip() == str(gold).strip()
            pred = response
        pred = None if pred is None or str(pred).strip() == "" else str(pred).strip()
        cols["item_id"].append(idx)
        cols["gold"].append(str(gold))
        cols["pred"].append(pred)
        cols["extract_status"].append("ok" if pred is not None else "no_answer")
        cols["correct"].append(bool(c))
        cols["response"].append(response)
        cols["n_choices"].append(len(labels) if labels else None)
        cols["prompt_hash"].append(text_hash([v.get("origin_prompt")]))
        cols["elicitation"].append(elicitation_for(bool(labels), None))
    n = len(rows)
    cols.update(
        model=[model] * n,
        task=[dataset] * n,
        seed=[seed] * n,
        extract_rule=["opencompass:details" if details is not None else "opencompass:prediction"]
        * n,
    )
    return to_records(dict(cols), source=str(parts[0]))
