"""`forgetmap compare`: forgetting and backward transfer for one pair or a pairs file."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from forgetmap.analysis.compare import ON_MISMATCH
from forgetmap.atomic import atomic_write, atomic_write_text, check_output
from forgetmap.cli.options import chance_k_option, multi_answer_option, results_option
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore
from forgetmap.report.terminal import noise_words, summary_table

err_console = Console(stderr=True)


def _pairs_from_options(
    before: str | None, after: str | None, pairs_file: Path | None
) -> list[tuple[str, str]]:
    from forgetmap.analysis.pairing import read_pairs_file

    if pairs_file is not None:
        if before or after:
            raise ForgetmapError("give either --before/--after or --pairs FILE, not both")
        return read_pairs_file(pairs_file)
    if not (before and after):
        raise ForgetmapError(
            "give --before A --after B, or --pairs FILE (one 'before<TAB>after' per line)"
        )
    return [(before, after)]


@click.command("compare")
@results_option()
@click.option("--before", help="Model before the post-training stage.")
@click.option("--after", help="Model after the post-training stage.")
@click.option(
    "--pairs",
    "pairs_file",
    type=click.Path(path_type=Path),
    help="File with one 'before<TAB>after' pair per line.",
)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), help="Write the full result as JSON."
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(path_type=Path),
    help="Write all per-(task, seed) cells as CSV.",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap replicates for the 95% CIs (0: no CIs).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap RNG seed.")
@chance_k_option()
@multi_answer_option()
@click.option(
    "--on-mismatch",
    type=click.Choice(ON_MISMATCH),
    default="warn",
    show_default=True,
    help="Paired items whose gold, options or question differ between the two sides (e.g. two "
    "dataset revisions): compare them with a warning, leave them out (counted as unpaired), or "
    "stop.",
)
@click.option("--quiet", is_flag=True, help="No table on the terminal (warnings still shown).")
def compare_cmd(
    results: Path,
    before: str | None,
    after: str | None,
    pairs_file: Path | None,
    json_out: Path | None,
    csv_out: Path | None,
    bootstrap: int,
    seed: int,
    chance_k: str,
    multi_answer: str | None,
    on_mismatch: str,
    quiet: bool,
) -> None:
    """Chance-corrected forgetting (1→0) and backward transfer (0→1) between paired models."""
    from forgetmap.analysis.compare import compare

    pairs = _pairs_from_options(before, after, pairs_file)
    for out in (json_out, csv_out):
        if out is not None:
            check_output(out)  # before the work, not after it
    store = ResultsStore(results)
    store.check_root()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with err_console.status(f"comparing {len(pairs)} pair(s)…"):
            result = compare(
                store,
                pairs,
                bootstrap=bootstrap,
                seed=seed,
                chance_k=chance_k,
                multi_answer=multi_answer,
                on_mismatch=on_mismatch,
            )
    for w in caught:
        err_console.print(Text("warning: ", style="bold yellow") + Text(str(w.message)))
    if json_out is not None:
        atomic_write_text(json_out, result.to_json())
    if csv_out is not None:
        import pyarrow.csv as pacsv

        table = result.cells_table()
        atomic_write(csv_out, lambda p: pacsv.write_csv(table, str(p)))
    if not quiet:
        console = Console()
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console = Console(width=120)  # pipes and logs: room for the summary table
        for pr in result.pairs:
            console.print(summary_table(pr))
            words = noise_words(pr)
            if words:
                console.print(words, highlight=False)
    for path in (json_out, csv_out):
        if path is not None:
            err_console.print(f"wrote {path}")


commands = [compare_cmd]
