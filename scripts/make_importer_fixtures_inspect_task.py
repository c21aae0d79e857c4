"""inspect_ai task used by scripts/make_importer_fixtures.py (loaded by `inspect eval`, not by us).

Real ARC-Easy validation items from a local JSONL file (FORGETMAP_FIXTURE_TASK_FILE), inspect's
own multiple_choice() solver and choice() scorer; no Hub access.
"""

import os

from inspect_ai import Task, task
from inspect_ai.dataset import Sample, json_dataset
from inspect_ai.scorer import choice
from inspect_ai.solver import multiple_choice


def record_to_sample(r):
    letters = "ABCDEFGHIJ"
    return Sample(
        id=r["id"],
        input=r["question"],
        choices=r["choices"]["text"],
        target=letters[r["choices"]["label"].index(r["answerKey"])],
        metadata={"category": "science"},
    )


@task
def arc_mini():
    return Task(
        dataset=json_dataset(os.environ["FORGETMAP_FIXTURE_TASK_FILE"], record_to_sample),
        solver=multiple_choice(),
        scorer=choice(),
    )
