"""Backends behind one interface (`Backend`): hf, llamacpp, openai, vllm; loaded lazily by name."""

from __future__ import annotations

import importlib
from typing import Any

from forgetmap.engine.backends.base import Backend
from forgetmap.errors import ForgetmapError

# name -> (module, class); heavy imports happen only when a backend is loaded.
BACKENDS: dict[str, tuple[str, str]] = {
    "hf": ("forgetmap.engine.backends.hf", "HFBackend"),
    "llamacpp": ("forgetmap.engine.backends.llamacpp", "LlamaCppBackend"),
    "openai": ("forgetmap.engine.backends.openai", "OpenAIBackend"),
    "vllm": ("forgetmap.engine.backends.vllm", "VLLMBackend"),
}


def resolve_model(model: str) -> str:
    """A model spec with small-model aliases (`smollm2-135m-instruct`, `gemma3-270m`) resolved."""
    from forgetmap.engine.local_models import resolve_alias

    path = resolve_alias(model)
    return str(path) if path is not None else model


def load_backend(name: str, model: str, **kw: Any) -> Backend:
    """Load `model` on backend `name` (one of BACKENDS); unknown kwargs are ignored by backends."""
    if name not in BACKENDS:
        raise ForgetmapError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name]
    target = model if name == "openai" else resolve_model(model)
    return getattr(importlib.import_module(module), cls)(target, **kw)


__all__ = ["BACKENDS", "Backend", "load_backend", "resolve_model"]
