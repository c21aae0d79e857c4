"""The model name under which a checkpoint's records are stored.

Shared contract between `forgetmap track` and the training callback
(`forgetmap.integrations.ForgettingCallback`): the records of checkpoint `step` of run `run` are
stored under the model name `f"{run}/step-{step}"`, the base under its own name. Whoever wrote
them, `track` reads the curve back from the store by parsing these names."""

from __future__ import annotations

import re

from forgetmap.errors import ForgetmapError

CHECKPOINT_NAME = re.compile(r"^(?P<run>.+)/step-(?P<step>\d+)$")


def checkpoint_model_name(run: str, step: int) -> str:
    """The store's model name for checkpoint `step` of training run `run`."""
    if not run:
        raise ForgetmapError("run name is empty: a checkpoint model name needs a run name")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ForgetmapError(f"checkpoint step must be a non-negative integer, got {step!r}")
    return f"{run}/step-{step}"


def parse_checkpoint_model_name(name: str) -> tuple[str, int] | None:
    """(run, step) for a checkpoint model name, None for any other model name."""
    match = CHECKPOINT_NAME.match(name)
    if match is None:
        return None
    return match.group("run"), int(match.group("step"))
