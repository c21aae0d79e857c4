"""Model names and run ids -> directory names inside a results directory.

The mapping is injective: a readable slug of the name plus a short hash of the exact name
(`Qwen/Qwen2.5-7B` -> `Qwen__Qwen2.5-7B-4c1e2a0b9d`), so `org/m` and `org__m`, or `a:b` and `a_b`,
never share a directory. Every name maps to one plain, visible directory directly inside the
results root: no `.`/`..`, no leading dot, no separators. Names a file system or a terminal line
cannot carry faithfully (empty, NUL or other control characters, line separators) are refused.

Stores written before this layout used `legacy_dir_name` (`/` -> `__`, `:` -> `_`, no hash);
readers look there too and keep only the rows whose `model` is the exact name asked for.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from forgetmap.errors import ForgetmapError

HASH_CHARS = 10  # 40 bits of sha256: a collision needs ~10^6 models in one results directory
SLUG_MAX = 80
# Cc: control characters (NUL, newline, tab, DEL...), Cf: invisible format characters (bidi
# overrides can disguise a name), Zl/Zp: line/paragraph separators, Cs: lone surrogates.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@,-]")


def bad_name_reason(name: str) -> str | None:
    """Why `name` cannot be a model name (None if it can)."""
    if not name:
        return "is empty"
    for i, ch in enumerate(name):
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return f"contains a control character ({ch!r} at position {i})"
    return None


def check_model_name(model: str) -> str:
    """`model` if it can be stored; else a ForgetmapError saying why, in one line."""
    if not isinstance(model, str):
        raise ForgetmapError(f"model name must be a string, got {type(model).__name__}")
    reason = bad_name_reason(model)
    if reason:
        raise ForgetmapError(f"model name {model!r} {reason}")
    return model


def model_dir_name(model: str) -> str:
    """The directory of `model` in a results directory: readable slug + hash of the exact name."""
    check_model_name(model)
    slug = model.replace("/", "__").replace("\\", "__").replace(":", "_")
    slug = _UNSAFE.sub("_", slug)[:SLUG_MAX]
    # never hidden, never . or .., never read as an option by a shell command
    slug = re.sub(r"^[.-]+", lambda m: "_" * len(m.group()), slug)
    digest = hashlib.sha256(model.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    return f"{slug}-{digest}"


def legacy_dir_name(model: str) -> str | None:
    """The directory the first release used for `model`; None where that was not a plain
    directory inside the results root (`.`, `..`, empty, path separators left)."""
    name = model.replace("/", "__").replace("\\", "__").replace(":", "_")
    if name in ("", ".", "..") or "\x00" in name:
        return None
    return name


def check_run_id(run_id: str) -> str:
    """Run ids become directory names too: plain, visible, one path component."""
    if not isinstance(run_id, str) or not run_id:
        raise ForgetmapError(f"run id must be a non-empty string, got {run_id!r}")
    reason = bad_name_reason(run_id)
    if not reason and (run_id.startswith(".") or "/" in run_id or "\\" in run_id):
        reason = "starts with a dot or contains a path separator"
    if reason:
        raise ForgetmapError(f"run id {run_id!r} cannot be a directory name: it {reason}")
    return run_id


def belongs_in(model: str, dir_name: str) -> bool:
    """Whether records of `model` may sit in model directory `dir_name`: its own, or the first
    release's slug directory (which several names could share)."""
    return bad_name_reason(model) is None and dir_name in (
        model_dir_name(model),
        legacy_dir_name(model),
    )
