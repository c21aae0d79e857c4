"""inspect_ai importer: `.eval` (zip) and `.json` eval logs.

Both formats hold the same EvalLog: a header (`eval`: task, model, generate config, epochs) and
samples (`id`, `epoch`, `input`, `choices`, `target`, `output`, `scores`). A `.eval` file is a zip
with `header.json` and one `samples/<id>_epoch_<n>.json` per sample. inspect_ai itself is not
needed: when it is importable its own reader (`inspect_ai.log.read_eval_log`) is used, otherwise
the files are parsed directly (same JSON either way).

Mapping: task = `eval.task` (verbatim); item_id = sample `id` (verbatim); seed = the seed label
(docs/importers.md) of the generate config's seed and the epoch (epoch 1 of `--seed 7` is 7,
epoch 2 is 10000000007), so every epoch is its own record and runs with different seeds never
share a label; gold = `target`; pred = the scorer's `answer`; correct = the scorer's value is `C`
(or 1/True); response = the model's completion; n_choices = number of `choices` (null for
free-form samples). A log whose run did not finish (status `error`, `cancelled`, `started`) is
refused; the same eval read twice (`.eval` and the `.json` of `inspect log convert`: one
`eval_id`) is imported once.
"""

from __future__ import annotations

import json
import struct
import sys
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import (
    ImportBatch,
    ImportedRun,
    collect_runs,
    elicitation_for,
    file_digest,
    find_logs,
    need,
    read_json,
    resolve_seed,
    rule,
    seed_label,
    slug_run,
    text_hash,
    to_records,
)
from forgetmap.records import check_unique_keys

CORRECT_VALUES = {"C", "c", "correct", "CORRECT"}


FINISHED = "success"


def import_inspect(
    path: str | Path,
    model: str | None = None,
    seed: int | None = None,
    scorer: str | None = None,
    strict: bool = False,
) -> ImportBatch:
    """Import every inspect_ai log (`*.eval`, `*.json`) under `path` (or the one file).

    A log that cannot be imported (unfinished, errored, malformed) is refused and listed in the
    result's `refused` without stopping the others, unless `strict`."""
    files = find_logs(path, ["*.eval", "*.json"], "inspect_ai")
    if Path(path).is_dir():  # in a directory, skip JSON that is not an eval log (e.g. listings)
        files = [f for f in files if f.suffix == ".eval" or _looks_like_log(f)]
        if not files:
            raise ForgetmapError(
                f"no inspect_ai logs found under {path} (looked for *.eval, *.json)"
            )
    batch = collect_runs(
        files, lambda f: [_to_run(f, *load_log(f), model, seed, scorer)], str, strict=strict
    )
    return _once_per_eval(batch)


def _once_per_eval(batch: ImportBatch) -> ImportBatch:
    """Keep one run per inspect `eval_id`: the same eval in two formats (`.eval` and the `.json`
    that `inspect log convert` writes) is one run, not two."""
    kept: dict[str, ImportedRun] = {}
    out = ImportBatch(refused=batch.refused)
    for run in batch:
        eid = run.manifest.get("eval_id")
        if eid and eid in kept:
            first = kept[eid]
            first.notes.append(
                f"{run.sources[0]}: the same inspect eval (eval_id {eid}) as "
                f"{first.sources[0]}, in another format; imported once"
            )
            first.manifest.setdefault("same_eval_files", []).append(run.sources[0])
            continue
        if eid:
            kept[eid] = run
        out.append(run)
    return out


def _looks_like_log(f: Path) -> bool:
    try:
        with f.open(encoding="utf-8") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return '"eval"' in head and ('"version"' in head or '"status"' in head)


