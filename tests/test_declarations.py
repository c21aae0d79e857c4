"""A benchmark is one declared unit: no code outside the declarations names a benchmark.

The declarations are data: src/forgetmap/suite/tasks.yaml (the registry), the protocol files in
src/forgetmap/suite/protocols/, and suite/synthetic.py, which declares the generated families of
the `synth` benchmark. Everything else (prompts, loaders, extraction, scoring, engine, CLI,
analysis, report, study) reads what is declared and must not branch on a benchmark's name: a
string constant that is a benchmark name or starts with `<benchmark>:` is flagged, wherever it
appears (comparisons, dict keys, `startswith`, task lists). Importers are exempt: they translate
the task names other tools write (lm-eval's `hellaswag`, lighteval's `...|arc:challenge|...`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from forgetmap.suite.registry import benchmark_names

SRC = Path(__file__).resolve().parents[1] / "src" / "forgetmap"
DECLARATIONS = {"suite/synthetic.py"}
EXEMPT_DIRS = ("importers/",)


def _constants(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string constant, f-string parts included; docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def benchmark_mentions(source: str, names: list[str]) -> list[tuple[int, str]]:
    """Constants of `source` that name a benchmark (`mmlu`) or a task of one (`mmlu:...`)."""
    hits = []
    for line, text in _constants(ast.parse(source)):
        t = text.strip()
        if t in names or any(t.startswith(f"{n}:") for n in names):
            hits.append((line, text))
    return hits


def _code_files() -> list[Path]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in DECLARATIONS or rel.startswith(EXEMPT_DIRS):
            continue
        out.append(path)
    return out


@pytest.mark.parametrize("path", _code_files(), ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_benchmark_is_named_outside_the_declarations(path: Path) -> None:
    hits = benchmark_mentions(path.read_text(encoding="utf-8"), benchmark_names())
    assert not hits, (
        f"{path.relative_to(SRC)} names benchmarks in code (declare the behaviour in "
        f"suite/tasks.yaml or a protocol instead): {hits}"
    )


def test_the_scan_catches_branches_on_a_name() -> None:
    names = benchmark_names()
    assert {"mmlu", "bbh", "ifeval", "salad_bench", "synth"} <= set(names)
    flagged = benchmark_mentions(
        'if spec.benchmark == "ifeval":\n    pass\n'
        'MULTI = ("salad_bench",)\n'
        'x = task.startswith("bbh:")\n'
        'STYLES = {"mmlu": 1}\n'
        'y = f"synth:{family}"\n',
        names,
    )
    assert [line for line, _ in flagged] == [1, 3, 4, 5, 6]
    # prose and other identifiers are not benchmark names
    assert not benchmark_mentions('"""mmlu is a benchmark"""\nz = "mmlu_dev"\n', names)


def test_declarations_cover_the_behaviour_that_used_to_be_code() -> None:
    from forgetmap.suite.protocol_loader import load_protocol
    from forgetmap.suite.registry import get_task

    ifeval, salad, bbh = (
        get_task("ifeval:prompts"),
        get_task("salad_bench:mrq"),
        get_task("bbh:navigate"),
    )
    assert (ifeval.answer_mode, ifeval.scorer) == ("instruction", "instruction_checks")
    assert salad.answer_mode == "letter_set" and bbh.answer_mode == "letter"
    assert get_task("bbh:word_sorting").answer_mode == "free_form"
    assert bbh.description_split == "cot_prompts" and bbh.fewshot_split == "cot_prompts"
    tp = load_protocol("forgetmap").for_task("bbh:navigate")
    assert tp["instruction"] == "{{ description }}" and tp["shots"] == 3
    assert tp.where("shots") == "tasks.yaml: benchmarks.bbh.protocol.shots"


def test_one_row_adapter_per_source_schema_and_every_one_declared() -> None:
    """Every public function of loaders.adapters is a row adapter some split declares (evaluated,
    few-shot, fallback or Hub layout), and every declared adapter exists: no per-benchmark code
    besides one adapter per source schema."""
    import inspect

    from forgetmap.suite.loaders import adapters
    from forgetmap.suite.registry import all_tasks

    declared: set[str] = set()
    for t in all_tasks():
        for sp in t.splits.values():
            for layout in (sp, sp.fallback):
                if layout is not None:
                    declared |= {layout.adapter, layout.hub_adapter}
    public = {
        name
        for name, fn in inspect.getmembers(adapters, inspect.isfunction)
        if fn.__module__ == adapters.__name__ and not name.startswith("_")
    }
    assert declared == public, (sorted(declared - public), sorted(public - declared))
