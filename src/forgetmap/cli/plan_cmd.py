"""`forgetmap plan`: items and seeds needed to detect a given forgetting (docs/statistics.md)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from forgetmap.cli.options import data_dir_option


def _targets(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, ...]:
    from forgetmap.analysis.plan import DEFAULT_TARGETS

    if not value:
        return DEFAULT_TARGETS
    try:
        out = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected numbers like 0.02,0.05, got {value!r}") from None
    if not out or any(not 0 < t < 1 for t in out):
        raise click.BadParameter("targets are fractions in (0, 1), e.g. 0.02 for 2 points")
    return out


@click.command("plan")
@click.option("--suite", default=None, help="Named suite (paper, paper-base, quick, ...).")
@click.option("--tasks", default=None, help="Tasks T1,T2 (globs allowed), as for eval.")
@click.option("--seeds", type=int, default=3, show_default=True, help="Sampling seeds (1-8).")
@click.option("--acc", type=float, default=0.6, show_default=True, help="Accuracy of the models.")
@click.option(
    "--consistency",
    type=float,
    default=0.9,
    show_default=True,
    help="Chance that a known item is answered right on one sample (the sampling noise).",
)
@click.option(
    "--items",
    type=click.IntRange(min=2),
    default=None,
    help="Items per task (default: count them in the benchmark files).",
)
@click.option(
    "--detect",
    callback=_targets,
    default=None,
    help="Forgetting (F_true beyond noise, fraction) to detect: 0.01,0.02,0.05 by default.",
)
@data_dir_option()
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
def plan_cmd(
    suite: str | None,
    tasks: str | None,
    seeds: int,
    acc: float,
    consistency: float,
    items: int | None,
    detect: tuple[float, ...],
    data_dir: str | None,
    as_json: bool,
) -> None:
    """Minimum detectable forgetting per category and the items/seeds a design needs
    (80% power, alpha = 0.05, forgetting beyond the sampling-noise floor)."""
    from forgetmap.analysis.plan import design_tasks, plan

    design, left_out = design_tasks(suite, tasks, items=items, data_dir=data_dir)
    result = plan(
        design, seeds, acc, consistency, detect, lift_cap=items is not None, left_out=left_out
    )
    if as_json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    print_plan(result, console)


def print_plan(result: dict[str, Any], console: Console) -> None:
    """The plan as terminal tables (numbers x100, i.e. points of F_true)."""
    from forgetmap.report.fit_table import Column, FitTable, print_table

    d = result["design"]
    t = FitTable(
        f"Minimum detectable F_true beyond noise (x100): {d['seeds']} seed(s), accuracy "
        f"{d['acc']:.2f}, consistency {d['consistency']:.2f}",
        [Column("category", "left"), Column("tasks"), Column("items"), Column("MDE")],
        caption="80% power, two-sided alpha = 0.05"
        + ("; one seed: no noise floor, MDE of F_true itself" if d["seeds"] == 1 else ""),
    )
    from forgetmap.report.model import order_categories

    names = [*order_categories(n for n in result["mde"] if n != "Total"), "Total"]
    for name in names:
        row = result["mde"][name]
        t.add_row(
            name,
            str(row["tasks"]),
            f"{row['items']:,}",
            f"{100 * row['mde_F_true']:.1f}",
            style="bold" if name == "Total" else None,
        )
    print_table(t, console)
    for block in result["detect"]:
        need = block["items_per_task"]
        grid = list(need)
        t = FitTable(
            f"Items per task to detect F_true = {100 * block['target']:g} point"
            + ("" if block["target"] == 0.01 else "s"),
            [Column("category", "left"), *(Column(f"{s} seed" + ("s" if s != "1" else "")) for s in grid)],
            caption="—: not reachable with these tasks' items (more seeds or tasks needed)",
        )  # fmt: skip
        for name in names:
            t.add_row(
                name,
                *("—" if need[s][name] is None else f"{need[s][name]:,}" for s in grid),
                style="bold" if name == "Total" else None,
            )
        print_table(t, console)
    for msg in d.get("left_out") or []:
        console.print(f"[yellow]warning:[/] {escape(msg)}", soft_wrap=True, highlight=False)


commands = [plan_cmd]
