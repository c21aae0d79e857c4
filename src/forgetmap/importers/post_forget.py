"""The study's released per-sample results: Hugging Face dataset `post-forget/post-forget`.

The authors of arXiv 2510.17776 published their lighteval (0.10) details and results files per
model. `import_post_forget` downloads them with `huggingface_hub.snapshot_download` (the `hub`
extra; only the details/results files) at a given revision and imports them through the
lighteval importer, so the study's tables and figures can be regenerated without a GPU. The
commit actually downloaded is recorded in every run manifest; pass it back as `revision` to
reproduce an import exactly. `source=` reads an already downloaded copy (same layout) instead.

What makes the release comparable (docs/importers.md, "The study's released results"):
- task names: the study's lighteval names (`community|bbh_reasoning_letter:navigate|0`,
  `…_custom_prompt_letter:easy`, `…:main`, `ifeval_reasoning`) become forgetmap's
  `benchmark:subset` (`study_task_name`, declared in suite/study_checkout.yaml: the split behind
  each `:main`, the study's spellings);
- item ids: the files carry no doc id and a base model's prompt (few-shot) differs from its
  post-trained model's (zero-shot), so items are aligned by content with the registry's items
  (`forgetmap.importers.align`) when the benchmark files are present, else get a normalised
  question hash; k is the registry item's, never a count of option lines in a few-shot prompt;
- re-runs: the study's analysis keeps the latest file per (model, task, seed); so does the
  import, and it reports the older files (`superseded`);
- the study's aggregate `comparison_results_all.csv` (transition counts per pair, task and seed)
  is read by `read_comparison_counts`, so its tables and figures can be drawn without details.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.importers._common import ImportBatch, ImportedRun
from forgetmap.importers.align import Aligner
from forgetmap.importers.lighteval import import_lighteval
from forgetmap.letters import LETTERS
from forgetmap.records.identity import content_hashes
from forgetmap.suite.study_protocol import study_task_name

REPO_ID = "post-forget/post-forget"
DEFAULT_REVISION = "main"
ALLOW_PATTERNS = ["*details_*.parquet", "*results_*.json"]
# The study's prompt layout: the evaluated question follows the last marker; few-shot prompts
# end with a cue line after the options.
QUESTION_MARKER = "Question: "
TAIL_LINES = ("Reasoning:", "Answer:")
_SNAPSHOT_RE = re.compile(r"snapshots[/\\]([0-9a-f]{40})")


# --- alignment ------------------------------------------------------------------------------


@dataclass
class TaskAlignment:
    """How one task's rows were aligned (summed over the task's files)."""

    method: str  # registry: aligned to the benchmark files; hash: normalised question hash
    rows: int = 0
    aligned: int = 0
    ambiguous: int = 0
    gold_disagrees: int = 0
    note: str | None = None


@dataclass
class _Registry:
    """Per task: an Aligner over the registry's items (built once per import)."""

    data_dir: str | Path | None
    aligners: dict[str, tuple[Aligner, str, str | None]] = field(default_factory=dict)

    def get(self, task: str) -> tuple[Aligner, str, str | None]:
        if task not in self.aligners:
            self.aligners[task] = self._build(task)
        return self.aligners[task]

    def _build(self, task: str) -> tuple[Aligner, str, str | None]:
        from forgetmap.suite.registry import all_tasks, category_for, get_task

        if category_for(task) is None:  # e.g. hellaswag:test: benchmark known, split not
            bench = task.partition(":")[0]
            cats = {t.category for t in all_tasks() if t.benchmark == bench and t.study}
            note = f"{task} is not in the registry: items keep a question hash"
            cat = cats.pop() if len(cats) == 1 else None
            return Aligner(None, marker=QUESTION_MARKER, tail_lines=TAIL_LINES), note, cat
        spec = get_task(task)
        k = spec.k or getattr(spec, "k_nominal", None)
        try:
            from forgetmap.suite.loaders import load_items

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # skipped source rows are the loader's report
                items = load_items(task, data_dir=self.data_dir)
        except (DataError, ForgetmapError, OSError) as exc:
            note = f"{task}: benchmark files not available ({str(exc).splitlines()[0]}); items keep a question hash"
            return Aligner(None, k, QUESTION_MARKER, TAIL_LINES), note, None
        return Aligner(items, k, QUESTION_MARKER, TAIL_LINES), "", None


def _gold_indices(table: pa.Table) -> list[list[int]]:
    """Logged gold option indices per row (from the imported gold letters)."""
    out = []
    for g in table.column("gold").to_pylist():
        out.append([LETTERS.index(c) for c in g] if g and all(c in LETTERS for c in g) else [])
    return out


