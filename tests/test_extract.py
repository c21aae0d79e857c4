"""Answer extraction: each rule, the traps that must not produce an answer, free-form answers,
`reextract` on an Arrow table, and the floors on the hand-labelled set of real model outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from forgetmap.suite import extract as extract_mod
from forgetmap.suite.extract import (
    RULE_TABLE,
    RULES,
    AnswerMode,
    Extraction,
    Resolution,
    Scope,
    Status,
    answer_mode_for,
    extract,
    extract_row,
    is_correct,
    normalize_free_form,
    reextract,
    rule_names,
    rules_markdown,
)

LABELLED = Path(__file__).parent / "fixtures" / "extraction" / "labelled.jsonl"
ROOT = Path(__file__).resolve().parents[1]
CAPITALS = ["Paris", "London", "Berlin", "Rome"]
COUNTS = [str(i) for i in range(19)]  # BBH object_counting options 0..18
YESNO = ["Yes", "No"]


@pytest.mark.parametrize(
    ("response", "pred", "rule"),
    [
        ("Paris is the capital.\nAnswer: A", "A", "answer_line"),
        ("Reasoning...\n**Answer:** C\n", "C", "answer_tag"),
        ("Final Answer: (B) London", "B", "answer_tag"),
        ("Answer: B.\nHope this helps!", "B", "answer_tag"),
        ("**Answer:**\n\nD", "D", "answer_tag"),
        ("So the correct answer is (D).", "D", "answer_is"),
        ("The answer is B because London is big.", "B", "answer_is"),
        ("The final answer is $\\boxed{C}$", "C", "answer_is"),
        ("Therefore: $\\boxed{\\text{C}}$", "C", "boxed"),
        ("I pick **B** here, **B** is right.", "B", "bold"),
        ("```python\nanswer = 'D'\n```", "D", "code"),
        ('```python\nprint("A")\n```', "A", "code"),
        ("Looking at it, it must be (C).", "C", "paren_end"),
        ("Considering all of them.\nB", "B", "lone_letter"),
        ("Considering all of them.\nOption C.", "C", "lone_letter"),
        ("Considering all of them.\nB) London", "B", "lone_letter"),
        ("Hmm.\nBerlin", "C", "option_text"),
        ("```\nAnswer: C\n```", "C", "answer_line"),
        ("<think>Answer: A ... wait</think>\nAnswer: D", "D", "answer_line"),
        ("Answer: 2", "B", "answer_tag:index"),
        ("Answer: Rome", "D", "answer_tag:text"),
    ],
)
def test_rules(response: str, pred: str, rule: str) -> None:
    got = extract(response, CAPITALS)
    assert (got.pred, got.status, got.rule) == (pred, "ok", rule)


@pytest.mark.parametrize(
    "response",
    [
        "",
        "   \n",
        "Answer: A bird flies over the city.",  # "A" is an article, not option A
        "A) Paris\nB) London\nC) Berlin\nD) Rome",  # options echoed back
        "It could be A or B, I am not sure.",
        "The capital question is tricky and I cannot decide.",
        "**A** is wrong, but **B** might be right.",  # bold letters disagree
        "<think>The answer is B, let me check the other options",  # truncated reasoning
        "I think the answer is either A or C.",
        "a",
    ],
)
def test_no_invented_answers(response: str) -> None:
    got = extract(response, CAPITALS)
    assert got.pred is None and got.status == "no_answer", got


def test_invalid_letter_outside_k() -> None:
    assert extract("Answer: E", CAPITALS) == Extraction("E", "invalid", "answer_line")
    assert extract("So the answer is (F).", CAPITALS).status == "invalid"
    # with only k known (imported logs without options)
    assert extract("Answer: C", None, k=2).status == "invalid"
    assert extract("Answer: B", None, k=2) == Extraction("B", "ok", "answer_line")


def test_format_echo_is_not_an_answer() -> None:
    echo = "The final answer will be: \"The last line must be of the form 'Answer: 22', ok.\""
    assert extract(echo, []).pred is None
    mixed = "The answer is A: Paris. It must be exactly of the form 'Answer: B', as asked."
    assert extract(mixed, CAPITALS).pred == "A"
    assert extract("Remember: 'Answer: B' is the format.\nI am not sure.", CAPITALS).pred is None


@pytest.mark.parametrize(
    ("task", "choices", "gold"),
    [
        ("mmlu:anatomy", ["x", "y", "z", "w"], "B"),
        ("salad_bench:mrq", ["x", "y", "z"], "AC"),
        ("bbh:word_sorting", [], "a b"),
    ],
)
def test_echo_of_the_forgetmap_answer_format_is_not_an_answer(
    task: str, choices: list[str], gold: str
) -> None:
    # the answer-format line of the forgetmap protocol (tasks.yaml), repeated by the model
    # verbatim or with its placeholder filled in, is cut before the rules look for an answer
    from forgetmap.suite.loaders import Item
    from forgetmap.suite.prompts import build_prompt

    item = Item("i-1", "Which one?", choices, gold, len(choices))
    line = build_prompt(task, item, "cot_chat").messages[0]["content"].split("\n")[1]
    filled = re.sub(r"\$(LETTERS|LETTER|ANSWER)", "B", line)
    for echo in (line, filled):
        assert extract_mod.strip_reasoning(echo)[0].strip() == "", echo
        assert extract(echo, choices or None, task=task).pred is None, echo
    assert extract_mod.strip_reasoning(f"Fine. {filled}")[0].strip() == "Fine."


def test_stated_letter_introducing_another_option_is_a_conflict() -> None:
    got = extract("The answer is B:\nD) Rome\n\nThat was wrong.", CAPITALS)
    assert got == Extraction(None, "no_answer", "answer_is:conflict")
    assert extract("The answer is B:\nB) London", CAPITALS).pred == "B"


def test_two_statements_on_one_line_take_the_last() -> None:
    text = "A) Paris\n\nThe answer is D) Rome. Some think so. The answer is B: London."
    assert extract(text, CAPITALS) == Extraction("B", "ok", "answer_is")


def test_label_with_another_options_content_is_a_conflict() -> None:
    vase = ["Add small amount of coffee in vase.", "Add small amount of 7UP in vase."]
    got = extract("The correct answer is A) Adding small amount of 7UP to the vase.", vase)
    assert got == Extraction(None, "no_answer", "answer_is:conflict")
    assert extract("The correct answer is B) Adding 7UP to the vase.", vase).pred == "B"
    # a mixture of two options' wording keeps the stated letter
    rates = ["high birth, high death", "falling birth, high death", "low birth, high death"]
    assert extract("The answer is C) low birth, falling death.", rates).pred == "C"


def test_phrasings_found_on_held_out_outputs() -> None:
    assert extract("The answer to this question is C) Berlin.", CAPITALS).pred == "C"
    assert (
        extract("The answer is 2.\nThe answer is indeed D, one of the options.", CAPITALS).pred
        == "D"
    )
    assert extract("B)\n\nLondon is large and old.", CAPITALS) == Extraction(
        "B", "ok", "first_line"
    )


def test_label_with_own_text_up_to_small_edits() -> None:
    opts = ["taking in oxygen", "collecting waste products and transporting it out of the body"]
    text = "B) collecting waste products and transporting them out of the body"
    assert extract(text, opts) == Extraction("B", "ok", "lone_letter")
    assert extract("A) collecting waste products and transporting them out", opts).pred is None


def test_retracted_answer_does_not_count() -> None:
    text = "The answer is D) Rome.\nThe answer is D) Rome.\nThe answer is not D) Rome."
    assert extract(text, CAPITALS).pred is None
    assert extract("The answer is B.\nThe answer is not A.", CAPITALS).pred == "B"


def test_list_number_and_echoed_numeric_options() -> None:
    assert extract("The answer is: 1. No.\nI will not say more.", YESNO).pred == "B"
    echo = "\n".join(f"{chr(65 + i)}) {i}" for i in range(19))
    assert extract(echo, COUNTS).pred is None


def test_cut_off_option_discussion_is_no_answer() -> None:
    text = '(A) "Paris": a city.\n(B) "London": a city.\n(C) "Berlin": a city.\n(D)'
    assert extract(text, CAPITALS).pred is None
    assert extract("The answer to this question is: 155", []).pred == "155"


def test_answer_tag_and_answer_is_compete_by_position() -> None:
    text = "Step 4: Formulate the answer.\nAnswer: B\n\nThe answer is option C: Paris."
    assert extract(text, CAPITALS) == Extraction(None, "no_answer", "answer_is:conflict")
    assert extract("The answer is B.\nAnswer: C", CAPITALS).pred == "C"
    assert extract("Answer: C\nSo the answer is (B) London.", CAPITALS).pred == "B"


def test_numbered_alternatives_are_no_answer() -> None:
    text = "Reasoning:\n\n1. The answer is A.\n2. The answer is B.\n\nMore reasoning:"
    assert extract(text, CAPITALS) == Extraction(None, "no_answer", "answer_is:alternatives")
    steps = "1. Paris is in France.\n2. The answer is A.\n3. Done."
    assert extract(steps, CAPITALS).pred == "A"


def test_truncated_think_is_recorded() -> None:
    assert extract("<think>long reasoning", CAPITALS) == Extraction(
        None, "no_answer", "think_unclosed"
    )


def test_numeric_options() -> None:
    assert extract("So the answer is 7.", COUNTS).pred == "H"
    assert extract("Answer: 12", COUNTS).pred == "M"
    assert extract("Count them all.\nThere are 7 objects.", COUNTS) == Extraction(
        "H", "ok", "number"
    )
    assert extract("1 + 2 + 3 = 6", COUNTS).pred is None  # several numbers: no guess
    assert extract("Answer: 25", COUNTS).pred is None  # not an option
    # numbers are option texts here, never 1-based indices
    assert extract("Answer: 1", COUNTS).pred == "B"


def test_yes_no_text_answers() -> None:
    assert extract("So the answer is No.", YESNO) == Extraction("B", "ok", "answer_is:text")
    assert extract("Answer: Yes, because it loops back.", YESNO).pred == "A"
    assert extract("There is no way to know.", YESNO).pred is None
    assert extract("No", YESNO) == Extraction("B", "ok", "option_text")


def test_free_form() -> None:
    assert extract("Let me sort.\nAnswer: apple banana cherry", []).pred == "apple banana cherry"
    assert extract("So the answer is -33.", []) == Extraction("-33", "ok", "answer_is")
    assert extract("Answer: ] ) >", None).pred == "] ) >"
    assert extract("no idea", []) == Extraction(None, "no_answer", None)
    assert extract("(1 + 2) * 3 = 3 * 3 = 9", []) == Extraction("9", "ok", "equation_end")
    assert extract("Let A = 4 and B = 5, then", []).pred is None
    # the statement that comes last wins; equation values; no runaway repetitions
    steps = "We use the given answer:\n1. Subtract.\n2. Divide.\nSo, the answer is: 2 * 10 = 20."
    assert extract(steps, []) == Extraction("20", "ok", "answer_is")
    assert extract("The final answer will be: [<>]", []).pred == "[<>]"
    assert extract("The final answer should be: " + "[ ] > > " * 20, []).pred is None
    assert normalize_free_form(" **-33.0** ") == "-33"
    assert normalize_free_form("Apple  Banana.") == "apple banana"


def test_is_correct() -> None:
    assert is_correct("B", "B") and not is_correct("B", "C") and not is_correct(None, "B")
    assert is_correct("AC", "AC") and not is_correct("A", "AC")
    assert is_correct("-33.0", "-33", free_form=True)
    assert is_correct("Apple banana.", "apple banana", free_form=True)
    assert not is_correct("-33", "33", free_form=True)


def test_multi_answer_benchmark() -> None:
    """The letter-set mode comes from the registry's declaration for the task."""
    opts = ["harmful", "benign", "harmful too"]
    assert answer_mode_for("salad_bench:mrq") is AnswerMode.LETTER_SET
    assert extract("Both A and C.\nAnswer: A, C", opts, task="salad_bench:mrq").pred == "AC"
    assert extract("Answer: CA", opts, task="salad_bench:mrq") == Extraction(
        "AC", "ok", "answer_set"
    )
    assert extract("Answer: AD", opts, task="salad_bench:mrq").status == "invalid"
    # the same response under a single-letter task takes one letter
    assert extract("Answer: A, C", opts, task="mmlu:anatomy").pred == "A"
    # a set-mode item still accepts the single-letter formats
    assert extract("So the answer is (B).", opts, mode="letter_set").pred == "B"


