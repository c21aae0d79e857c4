"""`forgetmap eval`: evaluate one model on tasks x seeds into a results directory."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from forgetmap.cli.options import (
    data_dir_option,
    protocol_option,
    results_option,
    selection_options,
)
from forgetmap.engine.backends import BACKEND_OPTIONS, BACKENDS, backend_options
from forgetmap.errors import ForgetmapError
from forgetmap.records import DUPLICATE_POLICIES
from forgetmap.records.schema import ELICITATIONS


def _seeds(value: str) -> list[int]:
    try:
        out = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise ForgetmapError(f"--seeds must be comma-separated integers, got {value!r}") from None
    if not out:
        raise ForgetmapError("--seeds is empty")
    return out


@click.command("eval")
@click.option(
    "--model",
    required=True,
    help="Hub id, local dir, FILE.gguf, or a small-model alias "
    "(smollm2-135m-instruct, gemma3-270m); the served model name for --backend openai.",
)
@click.option(
    "--backend",
    type=click.Choice(list(BACKENDS)),
    default="hf",
    show_default=True,
)
@selection_options()
@click.option(
    "--elicitation",
    type=click.Choice(ELICITATIONS),
    default=None,
    help="Default: cot_chat if the model has a chat template, else cot_fewshot.",
)
@protocol_option()
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=32768, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0.0), default=0.6, show_default=True)
@click.option("--top-p", type=click.FloatRange(min=0.0, max=1.0), default=0.95, show_default=True)
@results_option()
@data_dir_option()
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Requests per engine call (hf: per forward batch).",
)
@click.option("--base-url", default=None, help="OpenAI-compatible server (--backend openai).")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel requests to the server (--backend openai; default 16).",
)
@click.option(
    "--tensor-parallel-size",
    type=click.IntRange(min=1),
    default=None,
    help="GPUs per vLLM engine (--backend vllm; default 1).",
)
@click.option(
    "--max-model-len",
    type=click.IntRange(min=1),
    default=None,
    help="Context length (vllm, llamacpp).",
)
@click.option(
    "--data-parallel",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Engine replicas as Ray actors (RAY_ADDRESS joins a cluster).",
)
@click.option(
    "--model-name", default=None, help="Label for the records (default: --model as given)."
)
@click.option("--trust-remote-code", is_flag=True, help="Allow the model repo's own Python code.")
@click.option(
    "--dtype",
    type=click.Choice(["auto", "float32", "bfloat16", "float16"]),
    default="auto",
    show_default=True,
    help="hf weights dtype (auto: bf16 on GPU, fp32 on CPU).",
)
@click.option(
    "--deterministic",
    is_flag=True,
    help="hf: deterministic torch kernels, so a GPU rerun reproduces responses (slower).",
)
@click.option(
    "--flush-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Records per atomic write (a crash loses at most this many).",
)
@click.option("--run-id", default=None, help="Run id (default: timestamp + random).")
@click.option(
    "--on-duplicate",
    type=click.Choice(DUPLICATE_POLICIES),
    default="error",
    show_default=True,
    help="Items already stored for this model name with another prompt (changed prompts or "
    "elicitation): refuse, keep the stored records, or evaluate again and replace them.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def eval_command(**o: Any) -> None:
    """Evaluate a model on tasks x seeds; resumes where a previous run stopped."""
    from forgetmap.engine.runner import evaluate

    if not o["suite"] and not o["tasks"]:
        raise ForgetmapError("give --suite NAME or --tasks T1,T2,...")
    kw = backend_options(
        str(o["backend"]),
        **{name: o[name] for name in BACKEND_OPTIONS},
    )
    _term_as_exit()
    summary = evaluate(
        model=str(o["model"]),
        backend=str(o["backend"]),
        tasks=o["tasks"],
        suite=o["suite"],
        seeds=_seeds(str(o["seeds"])),
        results=str(o["results"]),
        elicitation=o["elicitation"],
        protocol=o["protocol"],
        limit=o["limit"],
        max_new_tokens=int(o["max_new_tokens"]),
        temperature=float(o["temperature"]),
        top_p=float(o["top_p"]),
        data_dir=o["data_dir"],
        batch_size=o["batch_size"],
        model_name=o["model_name"],
        data_parallel=int(o["data_parallel"]),
        flush_size=int(o["flush_size"]),
        run_id=o["run_id"],
        on_duplicate=str(o["on_duplicate"]),
        progress=not o["no_progress"],
        trust_remote_code=bool(o["trust_remote_code"]),
        **kw,
    )
    m = summary.manifest
    if o["as_json"]:
        click.echo(
            json.dumps(
                {
                    "model": summary.model,
                    "run_id": summary.run_id,
                    "elicitation": summary.elicitation,
                    "protocol": m.get("protocol", {}).get("name"),
                    "n_planned": summary.n_planned,
                    "n_skipped": summary.n_skipped,
                    "n_written": summary.n_written,
                    "n_concurrent": summary.n_concurrent,
                    "elapsed_s": round(summary.elapsed_s, 3),
                    "tokens_in": summary.tokens_in,
                    "tokens_out": summary.tokens_out,
                    "throughput": m.get("throughput"),
                }
            )
        )
        return
    Console(stderr=True).print(
        f"[bold]{escape(summary.model)}[/]: wrote {summary.n_written} record(s), "
        f"{summary.n_skipped} already done, "
        + (f"{summary.n_concurrent} stored by a concurrent run, " if summary.n_concurrent else "")
        + f"{summary.n_planned} planned "
        f"({summary.elicitation}, protocol {m.get('protocol', {}).get('name', '?')}) "
        f"in {summary.elapsed_s:.1f}s; "
        f"{summary.tokens_out} tokens out -> {summary.results}"
    )


def _term_as_exit() -> None:
    """SIGTERM (Slurm preemption, `kill`) unwinds like Ctrl-C: pending records are flushed and the
    manifest says `interrupted`; a rerun resumes. SIGKILL cannot be caught; it loses at most the
    unflushed batch."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():

        def handler(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, handler)


commands = [eval_command]
