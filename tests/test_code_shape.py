"""Shape of the package: no import cycle between its modules (counting imports inside functions
and modules named in strings, e.g. registries resolved with importlib), and no function longer
than MAX_FUNCTION_LINES. Each check is also run on a small made-up package, to show it fails."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_FUNCTION_LINES = 100  # from `def` to the last line of the body, docstring included
# "forgetmap.x.y" or "forgetmap.x.y:attr" in a string: a lazy import by name
_MODULE_STRING = re.compile(r"^([A-Za-z_]\w*(?:\.\w+)+)(?::\w+)?$")


def module_files(src: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` under `src`."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The module a dotted name lives in (`pkg.mod.func` -> `pkg.mod`), None if not ours."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that `name` imports anywhere in its file (top level, in functions,
    under TYPE_CHECKING) or names in a string constant."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_owner(a.name, modules) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if sub in modules else _owner(base, modules))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            m = _MODULE_STRING.match(node.value)
            if m and m.group(1) in modules:
                found.add(m.group(1))
    found.discard(None)
    found.discard(name)
    return {f for f in found if f is not None}


def import_cycles(src: Path, package: str) -> list[list[str]]:
    """Every set of modules that import each other in a circle (Tarjan's SCCs, size > 1)."""
    modules = module_files(src, package)
    graph = {m: sorted(imports_of(m, p, modules)) for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def long_functions(src: Path, package: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    out = []
    for path in module_files(src, package).values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append(f"{path.relative_to(src)}:{node.lineno} {node.name}: {n} lines")
    return out


def test_no_import_cycles():
    cycles = import_cycles(SRC, "forgetmap")
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_function_over_100_lines():
    too_long = long_functions(SRC, "forgetmap")
    assert not too_long, "split these: " + "; ".join(too_long)


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A made-up package: a <- b at the top, c -> d only inside a function, e names f by string."""
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from toy import b\n",
        "b.py": "X = 1\n",
        "c.py": "def f():\n    from toy.sub import d\n    return d\n",
        "sub/__init__.py": "",
        "sub/d.py": "from .. import c\n",
        "e.py": 'PLUGINS = {"f": "toy.f:run"}\n',
        "f.py": "import toy.e\n\ndef run():\n" + "    x = 1\n" * 120,
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    return tmp_path


def test_checks_catch_lazy_relative_and_string_cycles(toy: Path):
    assert import_cycles(toy, "toy") == [["toy.c", "toy.sub.d"], ["toy.e", "toy.f"]]
    (toy / "toy" / "b.py").write_text("def g():\n    import toy.a\n")
    assert ["toy.a", "toy.b"] in import_cycles(toy, "toy")
    assert long_functions(toy, "toy") == ["toy/f.py:3 run: 121 lines"]


def test_code_cites_docs_in_the_repository():
    """Contracts live in docs/ (records.md, metrics.md, ...), not in a design file outside the
    repository."""
    cited = [
        f"{p.relative_to(SRC)}"
        for p in (SRC / "forgetmap").rglob("*")
        if p.suffix in (".py", ".yaml") and "DESIGN" in p.read_text(encoding="utf-8")
    ]
    assert not cited, f"cite docs/ instead of DESIGN: {cited}"
