"""The public façade: `import forgetmap` is lazy (no torch, no Arrow), exposes the documented
names, and the README's "Python API" script runs as written on real lm-eval logs."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import forgetmap

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "importers" / "lm_eval" / "seed0"


def test_import_is_lazy_and_light():
    code = (
        "import forgetmap, sys\n"
        "forgetmap.compare; forgetmap.evaluate; forgetmap.build_report; forgetmap.run_study\n"
        "assert 'torch' not in sys.modules, 'torch'\n"
        "assert 'transformers' not in sys.modules and 'vllm' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    bare = (
        "import forgetmap, sys; assert 'pyarrow' not in sys.modules and 'numpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", bare], check=True)


def test_public_names():
    assert sorted(forgetmap.__all__) == sorted(["__version__", *forgetmap._EXPORTS])
    for name in forgetmap._EXPORTS:
        obj = getattr(forgetmap, name)
        assert obj.__doc__, f"forgetmap.{name} has no docstring"
    assert forgetmap.compare is importlib.import_module("forgetmap.analysis.compare").compare
    assert "compare" in dir(forgetmap)
    try:
        forgetmap.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("unknown attribute did not raise")


def readme_script() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_api_script_runs(tmp_path):
    shutil.copytree(FIX / "models__gemma3-270m", tmp_path / "logs" / "base")
    shutil.copytree(FIX / "models__smollm2-135m-instruct", tmp_path / "logs" / "instruct")
    script = tmp_path / "api.py"
    script.write_text(readme_script())
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    pair = cmp["pairs"][0]
    assert (pair["before"], pair["after"]) == ("base", "instruct") and pair["n_paired"] > 0
    for name, cat in pair["categories"].items():
        assert f"{name}: F_true {cat['F_true']['mean']:.3f}" in done.stdout
    assert "flipped items (1->0 and 0->1):" in done.stdout
    assert (tmp_path / "report" / "report.html").is_file()
    assert (tmp_path / "report" / "tables" / "forgetting.md").is_file()
