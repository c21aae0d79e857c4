"""The per-sample record schema: one row per (model, task, item_id, seed).

Column names in CONTRACT_COLUMNS are a public contract (docs/records.md): add columns, never
rename these. Everything that produces records (engine, importers) passes its table through
`conform`, so every Parquet file in a results directory has exactly RECORD_SCHEMA.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from forgetmap.errors import SchemaError
from forgetmap.letters import letter
from forgetmap.records.identity import content_hashes
from forgetmap.records.names import bad_name_reason

CONTRACT_FIELDS: list[pa.Field] = [
    pa.field("model", pa.string(), nullable=False),
    pa.field("task", pa.string(), nullable=False),
    pa.field("item_id", pa.string(), nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
    pa.field("n_choices", pa.int32()),
    pa.field("gold", pa.string()),
    pa.field("pred", pa.string()),
    pa.field("extract_status", pa.string()),
    pa.field("correct", pa.bool_(), nullable=False),
    pa.field("response", pa.string()),
    pa.field("prompt_hash", pa.string()),
    pa.field("elicitation", pa.string()),
    pa.field("category", pa.string()),
]

# Added columns (free to extend): which extraction rule fired, question text and options for
# report drill-downs, token counts and the run the row came from.
EXTRA_FIELDS: list[pa.Field] = [
    pa.field("extract_rule", pa.string()),
    pa.field("question", pa.string()),
    pa.field("choices", pa.list_(pa.string())),
    pa.field("n_tokens_in", pa.int32()),
    pa.field("n_tokens_out", pa.int32()),
    pa.field("finish_reason", pa.string()),
    pa.field("run_id", pa.string()),
    # fingerprints of the item's question and option texts (records.identity; filled by conform)
    pa.field("question_hash", pa.string()),
    pa.field("options_hash", pa.string()),
]

RECORD_SCHEMA = pa.schema(CONTRACT_FIELDS + EXTRA_FIELDS)
CONTRACT_COLUMNS: tuple[str, ...] = tuple(f.name for f in CONTRACT_FIELDS)
# What analysis cannot do without; everything else may be null.
REQUIRED_COLUMNS: tuple[str, ...] = ("model", "task", "item_id", "seed", "correct")
KEY_COLUMNS: tuple[str, ...] = ("model", "task", "item_id", "seed")

EXTRACT_STATUSES = ("ok", "no_answer", "invalid")
ELICITATIONS = ("cot_chat", "cot_fewshot", "loglik")


def generation_elicitation(chat_template: bool) -> str:
    """How a generating model is asked by default, in evaluation and in imported logs alike:
    through its chat template when it has one (`cot_chat`), else as few-shot text."""
    return "cot_chat" if chat_template else "cot_fewshot"


def model_slug(model: str) -> str:
    """A readable file name for a model id (`Qwen/Qwen2.5-7B` -> `Qwen__Qwen2.5-7B`); not
    injective (`org/m` and `org__m` share it): results directories use `model_dir_name`."""
    return model.replace("/", "__").replace("\\", "__").replace(":", "_")


def conform(
    table: pa.Table,
    source: str = "<table>",
    required: tuple[str, ...] = REQUIRED_COLUMNS,
) -> pa.Table:
    """Cast `table` to RECORD_SCHEMA: check required columns, cast types, add missing ones as null.

    Unknown extra columns are dropped only after the contract ones are taken; a bad type raises
    SchemaError naming `source` and the column, never a raw Arrow error.
    """
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise SchemaError(
            f"{source}: missing required column(s) {', '.join(missing)} "
            f"(has: {', '.join(table.column_names) or 'no columns'})"
        )
    n = table.num_rows
    arrays = []
    for field in RECORD_SCHEMA:
        if field.name not in table.column_names:
            arrays.append(pa.nulls(n, field.type))
            continue
        col = table.column(field.name)
        arrays.append(_cast_column(col, field, source))
    out = pa.Table.from_arrays(arrays, schema=RECORD_SCHEMA.remove_metadata())
    for name in ("model", "task", "item_id", "seed", "correct"):
        nulls = out.column(name).null_count
        if nulls:
            idx = pc.index(pc.is_null(out.column(name)), True).as_py()
            raise SchemaError(
                f"{source}: column '{name}' has {nulls} empty value(s) (first at row {idx})"
            )
    _check_model_names(out.column("model"), source)
    _check_gold_letters(out, source)
    return _with_content_hashes(out).cast(RECORD_SCHEMA)


def _with_content_hashes(t: pa.Table) -> pa.Table:
    """Fill question_hash / options_hash where missing and the texts are there."""
    need = [
        (c, src)
        for c, src in (("question_hash", "question"), ("options_hash", "choices"))
        if t.column(c).null_count > t.column(src).null_count
    ]
    if not need:
        return t
    hashes = content_hashes(t.column("question"), t.column("choices"))
    for c, _ in need:
        i = t.schema.get_field_index(c)
        t = t.set_column(i, c, pc.coalesce(t.column(c), hashes[c]))
    return t


def _check_model_names(col: pa.ChunkedArray, source: str) -> None:
    """Model names become directory names: empty ones and control characters are refused."""
    for name in pc.unique(col).to_pylist():
        reason = bad_name_reason(name)
        if reason:
            idx = pc.index(col, name).as_py()
            raise SchemaError(f"{source}: column 'model' row {idx}: model name {name!r} {reason}")


def _check_gold_letters(t: pa.Table, source: str) -> None:
    """A multiple-choice gold (k > 0) is option letters within the item's k: 'Z' with k=4 is a
    broken row, not an answer nobody can give. Several letters ('AC') mark several correct options
    (SALAD-Bench MRQ). Free-form items (k null or 0) keep any gold."""
    k, gold = t.column("n_choices"), t.column("gold")
    mc = pc.and_(pc.fill_null(pc.greater(k, 0), False), pc.is_valid(gold))
    if not pc.any(mc).as_py():
        return
    bad = pa.array([False] * t.num_rows)
    for kv in pc.unique(pc.filter(k, mc)).to_pylist():
        last = letter(min(kv, 26) - 1)
        ok = pc.match_substring_regex(gold, f"^[A-{last}]+$")
        rows = pc.and_(mc, pc.equal(k, kv))
        bad = pc.or_(bad, pc.and_(rows, pc.invert(pc.fill_null(ok, False))))
    if pc.any(bad).as_py():
        i = pc.index(bad, True).as_py()
        kv = k[i].as_py()
        raise SchemaError(
            f"{source}: column 'gold' row {i}: {gold[i].as_py()!r} is not an option letter of an "
            f"item with {kv} option{'s' if kv != 1 else ''} (A-{letter(min(kv, 26) - 1)})"
        )


def _cast_column(col: pa.ChunkedArray, field: pa.Field, source: str) -> pa.ChunkedArray:
    if col.type == field.type:
        return col
    target = field.type
    try:
        if pa.types.is_boolean(target) and (
            pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        ):
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(col))
            ok = pc.is_in(lowered, pa.array(["true", "false", "1", "0", "yes", "no"]))
            if not pc.all(pc.or_kleene(ok, pc.is_null(lowered))).as_py():
                bad = pc.filter(col, pc.invert(pc.fill_null(ok, True)))[0].as_py()
                raise SchemaError(
                    f"{source}: column '{field.name}' must be boolean (true/false/1/0), got {bad!r}"
                )
            return _str_to_bool(lowered)
        if pa.types.is_boolean(target) and (
            pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        ):
            ok = pc.fill_null(pc.is_in(col, pa.array([0, 1], col.type)), True)
            if not pc.all(ok).as_py():
                i = pc.index(ok, False).as_py()
                raise SchemaError(
                    f"{source}: column '{field.name}' row {i}: {col[i].as_py()!r} is not a "
                    "boolean (true/false/1/0)"
                )
            return pc.cast(col, target)
        if pa.types.is_string(target) and not (
            pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        ):
            if pa.types.is_floating(col.type):
                # 3.0 -> "3", keeping integers written as floats (pandas NaN-coerced) readable
                as_int = pc.cast(col, pa.int64(), safe=False)
                if pc.all(pc.equal(pc.cast(as_int, col.type), col)).as_py() in (True, None):
                    return pc.cast(as_int, pa.string())
            return pc.cast(col, pa.string())
        if pa.types.is_integer(target) and pa.types.is_floating(col.type):
            return pc.cast(col, target, safe=True)
        return pc.cast(col, target)
    except SchemaError:
        raise
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaError(
            f"{source}: column '{field.name}' has type {col.type}, expected {target}: {exc}"
        ) from None


def _str_to_bool(lowered: pa.ChunkedArray) -> pa.ChunkedArray:
    truthy = pc.is_in(lowered, pa.array(["true", "1", "yes"]))
    return pc.if_else(pc.is_null(lowered), pa.scalar(None, pa.bool_()), truthy)
