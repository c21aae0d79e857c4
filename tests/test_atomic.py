"""forgetmap.atomic: a failed writer leaves the old file and no temp file; readers never see a
partial file; forgetmap.letters: exact option-letter helpers."""

from __future__ import annotations

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
