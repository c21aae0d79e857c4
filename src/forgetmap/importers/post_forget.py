"""The study's released per-sample results: Hugging Face dataset `post-forget/post-forget`.

The authors of arXiv 2510.17776 published their lighteval (0.10) details and results files per
model. `import_post_forget` downloads them with `huggingface_hub.snapshot_download` (the `hub`
extra; only the details/results files) at a given revision and imports them through the
lighteval importer, so the study's tables and figures can be regenerated without a GPU. The
commit actually downloaded is recorded in every run manifest; pass it back as `revision` to
reproduce an import exactly. `source=` reads an already downloaded copy (same layout) instead.

Task names are mapped from the study's lighteval names (`community|bbh_reasoning_letter:navigate|0`,
`..._custom`, ...) to forgetmap's canonical `benchmark:subset` (`bbh:navigate`) the same way
the study's own analysis normalises them, so the suite registry supplies categories and k.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.errors import ForgetmapError
from forgetmap.importers._common import ImportedRun
from forgetmap.importers.lighteval import import_lighteval

REPO_ID = "post-forget/post-forget"
DEFAULT_REVISION = "main"
ALLOW_PATTERNS = ["*details_*.parquet", "*results_*.json"]
# Suffixes the study appended to task names (its process_data.normalize_task_key), longest first.
STUDY_SUFFIXES = (
    "_reasoning_custom_prompt_letter",
    "_reasoning_letter",
    "_reasoning",
    "_custom",
    "_letter",
)
# Spellings the study changed to match lighteval's harness names.
ALIASES = {"bbh:causal_judgment": "bbh:causal_judgement"}
_SNAPSHOT_RE = re.compile(r"snapshots[/\\]([0-9a-f]{40})")


def study_task_name(name: str) -> str:
    """`community|bbh_reasoning_letter:navigate|0` -> `bbh:navigate`."""
    parts = name.split("|")
    core = parts[1] if len(parts) >= 3 else name
    head, sep, sub = core.partition(":")
    for suf in STUDY_SUFFIXES:
        if head.endswith(suf):
            head = head[: -len(suf)]
            break
    for suf in STUDY_SUFFIXES:
        sub = sub.replace(suf, "")
    out = f"{head}{sep}{sub}"
    return ALIASES.get(out, out)


def _fill_k_from_registry(table: pa.Table) -> pa.Table:
    """Rows whose k the details do not show get the suite registry's fixed k for their task
    (e.g. BBH tasks whose options are inside the question); varying-k tasks stay null."""
    from forgetmap.suite.registry import category_for, get_task

    k = table.column("n_choices")
    if not k.null_count:
        return table
    fixed: dict[str, int] = {}
    for task in table.column("task").unique().to_pylist():
        if category_for(task) is not None:
            spec = get_task(task)
            kk = spec.k or spec.k_nominal
            if kk:
                fixed[task] = int(kk)
    if not fixed:
        return table
    lookup = pc.index_in(table.column("task"), value_set=pa.array(list(fixed)))
    registry_k = pc.take(pa.array(list(fixed.values()), pa.int32()), lookup)
    filled = pc.coalesce(k, registry_k)
    return table.set_column(table.schema.get_field_index("n_choices"), "n_choices", filled)


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


def import_post_forget(
    revision: str | None = None,
    source: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> list[ImportedRun]:
    """Import the study's released results (downloaded, or from `source`)."""
    root = Path(source) if source is not None else download(revision, cache_dir)
    if source is not None and not root.is_dir():
        raise ForgetmapError(f"{root}: --source must be a directory (a copy of {REPO_ID})")
    runs = import_lighteval(root, task_map=study_task_name)
    m = _SNAPSHOT_RE.search(str(root.resolve()))
    origin = {
        "dataset": REPO_ID,
        "revision_requested": revision or (None if source is not None else DEFAULT_REVISION),
        "revision_resolved": m.group(1) if m else None,
        "source_dir": str(root),
    }
    for r in runs:
        r.table = _fill_k_from_registry(r.table)
        r.manifest = {**r.manifest, "tool": "post-forget", "post_forget": origin}
        r.run_id = r.run_id.replace("lighteval-", "post-forget-", 1)
    return runs
