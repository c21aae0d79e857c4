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
from rich.table import Table

from forgetmap.study.config import Study, parse_study
from forgetmap.study.run import StudyOutcome, run_study
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


def _pct(v: dict[str, Any] | None) -> str:
    if not v or v.get("mean") is None:
        return "–"
    s = f"{100 * v['mean']:.1f}"
    return s + (f" ± {100 * v['std']:.1f}" if v.get("std") is not None else "")


def _p(x: Any) -> str:
    return "–" if x is None else (f"{x:.2g}" if x >= 1e-3 else f"{x:.1e}")


def summary_table(comparison: dict[str, Any]) -> Table:
    """One screen: per category and in total, F_true/BT_true (±std over seeds), accuracies,
    pooled flip counts and the exact McNemar p-value of the pooled flips."""
    pair = comparison["pairs"][0]
    t = Table(title=f"{pair['before']} -> {pair['after']}  (x100, mean ± std over seeds)")
    for col in (
        "category",
        "acc before",
        "acc after",
        "F_true",
        "BT_true",
        "1→0",
        "0→1",
        "McNemar p",
    ):
        t.add_column(col, justify="left" if col == "category" else "right")
    rows = list(pair["categories"].items()) + [("Total", pair["total"])]
    for name, c in rows:
        pooled = c.get("pooled") or {}
        t.add_row(
            f"[bold]{name}[/]" if name == "Total" else name,
            _pct(c.get("acc_pre")),
            _pct(c.get("acc_post")),
            _pct(c.get("F_true")),
            _pct(c.get("BT_true")),
            str(pooled.get("n10", "–")),
            str(pooled.get("n01", "–")),
            _p(pooled.get("p_mcnemar")),
        )
    return t


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
    console.print(summary_table(outcome.comparison))
    pair = outcome.comparison["pairs"][0]
    tot = pair["total"]
    f_raw = (tot.get("F") or {}).get("mean")
    fa = (tot.get("F_no_answer") or {}).get("mean")
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
