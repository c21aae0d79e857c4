"""`forgetmap demo [--out DIR] [--quick]`: the offline CPU demo, end to end."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-out"),
    show_default=True,
    help="Where results and the report go.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A smaller run of the same pipeline (2 items per task; what the tests run).",
)
def demo(out: Path, quick: bool) -> None:
    """Quantize SmolLM2-135M-Instruct, evaluate before/after with 3 seeds, compare, report."""
    from forgetmap.study.demo import run_demo

    run_demo(out, quick=quick)


commands = [demo]