def load_log(f: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, samples) of one log as plain JSON dicts."""
    reader = _inspect_reader()
    if reader is not None:
        try:
            log = reader(str(f))
        except Exception as exc:  # noqa: BLE001 - inspect's own errors vary by version
            raise DataError(f"{f}: inspect_ai could not read this log ({exc})") from None
        body = log.model_dump(mode="json", exclude_none=False)
        return body, body.get("samples") or []
    if f.suffix == ".eval":
        return _read_eval_zip(f)
    body = read_json(f)
    if not isinstance(body, dict) or "eval" not in body:
        raise DataError(f"{f}: not an inspect_ai log (missing field 'eval')")
    return body, body.get("samples") or []


def _inspect_reader():
    try:
        from inspect_ai.log import read_eval_log  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - any import failure means: parse directly
        return None
    return read_eval_log


def _read_eval_zip(f: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{f}: not a readable .eval log (zip): {exc}") from None
    with zf:
        names = zf.namelist()

        def load(name: str) -> Any:
            try:
                return json.loads(_member_bytes(zf, f, name))
            except json.JSONDecodeError as exc:
                raise DataError(f"{f}!{name}:{exc.lineno}: malformed JSON ({exc.msg})") from None

        if "header.json" in names:
            header = load("header.json")
        elif "_journal/start.json" in names:  # a log whose run did not finish (or still runs)
            header = {"status": "started", **load("_journal/start.json")}
        else:
            raise DataError(f"{f}: not an inspect_ai .eval log (no header.json inside)")
        sample_names = sorted(n for n in names if n.startswith("samples/") and n.endswith(".json"))
        samples = [load(n) for n in sample_names]
    return header, samples


ZIP_ZSTD = (
    93  # recent inspect_ai writes .eval members with Zstandard; zipfile knows it only from 3.14
)


def _member_bytes(zf: zipfile.ZipFile, f: Path, name: str) -> bytes:
    """A zip member's bytes; Zstandard members are decompressed with Arrow's zstd codec, so
    neither inspect_ai nor a zstd package is needed."""
    info = zf.getinfo(name)
    if info.compress_type != ZIP_ZSTD or sys.version_info >= (3, 14):
        return zf.read(name)
    import pyarrow as pa

    fh = zf.fp
    fh.seek(info.header_offset)
    local = fh.read(30)
    if local[:4] != b"PK\x03\x04":
        raise DataError(f"{f}!{name}: corrupt zip entry")
    start = (
        info.header_offset
        + 30
        + struct.unpack("<H", local[26:28])[0]
        + struct.unpack("<H", local[28:30])[0]
    )
    fh.seek(start)
    data = fh.read(info.compress_size)
    try:
        return pa.Codec("zstd").decompress(data, decompressed_size=info.file_size).to_pybytes()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{f}!{name}: cannot decompress ({exc})") from None


def _to_run(
    f: Path,
    header: dict[str, Any],
    samples: list[dict[str, Any]],
    model: str | None,
    seed: int | None,
    scorer: str | None,
) -> ImportedRun:
    ev = need(header, "eval", str(f))
    task = str(need(ev, "task", f"{f}: eval"))
    run_model = model or str(need(ev, "model", f"{f}: eval"))
    status = header.get("status")
    if status is not None and status != FINISHED:
        err = header.get("error") or {}
        msg = err.get("message") if isinstance(err, dict) else err
        raise DataError(
            f"{f}: the eval did not finish (status {status!r}"
            + (f": {str(msg).splitlines()[0][:200]}" if msg else "")
            + f", {len(samples)} samples logged); not imported"
        )
    if not samples:
        raise DataError(f"{f}: the log has no samples (status: {header.get('status', '?')})")
    gen = ev.get("model_generate_config") or {}
    plan_cfg = (header.get("plan") or {}).get("config") or {}
    recorded = gen.get("seed", plan_cfg.get("seed"))
    base_seed, seed_source, notes = resolve_seed(
        seed, recorded, "model_generate_config.seed", str(f)
    )

    cols: dict[str, list[Any]] = defaultdict(list)
    scorer_used: str | None = None
    for s in samples:
        scorer_used = _add_sample(cols, s, f, scorer, base_seed)
    n = len(cols["item_id"])
    cols.update(
        model=[run_model] * n, task=[task] * n, elicitation=[elicitation_for(False, True)] * n
    )
    table = to_records(dict(cols), source=str(f))
    check_unique_keys(table, str(f))
    versions = ev.get("packages") or {}
    return ImportedRun(
        model=run_model,
        run_id=slug_run(f"inspect-{task}-{file_digest([f])}"),
        table=table,
        manifest={
            "tool": "inspect_ai",
            "tool_version": versions.get("inspect_ai"),
            "source_files": [str(f)],
            "eval_id": ev.get("eval_id"),
            "inspect_run_id": ev.get("run_id"),
            "source_run": f"inspect:{ev['eval_id']}" if ev.get("eval_id") else None,
            "task": task,
            "scorer": scorer_used,
            "scorers": {task: scorer_used},
            "scorers_in_log": sorted({k for s in samples for k in (s.get("scores") or {})}),
            "seed": base_seed,
            "seed_source": seed_source,
            "seeds_recorded": {"model_generate_config.seed": gen.get("seed")},
            "generate_config": gen,
            "epochs": (ev.get("config") or {}).get("epochs"),
            "created": ev.get("created"),
        },
        sources=[str(f)],
        notes=notes,
    )


def _add_sample(
    cols: dict[str, list[Any]], s: dict[str, Any], f: Path, scorer: str | None, base_seed: int
) -> str:
    """Append one inspect sample to the record columns; returns the scorer that decided it."""
    sid = need(s, "id", f"{f}: sample")
    where = f"{f}: sample {sid!r}"
    epoch = int(s.get("epoch") or 1)
    scores = s.get("scores")
    if not scores:
        err = s.get("error")
        msg = (
            f" (sample error: {err.get('message', err) if isinstance(err, dict) else err})"
            if err
            else ""
        )
        raise DataError(f"{where}: missing field 'scores' (sample not scored){msg}")
    name = scorer or next(iter(scores))
    if name not in scores:
        raise ForgetmapError(f"{where}: no scorer {name!r} (has: {', '.join(scores)})")
    score = scores[name]
    value = need(score, "value", f"{where}: scores.{name}")
    choices = s.get("choices") or []
    target = need(s, "target", where)
    answer = score.get("answer")
    out = s.get("output") or {}
    response = _completion(out)
    cols["item_id"].append(str(sid))
    cols["seed"].append(seed_label(base_seed, epoch - 1, where))
    cols["correct"].append(_is_correct(value, where))
    cols["gold"].append(str(target[0]) if isinstance(target, list) else str(target))
    ans = None if answer is None or str(answer).strip() == "" else str(answer).strip()
    cols["pred"].append(ans)
    cols["extract_status"].append("ok" if ans is not None else "no_answer")
    cols["extract_rule"].append(rule("inspect", "logged", name))
    cols["response"].append(response)
    cols["choices"].append([str(c) for c in choices] if choices else None)
    cols["n_choices"].append(len(choices) if choices else None)
    inp = s.get("input")
    cols["question"].append(_input_text(inp))
    cols["prompt_hash"].append(text_hash([inp, choices]))
    meta = s.get("metadata") or {}
    cat = meta.get("category") if isinstance(meta, dict) else None
    cols["category"].append(str(cat) if cat is not None else None)
    ch0 = (out.get("choices") or [{}])[0] if isinstance(out, dict) else {}
    cols["finish_reason"].append(ch0.get("stop_reason") if isinstance(ch0, dict) else None)
    usage = out.get("usage") or {} if isinstance(out, dict) else {}
    cols["n_tokens_in"].append(usage.get("input_tokens"))
    cols["n_tokens_out"].append(usage.get("output_tokens"))
    return name


def _is_correct(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value) >= 1.0
    if isinstance(value, str):
        return value in CORRECT_VALUES
    if isinstance(value, dict):
        raise DataError(
            f"{where}: score value is a dict ({', '.join(value)}); choose a scorer with a single value"
        )
    raise DataError(f"{where}: unreadable score value {value!r}")


def _completion(out: dict[str, Any]) -> str | None:
    if not isinstance(out, dict):
        return None
    if out.get("completion"):
        return str(out["completion"])
    chs = out.get("choices") or []
    if not chs:
        return None
    content = (chs[0].get("message") or {}).get("content")
    return _content_text(content)


def _content_text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks: keep text, reasoning before it
        parts = []
        for c in content:
            if isinstance(c, dict):
                parts.append(c.get("text") or c.get("reasoning") or "")
        return "\n".join(p for p in parts if p)
    return str(content)


def _input_text(inp: Any) -> str | None:
    if isinstance(inp, str):
        return inp
    if isinstance(inp, list):
        users = [m for m in inp if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return _content_text(users[-1].get("content"))
    return None