def test_rules_subset() -> None:
    text = "So the answer is (B).\nAnswer: C"
    assert extract(text, CAPITALS).rule == "answer_line"
    assert extract(text, CAPITALS, rules=("answer_is",)).pred == "B"
    assert extract("Thus (B).", CAPITALS, rules=("answer_line",)).pred is None
    assert set(RULES) >= {"answer_line", "answer_tag", "boxed", "bold", "number"}


def test_reextract_table() -> None:
    t = pa.table(
        {
            "task": ["mmlu:x", "mmlu:x", "bbh:word_sorting", "mmlu:x", "imported:y"],
            "response": ["Answer: B", "no idea", "Answer: Apple banana.", None, "Answer: C"],
            "choices": [CAPITALS, CAPITALS, None, CAPITALS, None],
            "n_choices": pa.array([4, 4, None, 4, None], pa.int32()),
            "gold": ["B", "A", "apple banana", "A", "C"],
            "pred": ["X"] * 5,
            "correct": [False, True, False, True, False],
        }
    )
    out = reextract(t)
    assert out.column("pred").to_pylist() == ["B", None, "Apple banana", None, "C"]
    assert out.column("extract_status").to_pylist() == ["ok", "no_answer", "ok", "no_answer", "ok"]
    assert out.column("extract_rule").to_pylist() == [
        "answer_line",
        None,
        "answer_tag",
        None,
        "answer_line",
    ]
    assert out.column("correct").to_pylist() == [True, False, True, False, True]
    assert out.column_names == t.column_names + ["extract_status", "extract_rule"]


