"""The embedded synthetic suite: deterministic, distinct, well-formed items, registered as tasks."""

from __future__ import annotations

import pytest

from forgetmap.errors import ForgetmapError
from forgetmap.suite import synthetic
from forgetmap.suite.loaders import LETTERS, load_items
from forgetmap.suite.registry import get_task, list_tasks


@pytest.mark.parametrize("family", sorted(synthetic.FAMILIES))
def test_family_items_are_well_formed(family: str) -> None:
    category, k = synthetic.FAMILIES[family]
    n = min(synthetic.SIZES[family], 60)
    items = synthetic.generate(family, n)
    assert len(items) == n
    assert len({it.item_id for it in items}) == n
    assert len({it.question for it in items}) == n  # no question repeats inside a family
    for it in items:
        assert it.k == k == len(it.choices) == len(set(it.choices))
        assert it.gold in LETTERS[:k]
        assert it.choices[LETTERS.index(it.gold)] == it.meta["answer_text"]
        assert it.item_id.startswith(f"{family}-0-")


def test_answers_are_right() -> None:
    """Spot-check the generators' gold answers by recomputing them from the question."""
    for it in synthetic.generate("addition", 30):
        a, b = (int(x) for x in it.question.removeprefix("What is ").rstrip("?").split(" + "))
        assert it.meta["answer_text"] == str(a + b)
    for it in synthetic.generate("multiplication", 30):
        a, b = (int(x) for x in it.question.removeprefix("What is ").rstrip("?").split(" x "))
        assert it.meta["answer_text"] == str(a * b)
    days = list(synthetic.WEEKDAYS)
    for it in synthetic.generate("weekday", 30):
        start = next(d for d in days if it.question.startswith(f"Today is {d}."))
        shift = int(it.question.split(" in ")[1].split()[0])
        assert it.meta["answer_text"] == days[(days.index(start) + shift) % 7]
    capitals = {c: cap for c, cap, _ in synthetic.COUNTRIES}
    for it in synthetic.generate("capitals", 20):
        country = it.question.removeprefix("What is the capital of ").rstrip("?")
        assert it.meta["answer_text"] == capitals[country]


def test_deterministic_and_prefix_stable() -> None:
    a = synthetic.generate("capitals", 10)
    b = synthetic.generate("capitals", 30)
    assert [(i.item_id, i.question, i.choices, i.gold) for i in a] == [
        (i.item_id, i.question, i.choices, i.gold) for i in b[:10]
    ]
    other = synthetic.generate("capitals", 10, seed=1)
    assert [i.item_id for i in other] != [i.item_id for i in a]


def test_categories_and_k_vary() -> None:
    cats = {c for c, _ in synthetic.FAMILIES.values()}
    assert cats == {"Math", "Logic", "Knowledge", "Language", "Commonsense"}
    assert {k for _, k in synthetic.FAMILIES.values()} >= {2, 3, 4, 5, 7}


def test_errors() -> None:
    with pytest.raises(ForgetmapError, match="unknown synthetic family 'nope'"):
        synthetic.generate("nope", 3)
    with pytest.raises(ForgetmapError, match="synth:plurals has 37 distinct items; asked for 999"):
        synthetic.generate("plurals", 999)


def test_registered_as_tasks() -> None:
    names = {t.name for t in list_tasks("synth")}
    assert names == {f"synth:{f}" for f in synthetic.FAMILIES}
    spec = get_task("synth:weekday")
    assert (spec.category, spec.k) == ("Logic", 7)
    items = load_items("synth:antonyms", limit=5)
    assert [i.item_id for i in items] == [i.item_id for i in synthetic.generate("antonyms", 5)]
