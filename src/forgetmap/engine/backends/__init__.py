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


# backend option -> (backends that take it, the value meaning "not given"); what `forgetmap eval`
# flags route to, checked in one place
BACKEND_OPTIONS: dict[str, tuple[tuple[str, ...], Any]] = {
    "base_url": (("openai",), None),
    "concurrency": (("openai",), None),
    "tensor_parallel_size": (("vllm",), None),
    "max_model_len": (("vllm", "llamacpp"), None),
    "dtype": (("hf",), "auto"),
    "deterministic": (("hf",), False),
}


def backend_options(backend: str, **given: Any) -> dict[str, Any]:
    """Keyword arguments for `load_backend(backend, ...)` from options in BACKEND_OPTIONS: those
    left unset are dropped (the backend's defaults apply); one set for a backend that does not
    take it is a ForgetmapError naming the flag and the backends it applies to."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in BACKEND_OPTIONS:
            raise ValueError(f"unknown backend option {name!r}")
        takers, unset = BACKEND_OPTIONS[name]
        if value is None or value == unset:
            continue
        if backend not in takers:
            flag = "--" + name.replace("_", "-")
            raise ForgetmapError(
                f"{flag} only applies to --backend {' or '.join(takers)} (not {backend})"
            )
        out[name] = value
    return out


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


__all__ = [
    "BACKENDS",
    "BACKEND_OPTIONS",
    "Backend",
    "backend_options",
    "load_backend",
    "resolve_model",
]
