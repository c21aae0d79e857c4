"""What every importer shares: finding log files, strict JSON readers, the run they produce.

Each importer turns one tool's per-sample logs into `ImportedRun`s: a records table already passed
through `forgetmap.records.conform`, plus the run manifest (tool, version, source files, sampling
config). Errors name the file (and line or field) so the user knows what to fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from forgetmap.errors import DataError, ForgetmapError
from forgetmap.letters import LETTERS
from forgetmap.records import conform
from forgetmap.records.schema import generation_elicitation


@dataclass
class ImportedRun:
    """One imported run: records of one model (one seed/config), ready for `ResultsStore.append`.

    `notes` are things the user should know about this run (an unseeded run labelled seed 0, a
    companion file that was missing); the CLI prints them with the import summary."""

    model: str
    run_id: str
    table: pa.Table
    manifest: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    """A log (file or run folder) that was not imported, and why."""

    source: str
    reason: str


class ImportBatch(list):  # list[ImportedRun]
    """What one import call produced: the runs (the list itself) plus the logs it refused.

    A folder with one bad log among good ones imports the good ones and lists the bad one here;
    callers that only need the runs use it as a plain list."""

    def __init__(self, runs: Iterable[ImportedRun] = (), refused: Iterable[Refused] = ()):
        super().__init__(runs)
        self.refused: list[Refused] = list(refused)


def collect_runs(
    units: Sequence[Any],
    convert: Callable[[Any], list[ImportedRun]],
    name: Callable[[Any], str],
    strict: bool = False,
) -> ImportBatch:
    """Convert each unit (a log file or a run folder) on its own: one that fails is refused with
    its one-line reason instead of aborting the others. With `strict`, the first failure raises.
    Nothing importable raises: the one reason itself when there was a single log, else a line
    listing every refused log with its reason."""
    runs: list[ImportedRun] = []
    refused: list[Refused] = []
    first: ForgetmapError | None = None
    for unit in units:
        try:
            runs.extend(convert(unit))
        except ForgetmapError as exc:
            if strict:
                raise
            first = first or exc
            refused.append(Refused(name(unit), str(exc)))
    if not runs and refused:
        if len(refused) == 1 and first is not None:
            raise first
        listing = "; ".join(f"{r.source}: {r.reason}" for r in refused)
        raise ForgetmapError(f"nothing importable: {len(refused)} logs refused ({listing})")
    return ImportBatch(runs, refused)


# ---------------------------------------------------------------- seed labels
# One scheme for every importer (docs/importers.md, "Seed labels"): the record's `seed` is
#     label = repeat * SEED_BASE + sampling_seed      (0 <= sampling_seed < SEED_BASE)
# where `repeat` is the 0-based index of a repeated sample of the same item within one run
# (lm-eval `repeats`, inspect epoch - 1, lighteval's n samples, OpenCompass `n`, HELM trial).
# A run with one sample per item keeps its seed as the label. The same command on two models
# gives the same labels (so they pair); two different sampling seeds or two different repeats
# never share a label. A run that records no sampling seed is labelled as seed 0 (and says so).
SEED_BASE = 10**10


def seed_label(seed: int, repeat: int = 0, where: str = "") -> int:
    """The record `seed` of repeat `repeat` of a run sampled with `seed`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_BASE:
        raise DataError(
            f"{where + ': ' if where else ''}sampling seed {seed!r} is outside 0..{SEED_BASE - 1}, "
            "which the seed labels need (docs/importers.md); pass --seed N to label this run"
        )
    if repeat < 0:
        raise DataError(f"{where + ': ' if where else ''}negative repeat index {repeat}")
    return repeat * SEED_BASE + seed


def split_seed_label(label: int) -> tuple[int, int]:
    """(sampling seed, repeat index) of a record `seed` made by `seed_label`."""
    return label % SEED_BASE, label // SEED_BASE


