"""lighteval custom task used by scripts/make_importer_fixtures.py (loaded by lighteval, not by us).

One tiny task in the study's style (arXiv 2510.17776's lighteval tasks): a zero-shot CoT prompt
asking for a last line `Answer: $LETTER`, the options as `A) ...` lines, letters as the Doc's
choices, scored by lighteval's letter extractive_match. The data is a local JSONL directory
(FORGETMAP_FIXTURE_TASK_DIR) of real ARC-Easy validation items; no Hub access.
"""

import os

from lighteval.metrics.metrics import Metrics
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

LETTERS = "ABCDEFGHIJ"
COT = (
    "Answer the following multiple choice science question.\n"
    'On the very last line, write exactly "Answer: $LETTER" (e.g. "Answer: B").\n'
    "Think step by step, showing your reasoning.\n"
    'Question: "{question}"'
)


def arc_letter(line, task_name: str = None):
    texts = line["choices"]["text"]
    query = "\n".join(
        [COT.format(question=line["question"])]
        + [f"{LETTERS[i]}) {t}" for i, t in enumerate(texts)]
    )
    letters = list(LETTERS[: len(texts)])
    return Doc(
        task_name=task_name,
        query=query,
        choices=letters,
        gold_index=line["choices"]["label"].index(line["answerKey"]),
        instruction=query,
        id=line["id"],
    )


TASKS_TABLE = [
    LightevalTaskConfig(
        name="arc_reasoning_letter:easy",
        prompt_function=arc_letter,
        hf_repo=os.environ["FORGETMAP_FIXTURE_TASK_DIR"],
        hf_subset="default",
        hf_avail_splits=["train"],
        evaluation_splits=["train"],
        few_shots_split=None,
        few_shots_select=None,
        metrics=[Metrics.gpqa_instruct_metric],
        generation_size=16,
        stop_sequence=["Question: "],
    )
]
