"""Item-level drill-down: the items that flipped between two models, with both answers."""

from __future__ import annotations

import pyarrow as pa

from forgetmap.analysis.pairing import fetch_arrow
from forgetmap.errors import ForgetmapError
from forgetmap.records import RECORD_SCHEMA, ResultsStore, conform

_SQL = """
SELECT b.task, b.item_id, b.seed,
       coalesce(b.category, a.category) AS category,
       CASE WHEN b.correct THEN '1->0' ELSE '0->1' END AS flip,
       coalesce(b.n_choices, a.n_choices) AS n_choices,
       b.gold,
       b.pred AS pred_before, a.pred AS pred_after,
       b.extract_status AS status_before, a.extract_status AS status_after,
       b.response AS response_before, a.response AS response_after,
       coalesce(b.question, a.question) AS question
FROM records b
JOIN records a ON a.task = b.task AND a.item_id = b.item_id AND a.seed = b.seed
WHERE b.model = $before AND a.model = $after AND b.correct <> a.correct
ORDER BY b.task, b.item_id, b.seed
"""


def flipped_items(source: ResultsStore | pa.Table, before: str, after: str) -> pa.Table:
    """Every paired (task, item_id, seed) whose correctness changed from `before` to `after`.

    Columns: task, item_id, seed, category, flip ('1->0' forgotten, '0->1' gained), n_choices,
    gold, pred_before/after, status_before/after, response_before/after, question.
    """
    if isinstance(source, ResultsStore):
        source._check_models([before, after])
        con = source.duckdb([before, after])
    elif isinstance(source, pa.Table):
        import duckdb

        table = source if source.schema == RECORD_SCHEMA else conform(source, "<table>")
        known = set(table.column("model").unique().to_pylist())
        missing = [m for m in (before, after) if m not in known]
        if missing:
            raise ForgetmapError(
                f"model(s) {', '.join(map(repr, missing))} not found in the records; "
                f"known models: {', '.join(sorted(known)) or 'none'}"
            )
        con = duckdb.connect()
        con.register("records", table)
    else:
        raise TypeError(f"expected a ResultsStore or a pyarrow Table, got {type(source).__name__}")
    try:
        return fetch_arrow(con, _SQL, {"before": before, "after": after})
    finally:
        con.close()
