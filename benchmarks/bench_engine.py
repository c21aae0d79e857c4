"""Harness overhead of `forgetmap eval` on CPU, and tokens/s, for the hf and llamacpp backends.

For each backend the model is loaded once; then
- harness: `evaluate(...)` end to end (task loading, prompts, resume check, sorting, generation,
  extraction, atomic Parquet writes, manifest) into a fresh results dir;
- raw: the backend's own batched `generate` on exactly the same request batches (recorded during
  the harness run, so prompts, seeds, batch composition and settings are identical).
Each side runs REPEATS times alternately; the best time of each is compared (goal: ratio <= 1.10).

    python benchmarks/bench_engine.py [--limit 4] [--max-new-tokens 32] [--backends hf,llamacpp]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_backend(name: str, args: argparse.Namespace) -> dict:
    from forgetmap.engine.backends import load_backend
    from forgetmap.engine.local_models import smollm2_gguf
    from forgetmap.engine.runner import evaluate

    t = time.perf_counter()
    backend = load_backend(name, str(smollm2_gguf()), batch_size=args.batch_size)
    load_s = time.perf_counter() - t
    batches: list = []
    orig = backend.generate

    def recording(reqs):  # noqa: ANN001, ANN202
        batches.append(list(reqs))
        return orig(reqs)

    from forgetmap.engine.types import GenRequest, SamplingParams

    warm = GenRequest(
        0, SamplingParams(max_new_tokens=4), text="Warm-up: the first call pays setup"
    )
    backend.generate([warm])  # first-call costs (allocations, kernels) on neither side
    harness, raw, tokens = [], [], 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    try:
        for rep in range(args.repeats):
            backend.generate = recording if rep == 0 else orig
            out = tmp / f"r{rep}"
            t = time.perf_counter()
            s = evaluate(
                "smollm2-135m-instruct",
                backend=backend,
                tasks=args.tasks,
                seeds=(0, 1),
                limit=args.limit,
                max_new_tokens=args.max_new_tokens,
                results=out,
                progress=False,
            )
            harness.append(time.perf_counter() - t)
            tokens = s.tokens_out
            t = time.perf_counter()
            raw_tokens = sum(r.n_tokens_out for b in batches for r in orig(b))
            raw.append(time.perf_counter() - t)
            assert raw_tokens == tokens, (raw_tokens, tokens)  # same work on both sides
        stock = _hf_stock(backend, batches, args) if name == "hf" else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        backend.close()
    h, r = min(harness), min(raw)
    extra = {}
    if stock:  # transformers' own sampler (one global seed): the cost of per-request seeding
        extra = {"stock_hf_generate_tokens_per_s": round(stock[1] / stock[0], 1)}
    return {
        "backend": name,
        "requests": sum(len(b) for b in batches),
        "tokens_out": tokens,
        "model_load_s": round(load_s, 2),
        "harness_s": round(h, 2),
        "raw_generate_s": round(r, 2),
        "ratio": round(h / r, 3),
        "tokens_per_s_harness": round(tokens / h, 1),
        "tokens_per_s_raw": round(tokens / r, 1),
        **extra,
    }


def _hf_stock(backend, batches: list, args: argparse.Namespace) -> tuple[float, int]:  # noqa: ANN001
    """Plain `model.generate(do_sample=True, ...)` on the same prompt batches (no per-row seeds,
    no per-row stop strings): (seconds, tokens generated until EOS)."""
    import torch

    tok, pad = backend.tok, backend.tok.pad_token_id
    secs, n_tokens = 0.0, 0
    for batch in batches:
        ids = [backend._prompt_ids(r) for r in batch]
        width = max(map(len, ids))
        x = torch.tensor([[pad] * (width - len(i)) + i for i in ids])
        mask = (
            torch.arange(width)[None, :] >= torch.tensor([width - len(i) for i in ids])[:, None]
        ).long()
        torch.manual_seed(0)
        t = time.perf_counter()
        with torch.inference_mode():
            out = backend.model.generate(
                input_ids=x, attention_mask=mask, do_sample=True, temperature=0.6, top_p=0.95,
                top_k=0, max_new_tokens=args.max_new_tokens, pad_token_id=pad,
            )  # fmt: skip
        secs += time.perf_counter() - t
        new = out[:, width:]
        n_tokens += int(sum(_until_eos(row.tolist(), tok.eos_token_id) for row in new))
    return secs, n_tokens


def _until_eos(row: list[int], eos: int) -> int:
    return row.index(eos) if eos in row else len(row)


def harness_only(args: argparse.Namespace) -> dict:
    """Pure harness cost per record: the same evaluate() with a backend that answers instantly."""
    from forgetmap.engine.backends.base import Backend
    from forgetmap.engine.runner import evaluate
    from forgetmap.engine.types import BackendInfo, GenResult

    class Instant(Backend):
        name, order, has_chat_template = "instant", "length", True

        def generate(self, reqs):  # noqa: ANN001, ANN202
            return [GenResult(r.key, "Step by step.\nAnswer: B", 100, 8, "stop") for r in reqs]

        def info(self) -> BackendInfo:
            return BackendInfo("instant", "-")

    tmp = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    try:
        evaluate("m", backend=Instant(), tasks=args.tasks, seeds=(0, 1), limit=50,
                 results=tmp / "warm", progress=False)  # fmt: skip
        t = time.perf_counter()
        s = evaluate("m", backend=Instant(), tasks=args.tasks, seeds=(0, 1, 2), limit=200,
                     results=tmp / "run", progress=False)  # fmt: skip
        dt = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "records": s.n_written,
        "seconds": round(dt, 3),
        "ms_per_record": round(1e3 * dt / s.n_written, 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backends", default="hf,llamacpp")
    p.add_argument("--tasks", default="bbh:navigate,mmlu:anatomy")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / ".bench" / "engine.json"))
    args = p.parse_args()
    os.environ.setdefault("FORGETMAP_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    rows = [bench_backend(b, args) for b in args.backends.split(",")]
    from rich.console import Console
    from rich.table import Table

    table = Table(title="forgetmap eval vs raw batched generate (same batches, CPU)")
    for col in rows[0]:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console(width=200).print(table)
    for row in rows:
        verdict = "OK" if row["ratio"] <= 1.10 else "ABOVE GOAL"
        print(f"{row['backend']}: harness/raw = {row['ratio']:.3f}x (goal <= 1.10x) {verdict}")
    only = harness_only(args)
    print(
        f"harness alone (instant backend): {only['records']} records in {only['seconds']}s = "
        f"{only['ms_per_record']} ms/record (tasks, prompts, resume check, extraction, Parquet, manifest)"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"backends": rows, "harness_only": only}, indent=2))


if __name__ == "__main__":
    main()