def _align_table(
    table: pa.Table, registry: _Registry, report: dict[str, TaskAlignment]
) -> pa.Table:
    """Replace prompt-hash item ids by registry ids (or normalised question hashes), k by the
    registry's, letters by the registry's order where the logged options map onto it."""
    parts = []
    tasks = table.column("task").to_pylist()
    for task in dict.fromkeys(tasks):
        idx = [i for i, t in enumerate(tasks) if t == task]
        part = table.take(pa.array(idx, pa.int64()))
        aligner, note, category = registry.get(task)
        al = aligner.align(part.column("question").to_pylist(), _gold_indices(part))
        rep = report.setdefault(
            task, TaskAlignment("registry" if aligner.entries else "hash", note=note or None)
        )
        rep.rows += part.num_rows
        rep.aligned += al.counts().get("registry", 0)
        rep.ambiguous += al.ambiguous
        rep.gold_disagrees += al.gold_disagrees
        parts.append(_apply(part, al, category))
    return pa.concat_tables(parts) if parts else table


def _apply(part: pa.Table, al: Any, category: str | None) -> pa.Table:
    gold = [
        g if new is None else new
        for g, new in zip(part.column("gold").to_pylist(), al.gold, strict=True)
    ]
    pred = []
    for p, m in zip(part.column("pred").to_pylist(), al.letter_map, strict=True):
        if p and m and all(c in m for c in p):
            p = "".join(sorted(m[c] for c in p))
        pred.append(p)
    k_logged = part.column("n_choices").to_pylist()
    k = [new if new is not None else old for new, old in zip(al.k, k_logged, strict=True)]
    cols = {
        "item_id": pa.array(al.item_id, pa.string()),
        "n_choices": pa.array(k, pa.int32()),
        "gold": pa.array(gold, pa.string()),
        "pred": pa.array(pred, pa.string()),
        "question": pa.array(al.question, pa.string()),
        "choices": pa.array(al.choices, pa.list_(pa.string())),
    }
    # the content hashes follow the aligned content (the importer hashed the prompt's block,
    # which differs between a few-shot and a zero-shot prompt of the same item)
    if "question_hash" in part.column_names:
        cols.update(content_hashes(cols["question"], cols["choices"]))
    if category is not None:
        old = part.column("category").to_pylist()
        cols["category"] = pa.array([c or category for c in old], pa.string())
    for name, arr in cols.items():
        i = part.schema.get_field_index(name)
        part = part.set_column(i, part.schema.field(name), arr.cast(part.schema.field(name).type))
    return part


# --- re-runs --------------------------------------------------------------------------------


def _keep_latest(runs: list[ImportedRun]) -> tuple[list[ImportedRun], list[dict[str, Any]]]:
    """Keep, per (model, task, seed), the rows of the latest run (timestamp); report the rest."""
    where: dict[tuple[str, str, int], list[tuple[str, int]]] = defaultdict(list)
    for i, r in enumerate(runs):
        for task in set(r.table.column("task").to_pylist()):
            where[(r.model, task, int(r.manifest["seed"]))].append((r.manifest["timestamp"], i))
    drop: dict[int, set[str]] = defaultdict(set)
    superseded = []
    for (model, task, seed), found in sorted(where.items()):
        if len(found) < 2:
            continue
        found.sort(reverse=True)
        for _, i in found[1:]:
            drop[i].add(task)
        superseded.append(
            {
                "model": model,
                "task": task,
                "seed": seed,
                "kept": found[0][0],
                "superseded": [ts for ts, _ in found[1:]],
            }
        )
    out = []
    for i, r in enumerate(runs):
        if i in drop:
            keep = [t not in drop[i] for t in r.table.column("task").to_pylist()]
            r.table = r.table.filter(pa.array(keep))
            r.manifest = {**r.manifest, "superseded_tasks": sorted(drop[i])}
        if r.table.num_rows:
            out.append(r)
    return out, superseded


# --- import ---------------------------------------------------------------------------------


