"""End-to-end `evaluate` runs on real small models (SmolLM2-135M-Instruct, Gemma-3-270M base)
and real BBH/MMLU items from the shared data dir: records, reproducibility, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from forgetmap.engine.runner import evaluate
from forgetmap.errors import ForgetmapError
from forgetmap.records import CONTRACT_COLUMNS, RECORD_SCHEMA, ResultsStore

pytestmark = pytest.mark.slow

TASKS = "bbh:navigate,mmlu:anatomy"
K = {"bbh:navigate": 2, "mmlu:anatomy": 4}
RUN = dict(tasks=TASKS, seeds=(0, 1), limit=2, max_new_tokens=48, progress=False)


def check_records(
    t: pa.Table, model: str, elicitation: str, n_items: int = 2, seeds=(0, 1)
) -> None:
    """Every contract column (docs/records.md) present and valid; exactly one record per (task, item, seed)."""
    assert t.schema.names == RECORD_SCHEMA.names
    assert set(CONTRACT_COLUMNS) <= set(t.column_names)
    assert t.num_rows == len(K) * n_items * len(seeds)
    rows = t.to_pylist()
    keys = {(r["task"], r["item_id"], r["seed"]) for r in rows}
    assert len(keys) == t.num_rows  # no duplicates
    assert {r["seed"] for r in rows} == set(seeds)
    for r in rows:
        assert r["model"] == model and r["elicitation"] == elicitation
        assert r["task"] in K and r["n_choices"] == K[r["task"]] == len(r["choices"])
        assert r["gold"] in "ABCD"[: K[r["task"]]]
        assert r["category"] in ("Logic", "Liberal Arts", "Science/Tech")
        assert isinstance(r["response"], str) and r["prompt_hash"] and r["question"]
        assert r["extract_status"] in ("ok", "no_answer", "invalid")
        assert (r["pred"] is None) == (r["extract_status"] != "ok" and r["pred"] is None)
        if r["extract_status"] == "ok":
            assert r["pred"] in "ABCD"[: K[r["task"]]] and r["extract_rule"]
        assert r["correct"] == (r["pred"] is not None and r["pred"] == r["gold"])
        assert r["n_tokens_in"] > 10 and 0 <= r["n_tokens_out"] <= 48
        assert r["finish_reason"] in ("stop", "length", "loglik")
        assert r["run_id"]
    # the two seeds of an item share its prompt
    ph = t.group_by(["task", "item_id"]).aggregate([("prompt_hash", "count_distinct")])
    assert pc.max(ph.column("prompt_hash_count_distinct")).as_py() == 1


def responses(results: Path) -> dict:
    t = ResultsStore(results).read(columns=["task", "item_id", "seed", "response"]).to_pylist()
    return {(r["task"], r["item_id"], r["seed"]): r["response"] for r in t}


@pytest.fixture(scope="module")
def hf_smollm(smollm2_gguf: Path, data_dir: Path):
    from forgetmap.engine.backends import load_backend

    b = load_backend("hf", str(smollm2_gguf), batch_size=8)
    yield b
    b.close()


def test_hf_end_to_end_reproducible_and_resumable(
    hf_smollm, smollm2_gguf: Path, data_dir: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    s = evaluate("smollm2-135m-instruct", backend=hf_smollm, results=a, **RUN)
    assert (s.n_planned, s.n_skipped, s.n_written, s.elicitation) == (8, 0, 8, "cot_chat")
    check_records(ResultsStore(a).read(), "smollm2-135m-instruct", "cot_chat")
    man = ResultsStore(a).read_manifest("smollm2-135m-instruct", s.run_id)
    assert man["status"] == "complete" and man["backend"] == "hf"
    assert man["sampling"] == {
        "temperature": 0.6,
        "top_p": 0.95,
        "max_new_tokens": 48,
        "seeds": [0, 1],
    }
    assert man["tokens_out"] == s.tokens_out > 0 and man["throughput"]["tokens_out_per_s"] > 0
    assert man["versions"]["transformers"] and man["datasets"]["mmlu:anatomy"]["n_items"] == 2
    assert man["backend_info"]["dtype"] == "float32"  # fp32 on CPU

    # same run again, model loaded afresh by name: identical responses
    evaluate("smollm2-135m-instruct", backend="hf", results=b, **RUN)
    ra, rb = responses(a), responses(b)
    assert ra == rb
    assert len(set(ra.values())) > 1  # real, varied generations, not one canned string

    # resume: nothing left to do, nothing written twice
    s3 = evaluate("smollm2-135m-instruct", backend=hf_smollm, results=a, **RUN)
    assert (s3.n_skipped, s3.n_written) == (8, 0)
    assert ResultsStore(a).read().num_rows == 8
    # a third seed (first item of each task) only adds that seed
    s4 = evaluate(
        "smollm2-135m-instruct",
        backend=hf_smollm,
        results=a,
        **{**RUN, "seeds": (0, 1, 2), "limit": 1},
    )
    assert (s4.n_planned, s4.n_skipped, s4.n_written) == (6, 4, 2)
    t = ResultsStore(a).read()
    keys = set(zip(*(t.column(c).to_pylist() for c in ("task", "item_id", "seed")), strict=True))
    assert len(keys) == t.num_rows == 10 and sorted(t.column("seed").to_pylist()).count(2) == 2


def test_hf_loglik_same_prediction_for_every_seed(
    hf_smollm, data_dir: Path, tmp_path: Path
) -> None:
    s = evaluate("smol", backend=hf_smollm, results=tmp_path, elicitation="loglik", **RUN)
    t = ResultsStore(tmp_path).read()
    check_records(t, "smol", "loglik")
    assert s.n_written == 8
    for r in t.to_pylist():
        scores = [float(x.split(": ")[1]) for x in r["response"].split(" | ")]
        assert len(scores) == r["n_choices"]
        assert (
            r["pred"] == "ABCD"[scores.index(max(scores))] and r["extract_rule"] == "argmax_loglik"
        )
    by_item = t.group_by(["task", "item_id"]).aggregate([("response", "count_distinct")])
    assert pc.max(by_item.column("response_count_distinct")).as_py() == 1


def test_llamacpp_end_to_end_and_reproducible(
    smollm2_gguf: Path, data_dir: Path, tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    s = evaluate(str(smollm2_gguf), backend="llamacpp", results=a, model_name="smol-gguf", **RUN)
    assert s.n_written == 8 and s.elicitation == "cot_chat"
    check_records(ResultsStore(a).read(), "smol-gguf", "cot_chat")
    evaluate(str(smollm2_gguf), backend="llamacpp", results=b, model_name="smol-gguf", **RUN)
    ra = responses(a)
    assert ra == responses(b) and len(set(ra.values())) > 1
    man = json.loads(next(a.glob("*/*/manifest.json")).read_text())
    assert man["backend"] == "llamacpp" and man["versions"]["llama_cpp_python"]


def test_base_model_defaults_to_fewshot_and_refuses_cot_chat(
    gemma3_gguf: Path, data_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ForgetmapError, match="has no chat template.*cot_fewshot"):
        evaluate(
            str(gemma3_gguf), backend="llamacpp", results=tmp_path, elicitation="cot_chat", **RUN
        )
    s = evaluate(
        "gemma3-270m",
        backend="llamacpp",
        results=tmp_path,
        **{**RUN, "tasks": "mmlu:anatomy", "seeds": (0,), "limit": 1, "max_new_tokens": 16},
    )
    assert s.elicitation == "cot_fewshot" and s.n_written == 1
    r = ResultsStore(tmp_path).read().to_pylist()[0]
    assert r["elicitation"] == "cot_fewshot" and r["n_tokens_in"] > 200  # 5-shot MMLU prompt
