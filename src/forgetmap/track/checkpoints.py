"""Finding the checkpoints of a training run, and telling a finished one from one still saving.

`--checkpoints` is a directory or a glob. In a directory, the Hugging Face Trainer's
`checkpoint-<step>` folders and GGUF files with a step in the name (`model-step-100.gguf`,
`ckpt_100.gguf`) are checkpoints; other entries (logs, `runs/`, `tmp-checkpoint-*`) are not looked
at. A glob names checkpoints directly. A name that looks like a checkpoint but has no integer step
is an error, never guessed.

A checkpoint is only read once it is complete, because training may still be writing it:

- a Trainer folder needs `trainer_state.json` (the Trainer writes it after the weights) and either
  full weights (`config.json` + `*.safetensors` or `pytorch_model.bin`) or a PEFT adapter
  (`adapter_config.json` + `adapter_model.safetensors`/`.bin`);
- every safetensors file must be as long as its header says (8-byte header length + JSON header
  + the largest tensor end offset), a sharded index must have all its shards, a `.bin` must be a
  complete zip archive, a GGUF file must start with the GGUF magic;
- no file in it may have been modified in the last `settle_s` seconds.

Anything else is skipped with a one-line note naming it (and picked up on a later run).
"""

from __future__ import annotations

import glob
import json
import os
import re
import struct
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from forgetmap.errors import ForgetmapError

TRAINER_DIR = re.compile(r"^checkpoint-(?P<step>.*)$")
# a step in a GGUF file name: step/ckpt/checkpoint/iter, an optional separator, digits
GGUF_STEP = re.compile(
    r"(?:^|[-_.])(?:step|ckpt|checkpoint|iter)[-_]?(?P<step>\d+)(?=$|[-_.])", re.I
)
GLOB_CHARS = re.compile(r"[*?\[]")
SETTLE_S = 5.0
KINDS = ("full", "adapter", "gguf")


@dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint: its training step, where it is and what it holds (KINDS)."""

    step: int
    path: Path
    kind: str


@dataclass
class Discovery:
    """The complete checkpoints in step order, and (path, reason) for each one skipped."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per skipped checkpoint."""
        return [f"skipped {p}: {why}" for p, why in self.skipped]


def discover(spec: str | os.PathLike[str], settle_s: float = SETTLE_S) -> Discovery:
    """The checkpoints named by `spec` (a directory or a glob), complete ones first-class and
    half-written ones skipped. ForgetmapError for a spec that names nothing, a checkpoint name
    without an integer step, or two checkpoints of one step."""
    text = os.fspath(spec)
    root = Path(text).expanduser()
    if root.is_dir() and not TRAINER_DIR.match(root.name):
        candidates = sorted(root.iterdir())
    elif root.exists():
        candidates = [root]
    elif GLOB_CHARS.search(text):
        candidates = [Path(p) for p in sorted(glob.glob(os.path.expanduser(text)))]
        if not candidates:
            raise ForgetmapError(f"--checkpoints {text}: the pattern matches no file or folder")
    else:
        raise ForgetmapError(f"--checkpoints {text}: no such directory or file")
    explicit = not (root.is_dir() and not TRAINER_DIR.match(root.name))
    found = Discovery()
    by_step: dict[int, Path] = {}
    now = time.time()
    for path in candidates:
        step, kind = _classify(path, explicit)
        if step is None:
            continue
        if step in by_step:
            raise ForgetmapError(
                f"--checkpoints {text}: {by_step[step]} and {path} are both step {step}"
            )
        by_step[step] = path
        why = incomplete_reason(path, kind, now, settle_s)
        if why:
            found.skipped.append((path, why))
        else:
            found.checkpoints.append(Checkpoint(step, path, checkpoint_kind(path)))
    found.checkpoints.sort(key=lambda c: c.step)
    return found


