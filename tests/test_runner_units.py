"""The runner's bookkeeping on real tasks and data, with an instant stand-in backend (no model:
the model-backed runs are in test_engine_e2e.py): task kinds, flush batches, resume keys, failures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from forgetmap.engine.backends.base import Backend
from forgetmap.engine.runner import evaluate
from forgetmap.engine.types import BackendInfo, GenRequest, GenResult
from forgetmap.errors import ForgetmapError
from forgetmap.records import ResultsStore


class Instant(Backend):
    """Answers every request at once with `answer`; can fail after `fail_after` requests."""

    name, order = "instant", "prefix"

    def __init__(
        self, answer: str = "Step by step.\nAnswer: 3", chat: bool = True, fail_after=None
    ):
        self.answer, self.chat, self.fail_after, self.seen = answer, chat, fail_after, []
        self.batch_size = 4

    @property
    def has_chat_template(self) -> bool:
        return self.chat

    def generate(self, reqs: Sequence[GenRequest]) -> list[GenResult]:
        if self.fail_after is not None and len(self.seen) >= self.fail_after:
            raise ForgetmapError("server went away")
        self.seen.extend(reqs)
        return [GenResult(r.key, self.answer, 50, 5, "stop") for r in reqs]

    def info(self) -> BackendInfo:
        return BackendInfo("instant", "-", has_chat_template=self.chat)


def test_free_form_numeric_options_and_ifeval(data_dir: Path, tmp_path: Path) -> None:
    tasks = "bbh:multistep_arithmetic_two,bbh:object_counting,ifeval:prompts"
    evaluate(
        "m", backend=Instant(), tasks=tasks, seeds=(0,), limit=3, results=tmp_path, progress=False
    )
    rows = ResultsStore(tmp_path).read().to_pylist()
    assert len(rows) == 9
    for r in rows:
        if r["task"] == "bbh:multistep_arithmetic_two":  # free-form: no k, pred is the answer text
            assert r["n_choices"] is None and r["pred"] == "3"
            assert r["correct"] == (r["gold"].strip() == "3")
        elif r["task"] == "bbh:object_counting":  # numeric options: "3" is the option "3"
            assert r["n_choices"] == 19 and r["pred"] == "D" and r["correct"] == (r["gold"] == "D")
        else:  # IFEval: pass/fail per prompt, no chance term
            assert r["gold"] == "pass" and r["pred"] in ("pass", "fail") and r["n_choices"] is None


def test_flush_batches_and_seed_order(data_dir: Path, tmp_path: Path) -> None:
    b = Instant()
    evaluate("m", backend=b, tasks="bbh:navigate", seeds=(0, 1, 2), limit=5, results=tmp_path,
             flush_size=4, progress=False)  # fmt: skip
    parts = ResultsStore(tmp_path).files(["m"])
    assert len(parts) == 4  # 15 records in batches of 4 requests: 4+4+4+3
    # the seeds of one prompt are sent next to each other
    texts = [r.messages[0]["content"] for r in b.seen]
    assert all(texts[i] == texts[i + 1] == texts[i + 2] for i in range(0, 15, 3))
    assert [r.sampling.seed for r in b.seen][:3] == [0, 1, 2]


def test_changed_prompt_is_not_skipped(data_dir: Path, tmp_path: Path) -> None:
    run = dict(tasks="mmlu:anatomy", seeds=(0, 1), limit=2, results=tmp_path, progress=False)
    evaluate("m", backend=Instant(), elicitation="cot_chat", **run)
    s = evaluate("m", backend=Instant(), elicitation="cot_chat", **run)
    assert (s.n_skipped, s.n_written) == (4, 0)
    # the same items with another prompt: never mixed with the stored ones, never stored twice
    with pytest.raises(ForgetmapError, match="4 item.*another prompt.*--model-name"):
        evaluate("m", backend=Instant(chat=False), elicitation="cot_fewshot", **run)
    s = evaluate("m", backend=Instant(chat=False), elicitation="cot_fewshot", **run,
                 on_duplicate="skip")  # fmt: skip
    assert (s.n_skipped, s.n_written) == (4, 0)  # kept the stored ones
    s = evaluate("m", backend=Instant(chat=False), elicitation="cot_fewshot", **run,
                 on_duplicate="replace")  # fmt: skip
    assert (s.n_skipped, s.n_written) == (0, 4)  # evaluated again, replacing them
    t = ResultsStore(tmp_path).read()
    assert t.num_rows == 4 and set(t.column("elicitation").to_pylist()) == {"cot_fewshot"}
    # explicit elicitation and nothing left to do: returns without loading any model
    s = evaluate("m", backend="llamacpp", elicitation="cot_fewshot", **run)
    assert (s.n_skipped, s.n_written) == (4, 0)


def test_failure_mid_run_keeps_flushed_records_and_says_interrupted(
    data_dir: Path, tmp_path: Path
) -> None:
    run = dict(tasks="bbh:navigate", seeds=(0, 1), limit=6, results=tmp_path, progress=False)
    with pytest.raises(ForgetmapError, match="server went away"):
        evaluate("m", backend=Instant(fail_after=8), flush_size=4, **run)
    store = ResultsStore(tmp_path)
    assert store.read().num_rows == 8
    (run_id,) = store.runs("m")
    assert store.read_manifest("m", run_id)["status"] == "interrupted"
    s = evaluate("m", backend=Instant(), **run)
    assert (s.n_skipped, s.n_written) == (8, 4) and store.read().num_rows == 12


def test_bad_arguments(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ForgetmapError, match="distinct"):
        evaluate("m", backend=Instant(), tasks="bbh:navigate", seeds=(0, 0), results=tmp_path)
    with pytest.raises(ForgetmapError, match="unknown elicitation"):
        evaluate("m", backend=Instant(), tasks="bbh:navigate", elicitation="zero", results=tmp_path)
    with pytest.raises(ForgetmapError, match="no chat template"):
        evaluate("m", backend=Instant(chat=False), tasks="bbh:navigate", elicitation="cot_chat",
                 results=tmp_path, limit=1)  # fmt: skip