def describe_seeds(labels: Iterable[int]) -> str:
    """Seed labels in words: `7, 8` or `7 (repeats 0-1)`, for summaries and messages."""
    by_seed: dict[int, list[int]] = {}
    for lab in sorted(set(labels)):
        s, r = split_seed_label(int(lab))
        by_seed.setdefault(s, []).append(r)
    parts = []
    for s, reps in by_seed.items():
        if reps == [0]:
            parts.append(str(s))
        elif reps == list(range(reps[0], reps[-1] + 1)):
            parts.append(f"{s} (repeats {reps[0]}-{reps[-1]})")
        else:
            parts.append(f"{s} (repeats {','.join(map(str, reps))})")
    return ", ".join(parts) or "none"


def resolve_seed(
    override: int | None, recorded: Any, source: str, where: str
) -> tuple[int, str, list[str]]:
    """(sampling seed, where it came from, notes): `--seed` wins, then the log's recorded seed;
    a run without one is labelled 0, with a note (the same rule for every importer)."""
    if override is not None:
        return int(override), "--seed", []
    if recorded is None or recorded == "":
        return (
            0,
            "none recorded (labelled 0)",
            [
                f"{where}: the log records no sampling seed; labelled as seed 0 "
                "(pass --seed N to label it otherwise)"
            ],
        )
    try:
        value = int(recorded)
    except (TypeError, ValueError):
        raise DataError(f"{where}: unreadable sampling seed {recorded!r} in {source}") from None
    return value, source, []


# ---------------------------------------------------------------- extract_rule of imported rows
# An imported row's `extract_rule` is `<tool>:<origin>:<scorer>`: origin says where `pred` came
# from (`logged`: the tool's own extracted answer; `regex`: the run's own regex filter, re-applied
# by forgetmap to a repeat the tool did not log; `argmax`: the highest logged option
# loglikelihood; `forgetmap.<rule>`: forgetmap's extractor and the rule that fired); scorer is
# the filter / metric / scorer the tool used for that task (may itself contain ':').
TOOLS = ("lm-eval", "lighteval", "inspect", "opencompass", "helm")


def rule(tool: str, origin: str, scorer: str) -> str:
    """The extract_rule of an imported row (':' inside origin, e.g. a forgetmap rule with a
    qualifier such as `lone_letter:index`, becomes '.', so the three parts stay apart)."""
    return f"{tool}:{origin.replace(':', '.')}:{scorer}"


def forgetmap_origin(extract_rule: str | None) -> str:
    """The origin token of a row scored by forgetmap's extractor (`forgetmap.<rule>`)."""
    return "forgetmap." + (extract_rule or "none").replace(":", ".")


def scorer_key(extract_rule: str | None) -> str:
    """What decided a row's pred/correct, for comparing two sides of a task: `<tool>:<origin
    kind>:<scorer>` for imported rows (the forgetmap rule name dropped), `forgetmap` for rows
    that forgetmap's extractor scored (its own runs, --reextract)."""
    if not extract_rule:
        return "forgetmap"
    tool, sep, rest = extract_rule.partition(":")
    if not sep or tool not in TOOLS:
        return "forgetmap"
    origin, sep, scorer = rest.partition(":")
    if origin.startswith("forgetmap."):
        origin = "forgetmap"
    return f"{tool}:{origin}:{scorer}" if sep else f"{tool}:{rest}"


def find_logs(path: str | Path, patterns: Sequence[str], tool: str) -> list[Path]:
    """PATH itself when it is a file, else every file under it matching one of `patterns`."""
    p = Path(path)
    if not p.exists():
        raise ForgetmapError(f"{p}: no such file or directory")
    if p.is_file():
        return [p]
    found = sorted({f for pat in patterns for f in p.rglob(pat) if f.is_file()})
    found = [f for f in found if not any(part.startswith(".") for part in f.relative_to(p).parts)]
    if not found:
        raise ForgetmapError(f"no {tool} logs found under {p} (looked for {', '.join(patterns)})")
    return found


