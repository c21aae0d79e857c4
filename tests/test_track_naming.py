"""The checkpoint naming contract shared by `forgetmap track` and the training callback."""

from __future__ import annotations

import pytest

from forgetmap.errors import ForgetmapError
from forgetmap.track.naming import checkpoint_model_name, parse_checkpoint_model_name


@pytest.mark.parametrize(
    ("run", "step"), [("sft", 0), ("sft", 12), ("org/run-1", 400), ("a/step-3", 7)]
)
def test_round_trip(run: str, step: int) -> None:
    name = checkpoint_model_name(run, step)
    assert name == f"{run}/step-{step}"
    assert parse_checkpoint_model_name(name) == (run, step)


@pytest.mark.parametrize(
    "name", ["base", "sft/step-", "sft/step-x", "/step-3", "sft/step-3/extra", "sft-step-3"]
)
def test_other_names_are_not_checkpoints(name: str) -> None:
    assert parse_checkpoint_model_name(name) is None


@pytest.mark.parametrize(("run", "step"), [("", 1), ("sft", -1), ("sft", True), ("sft", 1.5)])
def test_bad_parts_refused(run: str, step: object) -> None:
    with pytest.raises(ForgetmapError):
        checkpoint_model_name(run, step)  # type: ignore[arg-type]
