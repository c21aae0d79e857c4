"""An embedded, procedurally generated multiple-choice suite for offline demos and tests.

Why: `forgetmap demo` must run on a fresh machine without any benchmark files, and tiny models
(SmolLM2-135M) need questions they get *partly* right so that flips in both directions occur.
Each family draws its items from a fixed pool (all operand pairs, or a small embedded fact table)
in a seeded order, so `generate(f, n)` is a prefix of `generate(f, n + m)`, item ids are stable
(`<family>-<seed>-<pool index>`), and no question repeats inside a family. The registry exposes
each family as the task `synth:<family>`; the `demo` suite is all of them.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from forgetmap.errors import ForgetmapError
from forgetmap.letters import LETTERS
from forgetmap.suite.items import Item

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CONTINENTS = ("Africa", "Asia", "Europe", "North America", "South America", "Oceania")

# (country, capital, continent)
COUNTRIES: tuple[tuple[str, str, str], ...] = (
    ("France", "Paris", "Europe"),
    ("Germany", "Berlin", "Europe"),
    ("Italy", "Rome", "Europe"),
    ("Spain", "Madrid", "Europe"),
    ("Portugal", "Lisbon", "Europe"),
    ("United Kingdom", "London", "Europe"),
    ("Ireland", "Dublin", "Europe"),
    ("Norway", "Oslo", "Europe"),
    ("Sweden", "Stockholm", "Europe"),
    ("Finland", "Helsinki", "Europe"),
    ("Denmark", "Copenhagen", "Europe"),
    ("Poland", "Warsaw", "Europe"),
    ("Austria", "Vienna", "Europe"),
    ("Greece", "Athens", "Europe"),
    ("Netherlands", "Amsterdam", "Europe"),
    ("Belgium", "Brussels", "Europe"),
    ("Hungary", "Budapest", "Europe"),
    ("Czech Republic", "Prague", "Europe"),
    ("Russia", "Moscow", "Europe"),
    ("Ukraine", "Kyiv", "Europe"),
    ("Japan", "Tokyo", "Asia"),
    ("China", "Beijing", "Asia"),
    ("India", "New Delhi", "Asia"),
    ("South Korea", "Seoul", "Asia"),
    ("Thailand", "Bangkok", "Asia"),
    ("Vietnam", "Hanoi", "Asia"),
    ("Indonesia", "Jakarta", "Asia"),
    ("Philippines", "Manila", "Asia"),
    ("Iran", "Tehran", "Asia"),
    ("Iraq", "Baghdad", "Asia"),
    ("Saudi Arabia", "Riyadh", "Asia"),
    ("Turkey", "Ankara", "Asia"),
    ("Pakistan", "Islamabad", "Asia"),
    ("Egypt", "Cairo", "Africa"),
    ("Kenya", "Nairobi", "Africa"),
    ("Nigeria", "Abuja", "Africa"),
    ("Ethiopia", "Addis Ababa", "Africa"),
    ("Morocco", "Rabat", "Africa"),
    ("Ghana", "Accra", "Africa"),
    ("Senegal", "Dakar", "Africa"),
    ("United States", "Washington, D.C.", "North America"),
    ("Canada", "Ottawa", "North America"),
    ("Mexico", "Mexico City", "North America"),
    ("Cuba", "Havana", "North America"),
    ("Brazil", "Brasilia", "South America"),
    ("Argentina", "Buenos Aires", "South America"),
    ("Chile", "Santiago", "South America"),
    ("Peru", "Lima", "South America"),
    ("Colombia", "Bogota", "South America"),
    ("Australia", "Canberra", "Oceania"),
    ("New Zealand", "Wellington", "Oceania"),
    ("Fiji", "Suva", "Oceania"),
)

ANTONYMS: tuple[tuple[str, str], ...] = (
    ("hot", "cold"),
    ("big", "small"),
    ("fast", "slow"),
    ("happy", "sad"),
    ("light", "dark"),
    ("up", "down"),
    ("open", "closed"),
    ("full", "empty"),
    ("early", "late"),
    ("hard", "soft"),
    ("wet", "dry"),
    ("old", "young"),
    ("rich", "poor"),
    ("strong", "weak"),
    ("loud", "quiet"),
    ("thick", "thin"),
    ("high", "low"),
    ("long", "short"),
    ("clean", "dirty"),
    ("first", "last"),
    ("inside", "outside"),
    ("push", "pull"),
    ("win", "lose"),
    ("buy", "sell"),
    ("give", "take"),
    ("true", "false"),
    ("begin", "end"),
    ("love", "hate"),
    ("remember", "forget"),
    ("brave", "cowardly"),
    ("generous", "stingy"),
    ("arrive", "depart"),
    ("accept", "refuse"),
    ("increase", "decrease"),
    ("victory", "defeat"),
    ("friend", "enemy"),
    ("question", "answer"),
    ("sharp", "dull"),
    ("wide", "narrow"),
    ("day", "night"),
    ("north", "south"),
    ("asleep", "awake"),
    ("sweet", "sour"),
    ("cheap", "expensive"),
    ("safe", "dangerous"),
    ("polite", "rude"),
)

# (singular, correct plural, wrong form, wrong form)
PLURALS: tuple[tuple[str, str, str, str], ...] = (
    ("mouse", "mice", "mouses", "mices"),
    ("child", "children", "childs", "childrens"),
    ("foot", "feet", "foots", "feets"),
    ("tooth", "teeth", "tooths", "teeths"),
    ("goose", "geese", "gooses", "geeses"),
    ("man", "men", "mans", "mens"),
    ("woman", "women", "womans", "womens"),
    ("mouse trap", "mouse traps", "mice trap", "mice traps"),
    ("ox", "oxen", "oxes", "oxs"),
    ("sheep", "sheep", "sheeps", "sheepes"),
    ("fish", "fish", "fishs", "fishies"),
    ("deer", "deer", "deers", "deeres"),
    ("knife", "knives", "knifes", "knifs"),
    ("leaf", "leaves", "leafs", "leafes"),
    ("wolf", "wolves", "wolfs", "wolfes"),
    ("half", "halves", "halfs", "halfes"),
    ("loaf", "loaves", "loafs", "loafes"),
    ("wife", "wives", "wifes", "wifs"),
    ("life", "lives", "lifes", "lifs"),
    ("city", "cities", "citys", "cityes"),
    ("baby", "babies", "babys", "babyes"),
    ("story", "stories", "storys", "storyes"),
    ("box", "boxes", "boxs", "boxen"),
    ("bus", "buses", "buss", "busen"),
    ("church", "churches", "churchs", "churchen"),
    ("dish", "dishes", "dishs", "dishen"),
    ("potato", "potatoes", "potatos", "potatoe"),
    ("tomato", "tomatoes", "tomatos", "tomatoe"),
    ("hero", "heroes", "heros", "heroen"),
    ("crisis", "crises", "crisises", "crisiss"),
    ("analysis", "analyses", "analysises", "analysiss"),
    ("cat", "cats", "cates", "caten"),
    ("dog", "dogs", "doges", "dogen"),
    ("book", "books", "bookes", "booken"),
    ("tree", "trees", "treees", "treen"),
    ("key", "keys", "keies", "keyen"),
    ("toy", "toys", "toies", "toyen"),
)

# (task, right tool); a distractor is another row's tool
TOOLS: tuple[tuple[str, str], ...] = (
    ("cut a sheet of paper", "scissors"),
    ("drive a nail into wood", "a hammer"),
    ("tighten a screw", "a screwdriver"),
    ("boil water", "a kettle"),
    ("sweep the floor", "a broom"),
    ("write a letter by hand", "a pen"),
    ("measure the length of a table", "a tape measure"),
    ("dig a hole in the garden", "a shovel"),
    ("brush your teeth", "a toothbrush"),
    ("dry your hands", "a towel"),
    ("see in a dark room", "a flashlight"),
    ("keep dry in the rain", "an umbrella"),
    ("eat soup", "a spoon"),
    ("unlock a door", "a key"),
    ("check the time", "a watch"),
    ("take a photograph", "a camera"),
    ("water the plants", "a watering can"),
    ("slice a loaf of bread", "a bread knife"),
    ("carry groceries home", "a shopping bag"),
    ("iron a wrinkled shirt", "an iron"),
    ("fix a flat bicycle tire", "a tire pump"),
    ("sew a button back on", "a needle and thread"),
    ("open a can of beans", "a can opener"),
    ("erase a pencil mark", "an eraser"),
    ("weigh yourself", "a bathroom scale"),
    ("comb your hair", "a comb"),
    ("keep food cold", "a refrigerator"),
    ("bake a cake", "an oven"),
    ("row across a lake", "a boat with oars"),
    ("climb onto a high shelf", "a ladder"),
    ("call a friend far away", "a telephone"),
    ("whisk eggs for an omelette", "a whisk"),
    ("staple papers together", "a stapler"),
    ("paint a fence", "a paintbrush"),
    ("cool down a hot room", "a fan"),
    ("find north while hiking", "a compass"),
    ("cut the grass", "a lawn mower"),
    ("wash the dishes", "a sponge"),
    ("look at distant stars", "a telescope"),
    ("read small print more easily", "reading glasses"),
)

# (thing, where it is most likely found)
PLACES: tuple[tuple[str, str], ...] = (
    ("a pillow", "a bedroom"),
    ("a whiteboard", "a classroom"),
    ("a shopping cart", "a supermarket"),
    ("a stethoscope", "a hospital"),
    ("a runway", "an airport"),
    ("a bookshelf full of novels", "a library"),
    ("racks of freshly baked loaves", "a bakery"),
    ("a stove", "a kitchen"),
    ("a bathtub", "a bathroom"),
    ("a swing set", "a playground"),
    ("a pew", "a church"),
    ("a locker room", "a gym"),
    ("a lifeguard tower", "a beach"),
    ("a tractor", "a farm"),
    ("a popcorn machine", "a cinema"),
    ("a judge's bench", "a courtroom"),
    ("a conveyor belt of luggage", "an airport"),
    ("a microscope", "a laboratory"),
    ("a diving board", "a swimming pool"),
    ("a ticket barrier", "a train station"),
    ("an elephant enclosure", "a zoo"),
    ("a desk with a computer", "an office"),
    ("a fire truck", "a fire station"),
    ("a gas pump", "a petrol station"),
    ("a dentist's chair", "a dental clinic"),
    ("a checkout lane", "a supermarket"),
    ("a garden hose", "a garden"),
    ("a car jack", "a garage"),
    ("a mailbox full of letters", "a post office"),
    ("a stage with curtains", "a theater"),
    ("a lighthouse", "a coast"),
    ("a ski lift", "a mountain resort"),
    ("a hotel key card", "a hotel"),
    ("a baggage claim", "an airport"),
    ("a platform announcement board", "a train station"),
    ("a bench press", "a gym"),
    ("a painting by a famous artist", "a museum"),
    ("a cradle", "a nursery"),
    ("a menu and waiters", "a restaurant"),
    ("a tent", "a campsite"),
)
_PLACE_NAMES = tuple(sorted({p for _, p in PLACES}))


@dataclass(frozen=True)
class _Draft:
    question: str
    correct: str
    distractors: tuple[str, ...]
    fixed_order: tuple[str, ...] | None = None  # options in a natural order (weekdays)


def _pool_arith(op: str, lo: int, hi: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(lo, hi + 1) for b in range(lo, hi + 1) if op != "-" or a > b]


def _numeric_distractors(
    answer: int, rng: random.Random, n: int, spread: Sequence[int]
) -> tuple[str, ...]:
    out: list[int] = []
    offsets = list(spread)
    rng.shuffle(offsets)
    for off in offsets:
        cand = answer + off
        if cand >= 0 and cand != answer and cand not in out:
            out.append(cand)
        if len(out) == n:
            break
    return tuple(str(x) for x in out)


def _addition(entry: tuple[int, int], rng: random.Random) -> _Draft:
    a, b = entry
    ans = a + b
    return _Draft(
        f"What is {a} + {b}?", str(ans), _numeric_distractors(ans, rng, 3, (-10, -2, -1, 1, 2, 10))
    )


def _subtraction(entry: tuple[int, int], rng: random.Random) -> _Draft:
    a, b = entry
    ans = a - b
    return _Draft(
        f"What is {a} - {b}?", str(ans), _numeric_distractors(ans, rng, 2, (-10, -1, 1, 10))
    )


def _multiplication(entry: tuple[int, int], rng: random.Random) -> _Draft:
    a, b = entry
    ans = a * b
    spread = (-b, b, -a, a, -2, -1, 1, 2, 10)
    return _Draft(f"What is {a} x {b}?", str(ans), _numeric_distractors(ans, rng, 4, spread))


def _weekday(entry: tuple[int, int], rng: random.Random) -> _Draft:
    start, shift = entry
    ans = WEEKDAYS[(start + shift) % 7]
    q = f"Today is {WEEKDAYS[start]}. What day of the week will it be in {shift} days?"
    others = tuple(d for d in WEEKDAYS if d != ans)
    return _Draft(q, ans, others, fixed_order=WEEKDAYS)


_NAMES = ("Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack")
_RELATIONS = (
    ("taller", "tallest", "shortest"),
    ("older", "oldest", "youngest"),
    ("faster", "fastest", "slowest"),
    ("heavier", "heaviest", "lightest"),
)


def _ordering(entry: tuple[int, int, tuple[str, str, str]], rng: random.Random) -> _Draft:
    rel_i, variant, names = entry  # names[0] > names[1] > names[2]
    comp, top, bottom = _RELATIONS[rel_i]
    facts = [f"{names[0]} is {comp} than {names[1]}.", f"{names[1]} is {comp} than {names[2]}."]
    if variant % 2:
        facts.reverse()
    ask_top = variant // 2 == 0
    q = " ".join(facts) + f" Who is the {top if ask_top else bottom}?"
    ans = names[0] if ask_top else names[2]
    return _Draft(q, ans, tuple(n for n in names if n != ans))


def _capitals(entry: tuple[str, str, str], rng: random.Random) -> _Draft:
    country, capital, _ = entry
    others = [c for _, c, _ in COUNTRIES if c != capital]
    return _Draft(f"What is the capital of {country}?", capital, tuple(rng.sample(others, 3)))


def _continents(entry: tuple[str, str, str], rng: random.Random) -> _Draft:
    country, _, cont = entry
    others = [c for c in CONTINENTS if c != cont]
    return _Draft(f"On which continent is {country}?", cont, tuple(rng.sample(others, 4)))


def _antonyms(entry: tuple[str, str], rng: random.Random) -> _Draft:
    word, opposite = entry
    pool = sorted({w for pair in ANTONYMS for w in pair} - {word, opposite})
    return _Draft(
        f"Which word means the opposite of '{word}'?", opposite, tuple(rng.sample(pool, 3))
    )


def _plurals(entry: tuple[str, str, str, str], rng: random.Random) -> _Draft:
    singular, right, w1, w2 = entry
    return _Draft(f"What is the correct plural of '{singular}'?", right, (w1, w2))


def _tools(entry: tuple[str, str], rng: random.Random) -> _Draft:
    task, tool = entry
    other = rng.choice([t for _, t in TOOLS if t != tool])
    return _Draft(f"You want to {task}. Which of these is the better choice?", tool, (other,))


def _places(entry: tuple[str, str], rng: random.Random) -> _Draft:
    thing, place = entry
    wrong = [p for p in _PLACE_NAMES if p != place]
    return _Draft(f"Where would you most likely find {thing}?", place, tuple(rng.sample(wrong, 2)))


@dataclass(frozen=True)
class _Family:
    category: str
    k: int
    instruction: str
    pool: Callable[[], list[Any]]
    make: Callable[[Any, random.Random], _Draft]


_FAMILY_DEFS: dict[str, _Family] = {
    "addition": _Family("Math", 4, "Compute the sum.", lambda: _pool_arith("+", 2, 49), _addition),
    "subtraction": _Family(
        "Math", 3, "Compute the difference.", lambda: _pool_arith("-", 2, 60), _subtraction
    ),
    "multiplication": _Family(
        "Math", 5, "Compute the product.", lambda: _pool_arith("*", 2, 12), _multiplication
    ),
    "weekday": _Family(
        "Logic",
        7,
        "Reason about the days of the week.",
        lambda: [(s, d) for s in range(7) for d in range(1, 22)],
        _weekday,
    ),
    "ordering": _Family(
        "Logic",
        3,
        "Reason about the order described.",
        lambda: [
            (r, v, names)
            for r in range(len(_RELATIONS))
            for v in range(4)
            for names in itertools.permutations(_NAMES[:6], 3)
        ],
        _ordering,
    ),
    "capitals": _Family(
        "Knowledge", 4, "Answer the geography question.", lambda: list(COUNTRIES), _capitals
    ),
    "continents": _Family(
        "Knowledge", 5, "Answer the geography question.", lambda: list(COUNTRIES), _continents
    ),
    "antonyms": _Family("Language", 4, "Choose the antonym.", lambda: list(ANTONYMS), _antonyms),
    "plurals": _Family(
        "Language", 3, "Choose the correct English plural.", lambda: list(PLURALS), _plurals
    ),
    "tools": _Family("Commonsense", 2, "Use everyday common sense.", lambda: list(TOOLS), _tools),
    "places": _Family(
        "Commonsense", 3, "Use everyday common sense.", lambda: list(PLACES), _places
    ),
}

#: family -> (category, number of options k); the registry exposes each as task `synth:<family>`.
FAMILIES: dict[str, tuple[str, int]] = {name: (f.category, f.k) for name, f in _FAMILY_DEFS.items()}
#: number of distinct items each family can produce (its pool size).
SIZES: dict[str, int] = {name: len(f.pool()) for name, f in _FAMILY_DEFS.items()}
#: items per family when a caller gives no n (what `forgetmap tasks` counts for `synth:*`).
DEFAULT_N = 40


def instruction(family: str) -> str:
    """The one-line task instruction of a family (used by prompts as the task description)."""
    return _family(family).instruction


def _family(family: str) -> _Family:
    try:
        return _FAMILY_DEFS[family]
    except KeyError:
        raise ForgetmapError(
            f"unknown synthetic family {family!r}; known: {', '.join(sorted(_FAMILY_DEFS))}"
        ) from None


def generate(family: str, n: int | None = None, seed: int = 0) -> list[Item]:
    """The first `n` items (default DEFAULT_N) of `family`'s seeded order; deterministic.

    Different `seed`s give different orders (and distractors) of the same pool; use disjoint index
    ranges of one seed (e.g. items n..n+m as training data) when two sets must not overlap.
    """
    fam = _family(family)
    n = DEFAULT_N if n is None else n
    pool = fam.pool()
    if n < 0 or n > len(pool):
        raise ForgetmapError(f"synth:{family} has {len(pool)} distinct items; asked for {n}")
    order = list(range(len(pool)))
    random.Random(f"synth:{family}:{seed}").shuffle(order)
    items = []
    for idx in order[:n]:
        rng = random.Random(f"synth:{family}:{seed}:{idx}")
        draft = fam.make(pool[idx], rng)
        if draft.fixed_order is not None:
            choices = list(draft.fixed_order)
        else:
            choices = [draft.correct, *draft.distractors]
            rng.shuffle(choices)
        if len(choices) != fam.k or len(set(choices)) != fam.k:  # a pool bug, never user input
            raise AssertionError(f"synth:{family} item {idx}: bad options {choices}")
        items.append(
            Item(
                item_id=f"{family}-{seed}-{idx:04d}",
                question=draft.question,
                choices=choices,
                gold=LETTERS[choices.index(draft.correct)],
                k=fam.k,
                meta={
                    "family": family,
                    "instruction": fam.instruction,
                    "answer_text": draft.correct,
                },
            )
        )
    return items
