"""lighteval custom task used by scripts/make_importer_fixtures.py (loaded by lighteval, not by us).

One tiny task in the study's style (arXiv 2510.17776's lighteval tasks): a zero-shot CoT prompt
asking for a last line `Answer: $LETTER`, the options as `A) ...` lines, letters as the Doc's
choices, scored by lighteval's letter extractive_match. The data is a local JSONL directory
(FORGETMAP_FIXTURE_TASK_DIR) of real ARC-Easy validation items; no Hub access.

With lighteval >= 0.11 two more tasks: `arc_letter_samples:easy` (the same prompt, two samples
per item through an `avg@n` metric with n=2 scored by the same letter match) and
`arc_loglik:easy` (loglikelihood over the option texts, `loglikelihood_acc`, on the 20 items of
FORGETMAP_FIXTURE_TASK_DIR20).
"""

import dataclasses
import os

from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

try:  # lighteval <= 0.10 (the study's version): the study's own letter metric
    from lighteval.metrics.dynamic_metrics import (
        IndicesExtractionConfig,
        multilingual_extractive_match_metric,
    )
    from lighteval.utils.language import Language

    LETTER_METRIC = multilingual_extractive_match_metric(
        language=Language.ENGLISH,
        gold_extraction_target=[IndicesExtractionConfig(prefix_for_extraction="NativeLetters")],
        pred_extraction_target=[IndicesExtractionConfig(prefix_for_extraction="NativeLetters")],
        precision=5,
    )
    SAMPLES_METRIC = LOGLIK_METRIC = None
except ImportError:  # lighteval >= 0.11
    import numpy as np
    from lighteval.metrics.metrics import Metrics
    from lighteval.metrics.metrics_sample import AvgAtN
    from lighteval.metrics.utils.metric_utils import SampleLevelMetric
    from lighteval.tasks.requests import SamplingMethod

    LETTER_METRIC = Metrics.gpqa_instruct_metric
    _letter = getattr(LETTER_METRIC, "value", LETTER_METRIC)
    SAMPLES_METRIC = SampleLevelMetric(
        metric_name="avg@n",
        sample_level_fn=AvgAtN(sample_scoring_function=_letter.sample_level_fn),
        category=SamplingMethod.GENERATIVE,
        corpus_level_fn=np.mean,
        higher_is_better=True,
    )(sample_params={"n": 2})
    LOGLIK_METRIC = Metrics.loglikelihood_acc

LETTERS = "ABCDEFGHIJ"
COT = (
    "Answer the following multiple choice science question.\n"
    'End with one line that reads "Answer: $LETTER" (for example "Answer: B").\n'
    "Reason through it step by step before you answer.\n"
    'Question: "{question}"'
)


def arc_letter(line, task_name: str = None):
    texts = line["choices"]["text"]
    query = "\n".join(
        [COT.format(question=line["question"])]
        + [f"{LETTERS[i]}) {t}" for i, t in enumerate(texts)]
    )
    letters = list(LETTERS[: len(texts)])
    extra = {}
    if os.environ.get("FORGETMAP_FIXTURE_NO_DOC_ID") != "1":  # the study's tasks set no doc id
        extra["id"] = line["id"]
    return Doc(
        task_name=task_name,
        query=query,
        choices=letters,
        gold_index=line["choices"]["label"].index(line["answerKey"]),
        instruction=query,
        **extra,
    )


def arc_loglik(line, task_name: str = None):
    """Plain loglikelihood multiple choice: the question, then each option text as continuation."""
    texts = line["choices"]["text"]
    return Doc(
        task_name=task_name,
        query=f"Question: {line['question']}\nAnswer:",
        choices=[f" {t}" for t in texts],
        gold_index=line["choices"]["label"].index(line["answerKey"]),
        id=line["id"],
    )


_FIELDS = {f.name for f in dataclasses.fields(LightevalTaskConfig)}
_KEY = "metrics" if "metrics" in _FIELDS else "metric"
_VERSIONED = {_KEY: [LETTER_METRIC]}
if "suite" in _FIELDS:
    _VERSIONED["suite"] = ["community"]

TASKS_TABLE = [
    LightevalTaskConfig(
        name=os.environ.get("FORGETMAP_FIXTURE_TASK_NAME", "arc_reasoning_letter:easy"),
        prompt_function=arc_letter,
        hf_repo=os.environ["FORGETMAP_FIXTURE_TASK_DIR"],
        hf_subset="default",
        hf_avail_splits=["train"],
        evaluation_splits=["train"],
        few_shots_split=None,
        few_shots_select=None,
        generation_size=6,
        stop_sequence=["Question: "],
        **_VERSIONED,
    ),
    *(
        [
            LightevalTaskConfig(
                name="arc_letter_samples:easy",
                prompt_function=arc_letter,
                hf_repo=os.environ["FORGETMAP_FIXTURE_TASK_DIR"],
                hf_subset="default",
                hf_avail_splits=["train"],
                evaluation_splits=["train"],
                few_shots_split=None,
                few_shots_select=None,
                generation_size=6,
                stop_sequence=["Question: "],
                **{**_VERSIONED, _KEY: [LETTER_METRIC, SAMPLES_METRIC]},
            ),
            LightevalTaskConfig(
                name="arc_loglik:easy",
                prompt_function=arc_loglik,
                hf_repo=os.environ.get("FORGETMAP_FIXTURE_TASK_DIR20", ""),
                hf_subset="default",
                hf_avail_splits=["train"],
                evaluation_splits=["train"],
                few_shots_split=None,
                few_shots_select=None,
                generation_size=-1,
                stop_sequence=None,
                **{**_VERSIONED, _KEY: [LOGLIK_METRIC]},
            ),
        ]
        if SAMPLES_METRIC is not None
        else []
    ),
]
