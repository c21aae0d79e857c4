"""Merge configs: mergekit's own YAML format, read and checked without importing mergekit.

A forgetmap merge config *is* a mergekit config (so users can take theirs as is), restricted to
what the study used and what we test: `merge_method` linear (per-model `weight`) or slerp (global
`t`, a `base_model` that is one of the two models). An optional top-level `name:` gives the merged
model's id in results (default: the file's stem). The parents are the models listed; the study
evaluates a merge against each parent.

Two more forgetmap keys, removed before the config reaches mergekit: `options:` sets mergekit's
run options that the study passed on its command line (`random_seed`, `allow_crimes`), and a
top-level `normalize:` (how the study's linear configs spell it, which mergekit's config model
silently ignores) is moved to `parameters.normalize`, where mergekit reads it.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from forgetmap.errors import ForgetmapError

METHODS = ("linear", "slerp")
# mergekit MergeOptions a config may set (the study's `mergekit-yaml --random-seed=1 --allow-crimes`)
OPTIONS = {"random_seed": int, "allow_crimes": bool}


@dataclass(frozen=True)
class MergeSpec:
    """A checked merge config: what to merge, how, and the merged model's id."""

    name: str
    method: str
    models: tuple[str, ...]
    base_model: str | None
    weights: tuple[float, ...] | None  # linear only
    t: float | None  # slerp only
    dtype: str | None
    source: str
    raw: dict[str, Any] = field(compare=False, hash=False, repr=False)
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    normalize: bool | None = None  # linear: weights normalised to sum 1 (mergekit's default)

    @property
    def parents(self) -> tuple[str, ...]:
        return self.models

    def describe(self) -> str:
        """One line for plans: method and parameters."""
        if self.method == "linear":
            w = ", ".join(
                f"{m} x{x:g}" for m, x in zip(self.models, self.weights or (), strict=True)
            )
            return f"linear({w})"
        return f"slerp(t={self.t:g}, base={self.base_model}; {' + '.join(self.models)})"

    def mergekit_dict(self, model_map: dict[str, str] | None = None) -> dict[str, Any]:
        """The mergekit config as a dict, with model ids replaced by local paths from `model_map`."""
        doc = copy.deepcopy(self.raw)
        for key in ("name", "options", "normalize"):
            doc.pop(key, None)
        if self.normalize is not None:
            doc["parameters"] = {**(doc.get("parameters") or {}), "normalize": self.normalize}
        if not model_map:
            return doc

        def sub(ref: str) -> str:
            return str(model_map.get(ref, ref))

        for entry in doc.get("models") or []:
            entry["model"] = sub(entry["model"])
        if doc.get("base_model"):
            doc["base_model"] = sub(doc["base_model"])
        return doc


def _fail(source: str, key: str, msg: str) -> ForgetmapError:
    return ForgetmapError(f"{source}: {key}: {msg}")


def parse_merge(doc: Any, source: str, default_name: str) -> MergeSpec:
    """Check a mergekit config dict; every error names `source` and the offending key."""
    if not isinstance(doc, dict):
        raise ForgetmapError(f"{source}: a merge config must be a YAML mapping")
    method = doc.get("merge_method")
    if method not in METHODS:
        raise _fail(source, "merge_method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    if doc.get("slices") or doc.get("modules"):
        raise _fail(source, "slices", "slice/module merges are not supported; list `models:`")
    models_raw = doc.get("models")
    if not isinstance(models_raw, list) or len(models_raw) != 2:
        raise _fail(source, "models", "must list exactly two models (the two parents)")
    models: list[str] = []
    weights: list[float] = []
    for i, entry in enumerate(models_raw):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("model"), str)
            or not entry["model"]
        ):
            raise _fail(source, f"models[{i}].model", "must be a model id or path")
        models.append(entry["model"])
        params = entry.get("parameters") or {}
        if method == "linear":
            w = params.get("weight")
            if isinstance(w, bool) or not isinstance(w, (int, float)):
                raise _fail(
                    source, f"models[{i}].parameters.weight", f"must be a number, got {w!r}"
                )
            weights.append(float(w))
    if models[0] == models[1]:
        raise _fail(source, "models", f"both entries are {models[0]!r}")
    base = doc.get("base_model")
    t: float | None = None
    if method == "linear":
        if sum(weights) <= 0:
            raise _fail(
                source, "models[].parameters.weight", "weights must sum to a positive number"
            )
    else:
        if base not in models:
            raise _fail(
                source, "base_model", f"slerp needs one of the two models as base, got {base!r}"
            )
        t_raw = (doc.get("parameters") or {}).get("t")
        if isinstance(t_raw, bool) or not isinstance(t_raw, (int, float)) or not 0 <= t_raw <= 1:
            raise _fail(source, "parameters.t", f"must be a number in [0, 1], got {t_raw!r}")
        t = float(t_raw)
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise _fail(source, "name", "must be a non-empty string")
    dtype = doc.get("dtype")
    if dtype is not None and dtype not in ("float32", "float16", "bfloat16"):
        raise _fail(source, "dtype", f"must be float32, float16 or bfloat16, got {dtype!r}")
    options = doc.get("options") or {}
    if not isinstance(options, dict):
        raise _fail(source, "options", "must be a mapping of mergekit options")
    for key, value in options.items():
        want = OPTIONS.get(key)
        if want is None:
            raise _fail(source, f"options.{key}", f"unknown option (known: {', '.join(OPTIONS)})")
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise _fail(source, f"options.{key}", f"must be {want.__name__}, got {value!r}")
    normalize = (doc.get("parameters") or {}).get("normalize", doc.get("normalize"))
    if normalize is not None and (method != "linear" or not isinstance(normalize, bool)):
        raise _fail(source, "normalize", "only linear merges take normalize: true|false")
    return MergeSpec(
        name=name,
        method=method,
        models=tuple(models),
        base_model=base,
        weights=tuple(weights) if method == "linear" else None,
        t=t,
        dtype=dtype,
        source=source,
        raw=doc,
        options=dict(options),
        normalize=normalize,
    )


def load_merge(path: str | os.PathLike[str]) -> MergeSpec:
    """Read and check a merge config file."""
    p = Path(path)
    if not p.is_file():
        raise ForgetmapError(f"merge config {p} does not exist")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ForgetmapError(f"{p}: not valid YAML ({exc})") from None
    return parse_merge(doc, str(p), p.stem)
