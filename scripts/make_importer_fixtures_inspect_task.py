"""inspect_ai task used by scripts/make_importer_fixtures.py (loaded by `inspect eval`, not by us).

Real ARC-Easy validation items from a local JSONL file (FORGETMAP_FIXTURE_TASK_FILE), inspect's
own multiple_choice() solver and choice() scorer; no Hub access. Task args (`-T`):
`scorers=choice,includes` adds a second scorer; `fail_on=ID` makes the solver raise on that
sample, so the eval ends with status "error" (a real errored log).
"""

import os

from inspect_ai import Task, task
from inspect_ai.dataset import Sample, json_dataset
from inspect_ai.scorer import choice, includes
from inspect_ai.solver import Generate, TaskState, multiple_choice, solver

SCORERS = {"choice": choice, "includes": includes}


def record_to_sample(r):
    letters = "ABCDEFGHIJ"
    return Sample(
        id=r["id"],
        input=r["question"],
        choices=r["choices"]["text"],
        target=letters[r["choices"]["label"].index(r["answerKey"])],
        metadata={"category": "science"},
    )


@solver
def fail_on(sample_id: str):
    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if str(state.sample_id) == sample_id:
            raise RuntimeError(f"fixture: deliberate failure on sample {sample_id}")
        return state

    return solve


@task
def arc_mini(scorers: str | list[str] = "choice", fail_on_id: str = ""):
    names = scorers.split(",") if isinstance(scorers, str) else list(scorers)  # -T a,b: a list
    solvers = ([fail_on(fail_on_id)] if fail_on_id else []) + [multiple_choice()]
    return Task(
        dataset=json_dataset(os.environ["FORGETMAP_FIXTURE_TASK_FILE"], record_to_sample),
        solver=solvers,
        scorer=[SCORERS[s]() for s in names],
    )
