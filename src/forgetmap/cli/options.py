"""Click options that several commands share, declared once (same name, type and meaning
everywhere)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def results_option(help: str = "Results directory.", required: bool = True) -> Callable[[F], F]:
    """`--results DIR` (a `pathlib.Path`): where per-sample records live."""
    return click.option(
        "--results",
        "results",
        required=required,
        type=click.Path(file_okay=False, path_type=Path),
        help=help,
    )


def data_dir_option(
    help: str = "Folder of official benchmark files (default: $FORGETMAP_DATA_DIR).",
) -> Callable[[F], F]:
    """`--data-dir DIR` (a str or None): local benchmark files."""
    return click.option("--data-dir", type=click.Path(file_okay=False), default=None, help=help)


def protocol_option(
    help: str = "How benchmarks are asked and scored: a built-in protocol (forgetmap, study-like), "
    "study (the study's own prompts, read from --study-repo) or a protocol YAML file; default "
    "forgetmap (docs/protocols.md).",
) -> Callable[[F], F]:
    """`--protocol NAME|FILE` (a str or None), and `--study-repo DIR` for the `study` protocol
    (sets FORGETMAP_STUDY_REPO for this process, read wherever the protocol is loaded; the
    command does not receive it)."""

    def add(fn: F) -> F:
        fn = click.option(
            "--study-repo",
            type=click.Path(file_okay=False),
            default=None,
            expose_value=False,
            callback=_set_study_repo,
            help="A checkout of the study's code (post-forget/post-forget) for --protocol study; "
            "default: $FORGETMAP_STUDY_REPO.",
        )(fn)
        return click.option("--protocol", default=None, help=help)(fn)

    return add


def _set_study_repo(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        os.environ["FORGETMAP_STUDY_REPO"] = value


def selection_options() -> Callable[[F], F]:
    """`--suite`, `--tasks`, `--seeds`, `--limit` (strs; limit an int or None): which items an
    evaluation runs, the same for `eval` and `track`."""

    def add(fn: F) -> F:
        for opt in reversed(
            [
                click.option("--suite", default=None, help="Suite name (see `forgetmap tasks`)."),
                click.option(
                    "--tasks", default=None, help="Comma-separated tasks; globs allowed (mmlu:*)."
                ),
                click.option("--seeds", default="0,1,2", show_default=True, help="Sampling seeds."),
                click.option(
                    "--limit",
                    type=click.IntRange(min=1),
                    default=None,
                    help="First N items per task.",
                ),
            ]
        ):
            fn = opt(fn)
        return fn

    return add


def chance_k_option() -> Callable[[F], F]:
    """`--chance-k item|nominal|N` (a str): the options compare's chance terms count."""
    return click.option(
        "--chance-k",
        default="item",
        show_default=True,
        help="Options the chance terms and ceilings count: item (each item's own k), nominal "
        "(the registry's declared k, e.g. BBH's) or N for every multiple-choice item (4: the "
        "study's convention outside BBH).",
    )


def multi_answer_option() -> Callable[[F], F]:
    """`--multi-answer exact_set|any_gold` (a str or None): rescore letter-set tasks."""
    return click.option(
        "--multi-answer",
        type=click.Choice(["exact_set", "any_gold"]),
        default=None,
        help="Rescore letter-set tasks (SALAD-Bench) from pred and gold: exact_set (exactly the "
        "gold letters) or any_gold (every predicted letter gold, as the study); default: as "
        "recorded.",
    )
