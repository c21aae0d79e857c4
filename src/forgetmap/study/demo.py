"""`forgetmap demo`: the whole pipeline offline on a CPU, on a real model and a real post-training step.

Before: SmolLM2-135M-Instruct as shipped on PyPI (GGUF Q4_1). After: the same model requantized by
llama.cpp to Q4_0, made here in a second — post-training quantization is a stage people ship
without checking what it costs, and it leaves the 10-minute budget to evaluation (3 seeds). Both
models answer the embedded synthetic suite (11 families, 5 categories; plus a few real benchmark
items when FORGETMAP_DATA_DIR is set); then compare, the full report, and a one-screen summary.

The demo is a study (the same runner as `forgetmap study`), built here from DEMO_SIZES.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from forgetmap.report.terminal import noise_words, summary_table
from forgetmap.study.config import Study, parse_study
from forgetmap.study.pipeline import StudyOutcome, run_study
from forgetmap.suite.registry import list_tasks

BEFORE = "smollm2-135m-instruct"
AFTER = "smollm2-135m-instruct-q4_0"
# the real tasks the demo adds when a data dir is present: the registry's `demo-real` suite
REAL_TASKS = tuple(t.name for t in list_tasks("demo-real"))


@dataclass(frozen=True)
class DemoSize:
    """How much the demo evaluates: items per task, answer budget, seeds, real tasks."""

    items: int
    max_new_tokens: int
    seeds: tuple[int, ...]
    real_tasks: tuple[str, ...]


# Sized for <= 10 minutes on 2 cores (the engine runs llama.cpp on cpu_count // 2 threads, which
# stays fast on a busy machine; FORGETMAP_THREADS=2 speeds up an idle one). Measured figures: README.
DEMO_SIZES: dict[str, DemoSize] = {
    "full": DemoSize(items=8, max_new_tokens=24, seeds=(0, 1, 2), real_tasks=REAL_TASKS[:3]),
    "quick": DemoSize(items=2, max_new_tokens=12, seeds=(0, 1, 2), real_tasks=REAL_TASKS[:1]),
}


def demo_study(size: DemoSize, with_real: bool, threads: int | None = None) -> Study:
    """The demo as a Study (synthetic families; real tasks too when `with_real`)."""
    tasks = [t.name for t in list_tasks("demo")] + (list(size.real_tasks) if with_real else [])
    doc: dict[str, Any] = {
        "name": "demo",
        "title": "forgetmap demo: SmolLM2-135M-Instruct, Q4_1 -> Q4_0 (llama.cpp requantization)",
        "backend": "llamacpp",
        "backend_options": {"n_ctx": 2048, **({"n_threads": threads} if threads else {})},
        "sampling": {
            "temperature": 0.6,
            "top_p": 0.95,
            "seeds": list(size.seeds),
            "max_new_tokens": size.max_new_tokens,
        },
        "limit": size.items,
        "tasks": {"post": tasks},
        "model_sets": {"tuned": {"kind": "post", "models": [BEFORE, AFTER]}},
        "models": {AFTER: {"quantize": {"from": BEFORE, "type": "Q4_0"}}},
        "groups": {
            "quantization": {
                "title": "Post-training quantization",
                "pairs": [f"{BEFORE} -> {AFTER}"],
            }
        },
    }
    return parse_study(doc, Path("<demo>"))


def _data_available() -> bool:
    d = os.environ.get("FORGETMAP_DATA_DIR")
    return bool(d) and Path(d).is_dir()


def run_demo(out: str | os.PathLike[str], quick: bool = False, console: Console | None = None,
             size: DemoSize | None = None) -> StudyOutcome:  # fmt: skip
    """Run the demo into `out` (results in OUT/results, report in OUT/report) and print a summary."""
    if console is None:
        console = Console()
        if not console.is_terminal:  # logs and pipes: wide enough for the summary table
            console = Console(width=120)
    size = size or DEMO_SIZES["quick" if quick else "full"]
    with_real = _data_available()
    study = demo_study(size, with_real)
    out_p = Path(out)
    t0 = time.time()
    n_tasks = len(study.models[BEFORE].tasks)
    console.rule("[bold]forgetmap demo")
    console.print(
        f"before: {BEFORE} (PyPI GGUF, Q4_1)   after: {AFTER} (llama.cpp requantization to Q4_0)\n"
        f"{n_tasks} tasks x {size.items} items x {len(size.seeds)} seeds, up to "
        f"{size.max_new_tokens} new tokens, zero-shot CoT through the chat template"
        + ("" if with_real else "\n[dim]FORGETMAP_DATA_DIR not set: synthetic suite only[/]")
    )
    outcome = run_study(study, out_p / "results", out=out_p / "report", console=console)
    elapsed = time.time() - t0
    if outcome.comparison is None:  # pragma: no cover - run_study always compares this pair
        raise RuntimeError("demo produced no comparison")
    pair = outcome.comparison.pairs[0]
    console.print(summary_table(pair))
    words = noise_words(pair)
    if words:
        console.print(words)
    f_raw = pair.total.F.mean if pair.total is not None else None
    fa = pair.total.F_no_answer.mean if pair.total is not None else None
    console.print(
        "F_true = chance-corrected forgetting (1→0 flips beyond lucky guesses), BT_true = backward "
        "transfer (0→1); p = exact McNemar test on the flips pooled over seeds."
    )
    if f_raw is not None and fa is not None:
        console.print(
            f"Raw 1→0 flip rate {100 * f_raw:.1f}%, of which {100 * fa:.1f} points had no "
            "extractable answer after (format failures rather than lost knowledge)."
        )
    console.print(f"report: [bold]{outcome.report}[/]")
    console.print(f"records: {outcome.results}   demo time: {elapsed:.0f} s")
    return outcome
