"""The layering of docs/architecture.md holds: lower layers never import higher ones, and the
analysis/report path runs without torch (checked in a fresh interpreter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "forgetmap"

LAYER = {
    "errors": 0,
    "atomic": 0,
    "letters": 0,
    "redact": 0,
    "records": 1,
    "metrics": 2,
    "suite": 3,
    "importers": 3,
    "engine": 4,
    "analysis": 5,
    "report": 5,
    "merge": 5,
    "study": 5,
    "track": 5,
    "integrations": 5,
    "cli": 6,
}
HEAVY = ("torch", "transformers", "llama_cpp", "vllm", "ray", "mergekit", "peft")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at_top_level) for every forgetmap/heavy import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        out.extend((n, id(node) in top) for n in names)
    return out


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).parts
        pkg = rel[0].removesuffix(".py")
        if pkg in LAYER:
            yield pkg, path


@pytest.mark.parametrize(("pkg", "path"), list(_modules()), ids=lambda v: str(v))
def test_no_upward_imports_and_heavy_deps_lazy(pkg: str, path: Path) -> None:
    for name, at_top in _imports(path):
        parts = name.split(".")
        if parts[0] == "forgetmap" and len(parts) > 1 and parts[1] in LAYER:
            assert LAYER[parts[1]] <= LAYER[pkg], (
                f"{path.relative_to(SRC)} (layer {pkg}) imports higher layer {name}"
            )
        if parts[0] in HEAVY:
            assert not at_top, f"{path.relative_to(SRC)} imports {name} at module level"


def test_analysis_and_report_path_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "import forgetmap.cli.main, forgetmap.analysis.compare, forgetmap.report.build\n"
        "import forgetmap.importers\n"
        f"bad = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
