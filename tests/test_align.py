"""Content alignment of logged prompts with registry items (forgetmap.importers.align).

The prompts here are written for the test in the two layouts the study's release has (a
zero-shot instruction then `Question: "..."` and options; few-shot examples then the question,
options and a `Reasoning:` cue); the registry items are real ones (FORGETMAP_DATA_DIR).
"""

from __future__ import annotations

from forgetmap.importers.align import Aligner, norm, split_block
from forgetmap.suite.loaders import load_items

TAILS = ("Reasoning:", "Answer:")


def _zero_shot(question: str, options: list[str], context: str = "") -> str:
    head = f"Read and answer.\n{context}\n" if context else "Read and answer.\n"
    lines = [f'{head}Finish with a letter.\nQuestion: "{question}"\n    ']
    lines += [f"{'ABCDEFG'[i]}) {o}" for i, o in enumerate(options)]
    return "\n".join(lines).strip()


def _few_shot(question: str, options: list[str], passage: str = "") -> str:
    example = "Question: What is 1+1?\nA) 2\nB) 3\nReasoning: One and one.\nAnswer: A"
    body = f"{passage}\n\n{question}" if passage else question
    opts = "\n".join(f"{'ABCDEFG'[i]}) {o}" for i, o in enumerate(options))
    return f"Solve these.\n\n{example}\n\nQuestion: {body}\n{opts}\nReasoning:"


def test_split_block_layouts():
    b = split_block('"Which is red?"\n    \nA) sky\nB) blood\nline two of B', TAILS)
    assert b.question == "Which is red?" and b.options == ("sky", "blood\nline two of B")
    b = split_block("Which is red?\nA) sky\nB) blood\nReasoning:", TAILS)
    assert b.options == ("sky", "blood")
    b = split_block("Sort: b a\nOptions:\n(A) a b\n(B) b a", TAILS)  # BBH: options in the input
    assert b.options == () and b.question.endswith("(B) b a")
    assert norm("  Héllo,\tWORLD!  ") == "hélloworld"


def test_both_layouts_find_the_registry_item(data_dir):
    items = load_items("social_iqa:validation")[:60]
    al = Aligner(items, 3, "Question: ", TAILS)
    prompts, gold = [], []
    for it in items[:20]:
        g = "ABC".index(it.gold)
        prompts.append(_zero_shot(it.question, it.choices, context=it.meta["passage"]))
        prompts.append(_few_shot(it.question, it.choices, passage=it.meta["passage"]))
        gold += [[g], [g]]
    out = al.align(prompts, gold)
    assert out.method == ["registry"] * 40 and out.ambiguous == 0 and out.gold_disagrees == 0
    assert out.item_id == [it.item_id for it in items[:20] for _ in range(2)]


def test_shuffled_options_map_letters_and_fallback_pairs(data_dir):
    it = load_items("gpqa:diamond")[0]
    shown = list(reversed(it.choices))  # another order than the registry's
    g = shown.index(it.choices["ABCD".index(it.gold)])
    al = Aligner([it], 4, "Question: ", TAILS)
    out = al.align([_zero_shot(it.question, shown)], [[g]])
    assert out.item_id == [it.item_id] and out.gold == [it.gold]
    assert out.letter_map[0] == {"A": "D", "B": "C", "C": "B", "D": "A"}
    # without the benchmark files: a normalised hash, the same in both layouts
    bare = Aligner(None, None, "Question: ", TAILS)
    z = bare.align([_zero_shot(it.question, shown)], [[g]])
    f = bare.align([_few_shot(it.question, shown)], [[g]])
    assert z.item_id == f.item_id and z.method == ["hash"] and z.k == [4]
