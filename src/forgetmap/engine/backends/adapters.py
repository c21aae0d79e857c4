"""PEFT adapters (LoRA...) on the hf backend: a folder with `adapter_config.json` is loaded as
its base model plus the adapter, merged into the weights (plain forward passes afterwards).

The base is `base` when given (`forgetmap track --base`), else the adapter's own
`base_model_name_or_path`. peft is the `train` extra, imported only here, when an adapter is
loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forgetmap.errors import ForgetmapError


def adapter_base(path: str, base: str | None) -> str | None:
    """The base model to load for the adapter folder `path`; None when `path` is no adapter."""
    config = Path(path) / "adapter_config.json"
    if not config.is_file():
        return None
    if base:
        return base
    try:
        name = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError) as exc:
        raise ForgetmapError(f"cannot read {config}: {exc}") from None
    if not name:
        raise ForgetmapError(
            f"{config} names no base_model_name_or_path; give the base model (--base)"
        )
    return str(name)


def apply_adapter(model: Any, path: str) -> Any:
    """`model` with the PEFT adapter at `path` merged into its weights."""
    try:
        from peft import PeftModel
    except ImportError:
        raise ForgetmapError(
            f"{path} is a PEFT adapter; loading it needs peft: pip install 'forgetmap[train]'"
        ) from None
    try:
        return PeftModel.from_pretrained(model, path).merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ForgetmapError(f"cannot apply the PEFT adapter {path}: {exc}") from None
