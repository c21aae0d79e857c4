"""--data-parallel over Ray: 2 hf replicas of SmolLM2-135M-Instruct on a local CPU Ray cluster,
results merged by the driver into one store (one record per task, item, seed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgetmap.engine.runner import evaluate
from forgetmap.records import ResultsStore

pytestmark = pytest.mark.slow


def test_two_hf_replicas_on_local_ray(smollm2_gguf: Path, data_dir: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="Ray is in the `ray` extra")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        s = evaluate(
            str(smollm2_gguf),
            backend="hf",
            tasks="bbh:navigate",
            seeds=(0, 1),
            limit=3,
            max_new_tokens=24,
            batch_size=2,  # 6 requests -> 3 batches spread over the 2 replicas
            data_parallel=2,
            results=tmp_path,
            model_name="smol",
            progress=False,
        )
    finally:
        ray.shutdown()
    assert (s.n_planned, s.n_written, s.elicitation) == (6, 6, "cot_chat")
    t = ResultsStore(tmp_path).read()
    keys = set(zip(t.column("item_id").to_pylist(), t.column("seed").to_pylist(), strict=True))
    assert len(keys) == t.num_rows == 6
    assert all(isinstance(r, str) for r in t.column("response").to_pylist())
    man = ResultsStore(tmp_path).read_manifest("smol", s.run_id)
    assert man["data_parallel"] == 2 and man["backend"] == "hf"
    assert man["backend_info"]["data_parallel"] == 2 and man["status"] == "complete"
