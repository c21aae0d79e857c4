"""Option letters, the one definition shared by records, suite, importers and report.

A multiple-choice record's `gold` and `pred` are letters: option i (0-based) is `LETTERS[i]`.
"""

from __future__ import annotations

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def letter(index: int) -> str:
    """0 -> 'A'; IndexError outside 0..25."""
    if not 0 <= index < len(LETTERS):
        raise IndexError(f"option index {index} outside 0..{len(LETTERS) - 1}")
    return LETTERS[index]


def letter_index(value: str | None) -> int | None:
    """'C' -> 2; None for anything that is not exactly one option letter."""
    if value is None or len(value) != 1:
        return None
    i = LETTERS.find(value)
    return i if i >= 0 else None


def option_letters(k: int) -> list[str]:
    """The first `k` letters as a list (exact membership tests: `'AB' in option_letters(4)` is
    False, unlike a substring test on LETTERS)."""
    return list(LETTERS[:k])