def _classify(path: Path, explicit: bool) -> tuple[int | None, str]:
    """(step, "trainer" or "gguf") of a candidate; (None, "") for an entry that is not a checkpoint
    (only inside a directory: a path named explicitly must be one)."""
    m = TRAINER_DIR.match(path.name)
    if path.is_dir() and m:
        if not m.group("step").isdigit():
            raise ForgetmapError(
                f"checkpoint folder {path}: expected checkpoint-<step> with an integer step"
            )
        return int(m.group("step")), "trainer"
    if path.suffix.lower() == ".gguf" and not path.is_dir():
        g = GGUF_STEP.search(path.stem)
        if g is None:
            raise ForgetmapError(
                f"GGUF checkpoint {path}: no step in its name (expected e.g. model-step-100.gguf)"
            )
        return int(g.group("step")), "gguf"
    if explicit:
        raise ForgetmapError(
            f"--checkpoints: {path} is neither a checkpoint-<step> folder nor a .gguf file"
        )
    return None, ""


def incomplete_reason(path: Path, kind: str, now: float, settle_s: float) -> str | None:
    """Why the checkpoint at `path` cannot be read yet (None when it is complete); `kind` is
    "trainer" or "gguf" (from `_classify`)."""
    files = [path] if kind == "gguf" else [p for p in path.rglob("*") if p.is_file()]
    recent = [p for p in files if now - _mtime(p) < settle_s]
    if recent:
        return f"still being written ({recent[0].name} modified under {settle_s:g}s ago)"
    if kind == "gguf":
        return _gguf_problem(path)
    if not (path / "trainer_state.json").is_file():
        return "no trainer_state.json yet (the Trainer writes it after the weights)"
    return _weights_problem(path)


def checkpoint_kind(path: Path) -> str:
    """ "adapter" for a PEFT adapter folder, "full" for full weights, "gguf" for a GGUF file."""
    if path.suffix.lower() == ".gguf":
        return "gguf"
    return "adapter" if (path / "adapter_config.json").is_file() else "full"


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except FileNotFoundError:  # removed meanwhile (a Trainer rotating checkpoints)
        return time.time()


def _weights_problem(path: Path) -> str | None:
    """What is missing or truncated among the weights of a Trainer folder (None if nothing)."""
    adapter = (path / "adapter_config.json").is_file()
    stem = "adapter_model" if adapter else "model"
    if not adapter and not (path / "config.json").is_file():
        return "neither config.json (full weights) nor adapter_config.json (PEFT adapter)"
    index = path / f"{stem}.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"unreadable {index.name} ({exc})"
        tensors = [path / s for s in shards]
    else:
        tensors = sorted(path.glob(f"{stem}*.safetensors"))
    for t in tensors:
        problem = safetensors_problem(t)
        if problem:
            return problem
    if tensors:
        return None
    bins = sorted(path.glob("adapter_model.bin" if adapter else "pytorch_model*.bin"))
    for b in bins:
        if not zipfile.is_zipfile(b):
            return f"{b.name} is not a complete archive (truncated?)"
    if bins:
        return None
    kind = "adapter" if adapter else "model"
    return f"no {kind} weights ({stem}.safetensors or a .bin) yet"


def safetensors_problem(path: Path) -> str | None:
    """None when the safetensors file at `path` is complete: its length equals 8 + the header
    length + the largest tensor end offset; else what is wrong."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return f"{path.name} is truncated (no header)"
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                return f"{path.name} is truncated (header of {n} bytes, file of {size})"
            header = json.loads(f.read(n))
    except FileNotFoundError:
        return f"{path.name} is missing"
    except (OSError, ValueError) as exc:
        return f"{path.name} has an unreadable header ({exc})"
    ends = [
        int(v["data_offsets"][1])
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict)
    ]
    want = 8 + n + max(ends, default=0)
    if size < want:
        return f"{path.name} is truncated ({size} of {want} bytes)"
    return None


def _gguf_problem(path: Path) -> str | None:
    with path.open("rb") as f:
        magic = f.read(4)
    return None if magic == b"GGUF" else f"{path.name} does not start with the GGUF magic"
