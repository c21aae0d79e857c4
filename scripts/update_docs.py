"""Rewrite the generated sections of the docs (`make docs`): the extraction rule reference in
docs/extraction.md comes from `forgetmap.suite.extract.RULE_TABLE`.

    python scripts/update_docs.py [--check]

`--check` changes nothing and exits 1 when a section is stale (tests check the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from forgetmap.suite.extract import DOCS_BEGIN, DOCS_END, rules_markdown

ROOT = Path(__file__).resolve().parents[1]


def _rewrite(path: Path, body: str, check: bool) -> bool:
    """Replace the text between the markers; returns whether it was already current."""
    text = path.read_text(encoding="utf-8")
    if text.count(DOCS_BEGIN) != 1 or text.count(DOCS_END) != 1:
        raise SystemExit(f"{path}: needs exactly one {DOCS_BEGIN!r} and one {DOCS_END!r}")
    head, rest = text.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    new = f"{head}{DOCS_BEGIN}\n\n{body}\n{DOCS_END}{tail}"
    if new == text:
        return True
    if not check:
        path.write_text(new, encoding="utf-8")
        print(f"updated {path.relative_to(ROOT)}")
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a section is stale")
    args = ap.parse_args(argv)
    current = _rewrite(ROOT / "docs" / "extraction.md", rules_markdown(), args.check)
    if args.check and not current:
        print("docs/extraction.md is stale: run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