def _labelled() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]


def test_labelled_set_floors() -> None:
    """≥ 99.5% agreement with the hand labels where an answer is present, and no answer
    invented where the labeller found none -- on the real outputs (synthetic ones apart)."""
    rows = _labelled()
    real = [r for r in rows if r["source"] == "real"]
    assert len(real) >= 300 and {r["model"] for r in real} >= {
        "smollm2-135m-instruct",
        "gemma-3-270m",
    }
    present = [r for r in real if r["label"] is not None]
    absent = [r for r in real if r["label"] is None]
    assert present and absent
    agree = sum(
        extract(r["response"], r["choices"], r["k"], r["task"]).pred == r["label"] for r in present
    )
    invented = [r for r in absent if extract(r["response"], r["choices"], r["k"], r["task"]).pred]
    assert agree / len(present) >= 0.995, f"agreement {agree}/{len(present)}"
    assert invented == []


def test_labelled_synthetic_subset() -> None:
    rows = [r for r in _labelled() if r["source"] == "synthetic"]
    assert len(rows) >= 20
    wrong = [
        r
        for r in rows
        if extract(r["response"], r["choices"], r["k"], r["task"]).pred != r["label"]
    ]
    assert wrong == []


def test_answer_modes_from_the_registry_and_explicit() -> None:
    assert answer_mode_for("mmlu:anatomy") is AnswerMode.LETTER
    assert answer_mode_for("bbh:word_sorting") is AnswerMode.FREE_FORM
    assert answer_mode_for("ifeval:prompts") is AnswerMode.INSTRUCTION
    assert answer_mode_for("lm_eval_task_unknown_to_the_registry") is None
    assert answer_mode_for(None) is None
    # an explicit mode wins over the inference from the options
    assert extract("Answer: A, C", CAPITALS, mode=AnswerMode.LETTER_SET).pred == "AC"
    assert extract("Answer: Berlin", CAPITALS, mode="free_form").pred == "Berlin"
    assert extract("Answer: Berlin", CAPITALS).pred == "C"
    # a known letter task without options: letters of unknown count, not free text
    assert extract("Answer: B", None, task="mmlu:anatomy") == Extraction("B", "ok", "answer_line")
    assert extract("Answer: B", None).pred == "B"  # free-form without a task
    with pytest.raises(ValueError, match="instruction checker"):
        extract_row("Answer: B", None, None, AnswerMode.INSTRUCTION)


