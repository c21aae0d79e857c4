"""`forgetmap merge CONFIG.yaml --out DIR`: a mergekit linear/SLERP merge of two models."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from forgetmap.errors import ForgetmapError

console = Console(stderr=True)


def parse_model_map(entries: tuple[str, ...]) -> dict[str, str]:
    """`ID=PATH` pairs (use a local copy of a model named in the config) -> dict."""
    out: dict[str, str] = {}
    for e in entries:
        if "=" not in e:
            raise ForgetmapError(f"--model-path {e!r}: expected ID=PATH")
        key, _, val = e.partition("=")
        if not key or not val:
            raise ForgetmapError(f"--model-path {e!r}: expected ID=PATH")
        out[key] = val
    return out


@click.command("merge")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the merged model (HF format).",
)
@click.option(
    "--model-path",
    "model_paths",
    multiple=True,
    metavar="ID=PATH",
    help="Use a local directory for a model id named in the config (repeatable).",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--overwrite", is_flag=True, help="Redo a merge that already exists in --out.")
def merge(config: Path, out_dir: Path, model_paths: tuple[str, ...], device: str,
          overwrite: bool) -> None:  # fmt: skip
    """Merge two models with mergekit (linear weights or SLERP with t and a base model)."""
    from forgetmap.merge.config import load_merge
    from forgetmap.merge.mergekit_runner import run_merge

    spec = load_merge(config)
    console.print(f"merging [bold]{spec.name}[/]: {spec.describe()}")
    with console.status("running mergekit…"):
        out = run_merge(spec, out_dir, model_map=parse_model_map(model_paths), device=device,
                        overwrite=overwrite)  # fmt: skip
    click.echo(str(out))


commands = [merge]
