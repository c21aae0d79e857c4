"""forgetmap.atomic: a failed writer leaves the old file and no temp file; readers never see a
partial file; forgetmap.letters: exact option-letter helpers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from forgetmap.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from forgetmap.letters import LETTERS, letter, letter_index, option_letters


def test_atomic_write_replaces_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failed_writer_keeps_old_content_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")

    def half_then_crash(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_writer_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        atomic_write(tmp_path / "x", lambda tmp: None)
    assert list(tmp_path.iterdir()) == []


def test_temp_file_is_dot_prefixed_beside_target(tmp_path):
    seen = []
    atomic_write(tmp_path / "f.parquet", lambda tmp: (seen.append(tmp), tmp.write_bytes(b"x")))
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".f.parquet.")


def test_letters():
    assert LETTERS[:4] == "ABCD" and len(LETTERS) == 26
    assert letter(2) == "C" and letter_index("C") == 2
    assert letter_index("AB") is None and letter_index("a") is None and letter_index(None) is None
    assert option_letters(3) == ["A", "B", "C"] and "AB" not in option_letters(4)
    with pytest.raises(IndexError):
        letter(26)


# Writes that are not file outputs of their own: a subprocess log (merge.quantize) and files
# inside a staging directory that is renamed into place whole (merge.mergekit_runner).
DIRECT_WRITES_ALLOWED = {"forgetmap/merge/quantize.py", "forgetmap/merge/mergekit_runner.py"}
_WRITE_CALLS = {"write_text", "write_bytes", "savefig", "write_html", "write_image"}


def _direct_writes(path: Path, rel: str) -> list[str]:
    """File writes in `path` that do not go through forgetmap.atomic: a `write_text`/`savefig`/
    `open(..., "w")` call outside a lambda or local function handed to `atomic_write`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside: set[int] = set()  # ids of nodes within a writer handed to atomic_write
    handed = {
        a.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "").startswith("atomic_write")
        for arg in n.args
        for a in ast.walk(arg)  # `write` or `partial(write, ...)`
        if isinstance(a, ast.Name)
    }
    for n in ast.walk(tree):
        writer = (isinstance(n, ast.Call) and getattr(n.func, "id", "") == "atomic_write") or (
            isinstance(n, ast.FunctionDef) and n.name in handed
        )
        if writer:
            inside.update(id(m) for m in ast.walk(n))
    out = []
    for n in ast.walk(tree):
        if not isinstance(n, ast.Call) or id(n) in inside:
            continue
        name = getattr(n.func, "attr", None) or getattr(n.func, "id", "")
        mode = n.args[1] if len(n.args) > 1 else None
        mode = mode or next((k.value for k in n.keywords if k.arg == "mode"), None)
        writes_mode = (
            name == "open"
            and isinstance(mode, ast.Constant)
            and any(c in str(mode.value) for c in "wax+")
        )
        if name in _WRITE_CALLS or writes_mode:
            out.append(f"{rel}:{n.lineno} {name}")
    return out


def test_every_output_file_is_written_atomically():
    """One atomic write for the package: an output written directly (a figure, a page) is left
    half-written by a crash or a full disk, which the report's readers would take as whole."""
    src = Path(__file__).resolve().parents[1] / "src"
    found = []
    for path in sorted((src / "forgetmap").rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if rel not in DIRECT_WRITES_ALLOWED and rel != "forgetmap/atomic.py":
            found += _direct_writes(path, rel)
    assert not found, f"write these through forgetmap.atomic: {found}"


def test_direct_write_scan_finds_them(tmp_path):
    mod = tmp_path / "m.py"
    mod.write_text(
        "def f(fig, p, page):\n"
        "    fig.savefig(p)\n"  # direct: found
        "    p.write_text(page)\n"  # direct: found
        "    open(p, 'w').close()\n"  # direct: found
        "    atomic_write(p, lambda t: fig.savefig(t, format='png'))\n"  # fine
        "    def write(tmp):\n"
        "        with tmp.open('wb') as fh:\n"  # fine: handed to atomic_write below
        "            fh.write(b'x')\n"
        "    atomic_write(p, write)\n"
        "    atomic_write(p, partial(save, fig))\n"
        "    open(p).read()\n"  # a read: fine
        "def save(fig, path):\n"
        "    fig.savefig(path)\n"  # fine: handed to atomic_write through partial
    )
    assert _direct_writes(mod, "m.py") == ["m.py:2 savefig", "m.py:3 write_text", "m.py:4 open"]