def test_answer_mode_names() -> None:
    assert AnswerMode.of("letter_set:any") is AnswerMode.LETTER_SET_ANY
    assert AnswerMode.of("Single-Letter") is AnswerMode.LETTER
    assert AnswerMode.of("letters") is AnswerMode.LETTER_SET
    assert AnswerMode.of(AnswerMode.FREE_FORM) is AnswerMode.FREE_FORM
    with pytest.raises(ValueError, match=r"unknown answer mode 'lettres'.*letter_set_any"):
        AnswerMode.of("lettres")
    assert Status.OK == "ok" and str(Status.INVALID) == "invalid"
    assert extract("Answer: E", CAPITALS).status is Status.INVALID


@pytest.mark.parametrize(
    ("pred", "gold", "mode", "want"),
    [
        ("B", "B", "letter", True),
        ("B", " b ", "letter", True),
        ("AC", "AC", "letter", True),
        ("CA", "AC", "letter", False),  # letters are compared as written in letter mode
        ("AC", "AC", "letter_set", True),
        ("CA", "A, C", "letter_set", True),
        ("A", "AC", "letter_set", False),
        ("ABC", "AC", "letter_set", False),
        ("A", "AC", "letter_set_any", True),  # one gold letter is enough
        ("C", "A and C", "letter_set_any", True),
        ("AC", "AC", "letter_set_any", True),
        ("AB", "AC", "letter_set_any", False),  # a wrong letter given
        ("B", "AC", "letter_set_any", False),
        ("", "AC", "letter_set_any", False),
        ("-33.0", "-33", "free_form", True),
        ("Apple banana.", "apple banana", "free_form", True),
        ("-33", "33", "free_form", False),
        ("pass", "pass", "instruction", True),
        ("fail", "pass", "instruction", False),
        (None, "B", "letter", False),
        ("B", None, "letter", False),
    ],
)
def test_is_correct_per_mode(pred, gold, mode, want) -> None:
    assert is_correct(pred, gold, mode) is want
    assert is_correct(pred, gold, AnswerMode.of(mode)) is want


