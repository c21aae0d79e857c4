"""Helpers of the importer tests: run the CLI, import a log folder, read the records back.

The importer tests check the CLI as a user runs it (`forgetmap import ...`, `forgetmap compare
...`): stderr is matched ignoring whitespace because rich wraps long lines (and paths) anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forgetmap.cli.main import main
from forgetmap.records import RECORD_SCHEMA, ResultsStore


class Err(str):
    """stderr of a CLI call; `in` and `count` ignore whitespace (rich wraps long lines anywhere)."""

    def __contains__(self, part: object) -> bool:
        return "".join(str(part).split()) in "".join(self.split())

    def count(self, part: str, *args: Any) -> int:  # type: ignore[override]
        return "".join(self.split()).count("".join(part.split()))


def run_cli(capsys: Any, *argv: Any) -> tuple[int, Err]:
    """Exit code and stderr of `forgetmap ARGV`."""
    code = main([str(a) for a in argv])
    return code, Err(capsys.readouterr().err)


def import_store(
    capsys: Any, res: Path, tool: str, path: Path, *extra: Any
) -> tuple[ResultsStore, Err]:
    """`forgetmap import TOOL PATH --results RES ...`, which must succeed."""
    code, err = run_cli(capsys, "import", tool, path, "--results", res, *extra)
    assert code == 0, err
    return ResultsStore(res), err


def rows_by_key(store: ResultsStore, model: str) -> dict[tuple, dict]:
    """One model's records by (task, item_id, seed); each key must be unique."""
    t = store.read(models=[model])
    assert t.schema == RECORD_SCHEMA
    rows = {(r["task"], r["item_id"], r["seed"]): r for r in t.to_pylist()}
    assert len(rows) == t.num_rows  # one record per key
    return rows


def compare_pair(capsys: Any, res: Path, before: str, after: str, tmp: Path) -> tuple[dict, Err]:
    """`forgetmap compare` of one pair, read back from its --json output."""
    out = tmp / "cmp.json"
    code, err = run_cli(capsys, "compare", "--results", res, "--before", before, "--after", after,
                        "--json", out, "--bootstrap", "50")  # fmt: skip
    assert code == 0, err
    return json.loads(out.read_text())["pairs"][0], err