def read_json(path: Path) -> Any:
    """Parse one JSON file; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}:{exc.lineno}: malformed JSON ({exc.msg}, column {exc.colno})"
        ) from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line raises naming file:line."""
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: malformed JSON line ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(
                    f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}"
                )
            yield lineno, obj


def need(obj: dict[str, Any], key: str, where: str) -> Any:
    """obj[key], or a DataError naming where the field is missing."""
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{where}: missing field '{key}'")
    return obj[key]


def letter(index: Any, where: str) -> str:
    """0 -> 'A'; a gold/pred option index as the record's letter."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(LETTERS):
        raise DataError(f"{where}: option index {index!r} is not an integer in 0..25")
    return LETTERS[index]


def text_hash(parts: Iterable[Any]) -> str:
    """Short stable hash of a prompt (string or JSON-able), to detect changed prompts."""
    h = hashlib.sha256()
    for p in parts:
        h.update((p if isinstance(p, str) else json.dumps(p, sort_keys=True, default=str)).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def hash_rows(columns: list[pa.Array | pa.ChunkedArray]) -> pa.Array:
    """Vectorised `text_hash` over rows (DuckDB md5): strings, or lists of strings joined with
    \\x01; parts separated by \\x00. Used for item ids where a log has no native id."""
    import duckdb

    names = [f"c{i}" for i in range(len(columns))]
    tbl = pa.table(dict(zip(names, columns, strict=True)))
    parts = []
    for name, col in zip(names, columns, strict=True):
        is_list = pa.types.is_list(col.type) or pa.types.is_large_list(col.type)
        expr = f"array_to_string({name}, chr(1))" if is_list else f"CAST({name} AS VARCHAR)"
        parts.append(f"coalesce({expr}, '')")
    sql = f"SELECT substr(md5({' || chr(0) || '.join(parts)}), 1, 16) AS h FROM tbl"
    con = duckdb.connect()
    try:
        con.register("tbl", tbl)
        rel = con.sql(sql)
        fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # duckdb 2.x / 1.x
        out = fetch()
        if isinstance(out, pa.RecordBatchReader):
            out = out.read_all()
        return out.column("h").combine_chunks()
    finally:
        con.close()


def file_digest(paths: Iterable[Path]) -> str:
    """Content hash of source files: the deterministic run id of an import (re-import = same id)."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:12]


def slug_run(text: str) -> str:
    """A file-system-safe run id fragment."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", text).strip("-")[:120] or "run"


def elicitation_for(loglik: bool, chat_template: bool | None) -> str | None:
    """Imported logs: loglikelihood scoring -> `loglik`; generation -> `cot_chat` with a chat
    template, `cot_fewshot` without; None when the log does not say."""
    if loglik:
        return "loglik"
    if chat_template is None:
        return None
    return generation_elicitation(chat_template)


def to_records(columns: dict[str, list[Any] | pa.Array], source: str) -> pa.Table:
    """Build a records table from per-column lists and conform it (errors name `source`)."""
    n = {len(v) for v in columns.values()}
    if len(n) > 1:  # programming error, not user error
        raise AssertionError(
            f"ragged columns for {source}: { {k: len(v) for k, v in columns.items()} }"
        )
    arrays = {}
    for name, values in columns.items():
        if isinstance(values, pa.Array | pa.ChunkedArray):
            arrays[name] = values
        elif name == "choices":
            arrays[name] = pa.array(values, type=pa.list_(pa.string()))
        else:
            arrays[name] = pa.array(values)
    return conform(pa.table(arrays), source=source)


def predicted_index(scores: list[list[float]]) -> list[int | None]:
    """Argmax of each row's per-option scores (first max wins, as the tools do)."""
    out: list[int | None] = []
    for row in scores:
        if not row:
            out.append(None)
            continue
        best = max(range(len(row)), key=lambda i: (row[i], -i))
        out.append(best)
    return out