def test_reextract_modes() -> None:
    """Per-row modes: the registry's declaration, an explicit mode, instruction rows kept."""
    opts = ["harmful", "benign", "harmful too"]
    t = pa.table(
        {
            "task": ["salad_bench:mrq", "salad_bench:mrq", "ifeval:prompts", "mmlu:anatomy"],
            "response": ["Answer: C, A", "Answer: A", "I wrote three paragraphs.", "Answer: C"],
            "choices": [opts, opts, None, CAPITALS],
            "n_choices": pa.array([3, 3, None, 4], pa.int32()),
            "gold": ["AC", "AC", "pass", "C"],
            "pred": ["X", "X", "pass", "X"],
            "extract_status": ["ok", "ok", "ok", "ok"],
            "extract_rule": [None, None, "ifeval", None],
        }
    )
    out = reextract(t)
    assert out.column("pred").to_pylist() == ["AC", "A", "pass", "C"]
    assert out.column("extract_rule").to_pylist() == [
        "answer_set",
        "answer_set",
        "ifeval",
        "answer_line",
    ]
    assert out.column("correct").to_pylist() == [True, False, True, True]
    # the study's scoring: any one gold letter counts
    anyone = reextract(t.slice(0, 2), mode="letter_set_any")
    assert anyone.column("correct").to_pylist() == [True, True]


def test_reextract_correct_equals_is_correct() -> None:
    """The vectorised correctness of `reextract` is `is_correct` on every row, nulls included."""
    rows = _labelled()
    t = pa.table(
        {
            "task": [r["task"] for r in rows] + ["x:free", "x:free"],
            "response": [r["response"] for r in rows] + ["Answer: 24.0", None],
            "choices": [r["choices"] for r in rows] + [None, None],
            "n_choices": [r["k"] for r in rows] + [None, None],
            "gold": [r["gold"] for r in rows] + ["24", None],
        }
    )
    out = reextract(t).to_pylist()
    for r in out:
        mode = answer_mode_for(r["task"]) or (
            AnswerMode.LETTER
            if r["choices"] or r["n_choices"] or (r["gold"] or "").strip() in set("ABCDEFGHIJ")
            else AnswerMode.FREE_FORM
        )
        assert r["correct"] is is_correct(r["pred"], r["gold"], mode), r
        ex = extract(r["response"], r["choices"], r["n_choices"], mode=mode)
        assert (r["pred"], r["extract_status"], r["extract_rule"]) == (ex.pred, ex.status, ex.rule)
    assert out[-2]["correct"] is True and out[-1]["correct"] is False


