"""`forgetmap import post-forget`: the study's released lighteval results.

The Hugging Face Hub is unreachable from these machines, so the download itself cannot be
tested here: the import is tested with `--source` on tests/fixtures/importers/post_forget, a
local copy in the dataset's layout (lighteval 0.10.0 details/results files — the version the
study used — made by really running lighteval on two small models with the study's task
naming, see scripts/make_importer_fixtures.py). The Hub path is tested up to the point where it
needs the network: it must fail with a clear error, not a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from clikit import run_cli

from forgetmap.importers.post_forget import study_task_name
from forgetmap.records import ResultsStore

FIX = Path(__file__).parent / "fixtures" / "importers" / "post_forget"
SMOL, GEMMA = "models/smollm2-135m-instruct", "models/gemma3-270m"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("community|arc_reasoning_custom_prompt_letter:easy|0", "arc:easy"),
        ("community|arc_reasoning_custom_prompt_letter:challenge|0|0", "arc:challenge"),
        ("community|bbh_reasoning_letter:navigate|0", "bbh:navigate"),
        ("community|bbh_reasoning_letter:causal_judgment|0", "bbh:causal_judgement"),
        ("community|mmlu_custom:anatomy|0", "mmlu:anatomy"),
        ("lighteval|gpqa:diamond|0", "gpqa:diamond"),
        ("mmlu:anatomy", "mmlu:anatomy"),
        ("community|piqa_reasoning_letter:main|0", "piqa:validation"),
        ("community|mctest_reasoning_letter:main|0", "mctest:test"),
        ("community|hellaswag_reasoning_letter:main|0", "hellaswag:test"),  # the study's split
        ("community|ifeval_reasoning|0", "ifeval:prompts"),
    ],
)
def test_study_task_names(raw, canonical):
    assert study_task_name(raw) == canonical


def test_import_from_local_copy(tmp_path, capsys):
    res = tmp_path / "res"
    code, err = run_cli(capsys, "import", "post-forget", "--source", FIX, "--results", res)
    assert code == 0, err
    store = ResultsStore(res)
    assert store.models() == [GEMMA, SMOL]
    smol = store.read(models=[SMOL]).to_pylist()
    assert {r["task"] for r in smol} == {"arc:easy"}  # the study's name mapped to the suite's
    assert sorted({r["seed"] for r in smol}) == [0, 1]
    assert len(smol) == 16 and {r["n_choices"] for r in smol} == {3, 4, 5}
    # no doc ids in the study's files: item ids are content hashes, equal across models/seeds
    gemma = store.read(models=[GEMMA]).to_pylist()
    # chat-template use is not recorded by lighteval 0.10: read off the prompts
    assert {r["elicitation"] for r in smol} == {"cot_chat"}
    assert {r["elicitation"] for r in gemma} == {"cot_fewshot"}
    assert {r["item_id"] for r in smol} == {r["item_id"] for r in gemma}
    # correctness is the study's per-sample extractive_match, read from the raw parquet
    raw_total = 0
    for f in (FIX / "details").rglob("details_*.parquet"):
        t = pq.read_table(f)
        metrics = t.column("metrics").to_pylist()
        raw_total += sum(m["extractive_match"] >= 0.5 for m in metrics)
    assert raw_total == sum(r["correct"] for r in smol + gemma)
    run = store.runs(SMOL)[0]
    man = store.read_manifest(SMOL, run)
    assert man["tool"] == "post-forget" and man["post_forget"]["source_dir"] == str(FIX)
    assert run.startswith("post-forget-")


def test_compare_uses_registry_categories(tmp_path, capsys):
    res = tmp_path / "res"
    assert run_cli(capsys, "import", "post-forget", "--source", FIX, "--results", res)[0] == 0
    out = tmp_path / "c.json"
    code, err = run_cli(
        capsys, "compare", "--results", res, "--before", GEMMA, "--after", SMOL, "--json", out
    )
    assert code == 0, err
    pair = json.loads(out.read_text())["pairs"][0]
    assert "Logic" in pair["categories"]  # arc:easy's category in the suite registry
    assert {c["seed"] for c in pair["cells"]} == {0}  # gemma ran seed 0 only: seed 1 is unpaired


def test_hub_download_fails_clearly_offline(tmp_path, capsys, monkeypatch):
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network here anyway; fail fast, not by timeout
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, err = run_cli(
        capsys, "import", "post-forget", "--revision", "main", "--results", tmp_path / "r"
    )
    assert code == 2
    assert "could not download post-forget/post-forget" in err and "--source DIR" in err


def test_source_must_be_a_directory(tmp_path, capsys):
    f = tmp_path / "x.json"
    f.write_text("{}")
    code, err = run_cli(capsys, "import", "post-forget", "--source", f, "--results", tmp_path / "r")
    assert code == 2 and "--source must be a directory" in err


def test_ifeval_details_with_per_instruction_lists(tmp_path, data_dir):
    """The study's IFEval details log per-instruction lists beside the per-prompt verdicts: the
    import takes the strict prompt-level verdict and aligns the prompts with the registry's."""
    import pyarrow as pa

    from forgetmap.importers.post_forget import import_post_forget
    from forgetmap.suite.loaders import load_items

    items = load_items("ifeval:prompts")[:3]
    ts = "2026-01-01T00-00-00.000000"
    details = tmp_path / "details" / "models" / "m" / ts
    details.mkdir(parents=True)
    strict, loose = [1, 0, 0], [1, 1, 0]
    metrics = pa.array(
        [
            {
                "inst_level_loose_acc": [bool(x)],
                "inst_level_strict_acc": [bool(y)],
                "prompt_level_loose_acc": x,
                "prompt_level_strict_acc": y,
            }
            for x, y in zip(loose, strict, strict=True)
        ]
    )
    table = pa.table(
        {
            "example": [it.question for it in items],
            "full_prompt": [f"<user>{it.question}<assistant>" for it in items],
            "predictions": [["an answer"]] * 3,
            "gold": [[""]] * 3,
            "gold_index": [[0]] * 3,
            "choices": [[""]] * 3,
            "metrics": metrics,
        }
    )
    pq.write_table(table, details / f"details_community|ifeval_reasoning|0_{ts}.parquet")
    results = tmp_path / "results" / "models" / "m"
    results.mkdir(parents=True)
    general = {"model_name": "m", "generation_parameters": {"seed": 0}}
    (results / f"results_{ts}.json").write_text(json.dumps({"config_general": general}))
    (run,) = import_post_forget(source=tmp_path)
    rows = run.table.to_pylist()
    assert [r["task"] for r in rows] == ["ifeval:prompts"] * 3
    assert [r["item_id"] for r in rows] == [it.item_id for it in items]
    assert [r["correct"] for r in rows] == [bool(x) for x in strict]
    assert run.manifest["scorers"]["ifeval:prompts"].endswith("prompt_level_strict_acc")