def download(revision: str | None = None, cache_dir: str | Path | None = None) -> Path:
    """Download the study's details/results files; returns the local snapshot directory."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ForgetmapError(
            "downloading the study's results needs huggingface_hub: pip install 'forgetmap[hub]' "
            "(or pass --source DIR with a downloaded copy)"
        ) from None
    try:
        path = snapshot_download(
            repo_id=REPO_ID,
            repo_type="dataset",
            revision=revision or DEFAULT_REVISION,
            allow_patterns=ALLOW_PATTERNS,
            cache_dir=str(cache_dir) if cache_dir else None,
        )
    except Exception as exc:  # noqa: BLE001 - network/auth/offline errors of many kinds
        raise ForgetmapError(
            f"could not download {REPO_ID} (revision {revision or DEFAULT_REVISION}) from the "
            f"Hugging Face Hub: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            " — download it elsewhere and pass --source DIR"
        ) from None
    return Path(path)


@dataclass
class PostForgetImport:
    """What `import_post_forget` found besides the runs: alignment per task and re-runs."""

    alignment: dict[str, TaskAlignment]
    superseded: list[dict[str, Any]]


def import_post_forget(
    revision: str | None = None,
    source: str | Path | None = None,
    cache_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    report: list[PostForgetImport] | None = None,
) -> ImportBatch:
    """Import the study's released results (downloaded, or from `source`).

    `data_dir`: benchmark files for the content alignment (default: FORGETMAP_DATA_DIR).
    `report`, when given, receives a `PostForgetImport` (alignment per task, superseded files).
    """
    root = Path(source) if source is not None else download(revision, cache_dir)
    if source is not None and not root.is_dir():
        raise ForgetmapError(f"{root}: --source must be a directory (a copy of {REPO_ID})")
    batch = import_lighteval(root, task_map=study_task_name)
    runs, superseded = _keep_latest(list(batch))
    m = _SNAPSHOT_RE.search(str(root.resolve()))
    origin = {
        "dataset": REPO_ID,
        "revision_requested": revision or (None if source is not None else DEFAULT_REVISION),
        "revision_resolved": m.group(1) if m else None,
        "source_dir": str(root),
    }
    registry = _Registry(data_dir)
    alignment: dict[str, TaskAlignment] = {}
    for r in runs:
        run_report: dict[str, TaskAlignment] = {}
        r.table = _align_table(r.table, registry, run_report)
        for task, rep in run_report.items():
            total = alignment.setdefault(task, TaskAlignment(rep.method, note=rep.note))
            total.rows += rep.rows
            total.aligned += rep.aligned
            total.ambiguous += rep.ambiguous
            total.gold_disagrees += rep.gold_disagrees
        r.manifest = {
            **r.manifest,
            "tool": "post-forget",
            "post_forget": origin,
            "item_alignment": {t: vars(a) for t, a in sorted(run_report.items())},
        }
        r.run_id = r.run_id.replace("lighteval-", "post-forget-", 1)
    if report is not None:
        report.append(PostForgetImport(alignment, superseded))
    return ImportBatch(runs, batch.refused)


# --- the study's aggregate CSV --------------------------------------------------------------

_COUNT_FIELDS = {"0->0": "n00", "0->1": "n01", "1->0": "n10", "1->1": "n11"}
_REQUIRED = ("task", "seed", "model_before", "model_after", "n", *_COUNT_FIELDS)


def study_model_name(name: str) -> str:
    """The study's file-safe model names (`Qwen_Qwen2.5-7B`) back to Hub ids (`Qwen/Qwen2.5-7B`):
    the first underscore separates organisation and model (Hub organisations have none)."""
    name = name.strip()
    if "/" in name or "_" not in name:
        return name
    org, _, rest = name.partition("_")
    return f"{org}/{rest}"


def read_comparison_counts(path: str | Path) -> pa.Table:
    """The study's `comparison_results_all.csv` as transition counts per (pair, task, seed).

    Columns: before, after (Hub ids), task (forgetmap names), seed, n, n00, n01, n10, n11,
    study_task (as written). Rows with n = 0 are dropped (the study writes none). Errors name the
    file, line and column.
    """
    p = Path(path)
    try:
        fh = p.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{p}: cannot read ({exc.strerror})") from None
    cols: dict[str, list[Any]] = defaultdict(list)
    with fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{p}: missing column(s) {', '.join(missing)} (not the study's CSV)")
        for line, row in enumerate(reader, 2):
            try:
                counts = {dst: int(float(row[src])) for src, dst in _COUNT_FIELDS.items()}
                n, seed = int(float(row["n"])), int(float(row["seed"]))
            except (TypeError, ValueError) as exc:
                raise DataError(f"{p}:{line}: not a number ({exc})") from None
            if n != sum(counts.values()):
                raise DataError(f"{p}:{line}: n={n} is not the sum of the transition counts")
            if n == 0:
                continue
            cols["before"].append(study_model_name(row["model_before"]))
            cols["after"].append(study_model_name(row["model_after"]))
            cols["task"].append(study_task_name(row["task"]))
            cols["seed"].append(seed)
            cols["n"].append(n)
            for dst, v in counts.items():
                cols[dst].append(v)
            cols["study_task"].append(row["task"])
    if not cols:
        raise DataError(f"{p}: no comparison rows")
    types = {"seed": pa.int64(), "n": pa.int64(), **{c: pa.int64() for c in _COUNT_FIELDS.values()}}
    return pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in cols.items()})
