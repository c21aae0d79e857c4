"""Run a merge through mergekit (imported lazily: `pip install 'forgetmap[merge]'`).

The merged model is a Hugging Face directory (safetensors + config + tokenizer) that any backend
loading HF dirs (hf, vllm) evaluates like any other model. A `forgetmap-merge.json` beside the
weights records the config, the resolved parent paths and versions, and `is_complete` lets the
study runner skip merges already made.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from forgetmap.errors import ForgetmapError
from forgetmap.merge.config import MergeSpec, load_merge

RECEIPT = "forgetmap-merge.json"


def is_complete(out_dir: str | os.PathLike[str]) -> bool:
    """True when `out_dir` holds a finished merge (receipt written last, after the weights)."""
    return (Path(out_dir) / RECEIPT).is_file()


def run_merge(
    spec: MergeSpec | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model_map: dict[str, str] | None = None,
    device: str = "cpu",
    overwrite: bool = False,
) -> Path:
    """Merge `spec`'s two models into `out_dir`; `model_map` maps model ids to local paths.

    Writes into a temp dir beside `out_dir` and renames at the end, so an interrupted merge never
    looks finished.
    """
    if not isinstance(spec, MergeSpec):
        spec = load_merge(spec)
    out = Path(out_dir)
    if out.exists():
        if is_complete(out) and not overwrite:
            raise ForgetmapError(f"{out} already holds a merge; pass --overwrite to redo it")
        if any(out.iterdir()) and not is_complete(out):
            raise ForgetmapError(f"{out} exists and is not a finished merge; remove it first")
    for ref in spec.models:
        local = (model_map or {}).get(ref, ref)
        if _looks_local(local) and not Path(local).exists():
            raise ForgetmapError(f"{spec.source}: model {ref!r} not found at {local}")
    try:
        from mergekit.config import MergeConfiguration
        from mergekit.merge import run_merge as mk_run_merge
        from mergekit.options import MergeOptions
    except ImportError:
        raise ForgetmapError("merging needs mergekit: pip install 'forgetmap[merge]'") from None
    import mergekit

    doc = spec.mergekit_dict(model_map)
    try:
        config = MergeConfiguration.model_validate(doc)
    except Exception as exc:  # pydantic.ValidationError: report it as the config's problem
        raise ForgetmapError(f"{spec.source}: mergekit rejected the config: {exc}") from None
    options = MergeOptions(
        **spec.options,
        device=device,
        cuda=device.startswith("cuda"),
        copy_tokenizer=True,
        lazy_unpickle=False,
        write_model_card=False,
        quiet=True,
        trust_remote_code=False,
    )
    tmp = out.parent / f".{out.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    try:
        mk_run_merge(config, out_path=str(tmp), options=options)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ForgetmapError(f"{spec.source}: merge failed: {exc}") from None
    receipt = {
        "name": spec.name,
        "method": spec.method,
        "models": list(spec.models),
        "base_model": spec.base_model,
        "weights": list(spec.weights) if spec.weights else None,
        "t": spec.t,
        "resolved": {m: str((model_map or {}).get(m, m)) for m in spec.models},
        "mergekit_config": doc,
        "mergekit_options": spec.options,
        "mergekit_version": getattr(mergekit, "__version__", None) or _dist_version("mergekit"),
        "seconds": round(time.time() - start, 2),
        "config_file": spec.source,
    }
    (tmp / RECEIPT).write_text(json.dumps(receipt, indent=2, default=str))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def _looks_local(ref: str) -> bool:
    return ref.startswith((".", "/", "~"))


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