def test_rule_table_is_consistent() -> None:
    """Every row names a known scope/resolution, its pattern has the groups its resolution
    reads, rule names per mode are unique, and RULES is generated from the table."""
    needs = {
        Resolution.VALUE: {"val"},
        Resolution.OPTION_TEXT: {"val"},
        Resolution.LETTER_SET: {"val"},
        Resolution.FREE_TEXT: {"val"},
        Resolution.OPENING_LABEL: {"letter", "text"},
    }
    for rule in RULE_TABLE:
        groups = set(rule.pattern.groupindex)
        assert needs.get(rule.resolution, set()) <= groups, rule.name
        if rule.resolution is Resolution.LABEL:
            assert "letter" in groups or {"label", "text"} <= groups, rule.name
        if rule.resolution is Resolution.MARKED_LABEL:
            assert rule.pattern.groups >= 1
        assert rule.modes and rule.summary
        assert rule.resolution in extract_mod._RESOLVERS
        assert all(g in extract_mod._GUARDS for g in rule.guards)
    for mode in AnswerMode:
        names = [r.name for r in RULE_TABLE if mode in r.modes]
        assert len(names) == len(set(names)), mode
    assert tuple(dict.fromkeys(r.name for r in RULE_TABLE)) == RULES
    assert rule_names("letter")[:3] == ("answer_line", "answer_tag", "answer_is")
    assert rule_names("letter_set")[0] == "answer_set"
    assert rule_names("free_form") == ("answer_tag", "answer_is", "boxed", "equation_end")
    assert rule_names("instruction") == ()
    statements = [r for r in RULE_TABLE if r.scope is Scope.STATEMENTS]
    assert {r.resolution for r in statements} == {Resolution.VALUE, Resolution.FREE_TEXT}


def test_rule_subset_applies_to_free_form() -> None:
    text = "So the answer is 7.\nAnswer: 9"
    assert extract(text, []).pred == "9"
    assert extract(text, [], rules=("answer_is",)).pred == "7"
    assert extract("x = 3 + 4 = 7", [], rules=("answer_tag",)).pred is None


def test_docs_section_is_generated_from_the_table() -> None:
    """docs/extraction.md holds `rules_markdown()` verbatim between its markers (`make docs`)."""
    doc = (ROOT / "docs" / "extraction.md").read_text(encoding="utf-8")
    begin, end = extract_mod.DOCS_BEGIN, extract_mod.DOCS_END
    assert doc.count(begin) == 1 and doc.count(end) == 1
    section = doc.split(begin, 1)[1].split(end, 1)[0]
    assert section.strip() == rules_markdown().strip(), "docs/extraction.md is stale: run make docs"
    for rule in RULE_TABLE:
        assert f"`{rule.name}`" in section and rule.pattern.pattern in section


def test_no_benchmark_name_in_extraction_code() -> None:
    """Answer modes come from the registry: no string in extract.py's code is a benchmark or
    task name (docstrings apart), so nothing there can branch on one."""
    import ast

    import yaml

    table = yaml.safe_load((ROOT / "src" / "forgetmap" / "suite" / "tasks.yaml").read_text())
    benchmarks = set(table["benchmarks"])
    tree = ast.parse((ROOT / "src" / "forgetmap" / "suite" / "extract.py").read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    named = [
        c.value
        for c in ast.walk(tree)
        if isinstance(c, ast.Constant) and isinstance(c.value, str) and id(c) not in docstrings
        for word in re.findall(r"[a-z_0-9]+(?=:|\b)", c.value.lower())
        if word in benchmarks
    ]
    assert named == [], f"benchmark names in extract.py: {named}"
    assert "MULTI_ANSWER_BENCHMARKS" not in dir(extract_mod)
