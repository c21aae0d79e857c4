"""`forgetmap track`: forgetting along a training run (checkpoints vs base) -> curve files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from forgetmap.cli.eval_cmd import _seeds
from forgetmap.cli.options import (
    data_dir_option,
    protocol_option,
    results_option,
    selection_options,
)
from forgetmap.engine.backends import BACKENDS
from forgetmap.errors import ForgetmapError
from forgetmap.records.schema import ELICITATIONS


@click.command("track")
@click.option(
    "--base",
    default=None,
    help="The model the run started from: Hub id, local dir, FILE.gguf or a small-model alias. "
    "Also the base a PEFT adapter checkpoint is loaded on.",
)
@click.option(
    "--checkpoints",
    default=None,
    help="A folder of Trainer checkpoint-<step> folders (full weights or PEFT adapters) and/or "
    "GGUF files with a step in the name, or a glob of them. Without it, the curve is drawn from "
    "records of --run-name already in --results.",
)
@click.option(
    "--run-name", default=None, help="The run's name (default: the checkpoints folder's)."
)
@click.option("--base-name", default=None, help="The base's model name (default: --base as given).")
@selection_options()
@click.option(
    "--elicitation",
    type=click.Choice(ELICITATIONS),
    default="loglik",
    show_default=True,
    help="loglik scores the options' log-likelihood (fast, no generation).",
)
@protocol_option()
@click.option("--backend", type=click.Choice(list(BACKENDS)), default="hf", show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=2048, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@results_option()
@data_dir_option()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for curve.csv, curve.png/svg, items_first_forgotten.csv, index.html.",
)
@click.option(
    "--watch",
    type=click.FloatRange(min=1.0),
    default=None,
    metavar="SECONDS",
    help="Poll the checkpoints folder every SECONDS for new checkpoints until Ctrl-C.",
)
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--no-report", is_flag=True, help="Skip the full report (OUT/report/).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def track_command(**o: Any) -> None:
    """Evaluate the checkpoints of a training run against its base; draw forgetting vs step."""
    from forgetmap.track.run import run_track

    if o["checkpoints"] is not None and not o["suite"] and not o["tasks"]:
        raise ForgetmapError("give --suite NAME or --tasks T1,T2,... (what to evaluate)")
    console = Console(stderr=True)
    result = run_track(
        o["base"],
        o["checkpoints"],
        results=o["results"],
        out=o["out"],
        run_name=o["run_name"],
        base_name=o["base_name"],
        tasks=o["tasks"],
        suite=o["suite"],
        seeds=_seeds(str(o["seeds"])),
        elicitation=o["elicitation"],
        backend=str(o["backend"]),
        limit=o["limit"],
        data_dir=o["data_dir"],
        protocol=o["protocol"],
        watch=o["watch"],
        bootstrap=int(o["bootstrap"]),
        report=not o["no_report"],
        progress=not o["no_progress"],
        console=console,
        max_new_tokens=int(o["max_new_tokens"]),
        batch_size=o["batch_size"],
    )
    if o["as_json"]:
        click.echo(
            json.dumps(
                {
                    "run": result.run,
                    "base": result.base,
                    "steps": result.steps,
                    "n_written": result.n_written,
                    "evaluated": [s.model for s in result.evaluations if s.n_written],
                    "skipped": result.notes,
                    "files": {k: str(v) for k, v in result.files.items()},
                }
            )
        )
        return
    console.print(
        f"[bold]{escape(result.run)}[/]: {len(result.steps)} checkpoint(s) vs "
        f"{escape(result.base)}, {result.n_written} record(s) written -> "
        f"{escape(str(result.files['index.html']))}",
        highlight=False,
    )


commands = [track_command]
